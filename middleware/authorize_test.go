package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/middleware"
)

func TestRequireHelpers(t *testing.T) {
	m := newMiddleware(t, middleware.Config{})
	orgFromPath := func(r *http.Request) string { return r.PathValue("org") }
	for _, tc := range []struct {
		name      string
		guard     func(http.Handler) http.Handler
		token     string
		want      int
		challenge string
	}{
		{"scopes allow", m.RequireScopes("read:venues", "book:venues"), "alice", 200, ""},
		{"scopes deny", m.RequireScopes("read:venues", "book:venues"), "partner", 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="read:venues book:venues"`},
		{"any scope allow", m.RequireAnyScope("book:venues", "read:venues"), "worker", 200, ""},
		{"any scope deny", m.RequireAnyScope("book:venues", "manage:venues"), "worker", 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the access token has none of the accepted scopes", scope="book:venues manage:venues"`},
		{"permissions allow", m.RequirePermissions("book:venues"), "alice", 200, ""},
		{"permissions deny", m.RequirePermissions("book:venues"), "partner", 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required permission"`},
		{"org allow", m.RequireOrganization(orgFromPath), "alice", 200, ""},
		{"org deny: another tenant", m.RequireOrganization(orgFromPath), "partner", 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the access token is not for this organization"`},
		{"org deny: token without org", m.RequireOrganization(orgFromPath), "worker", 403, ""},
		{"org deny: empty org in request", m.RequireOrganization(func(*http.Request) string { return "" }), "alice", 403, ""},
		{"kind allow user", m.RequireKind(claims.KindUser, claims.KindDelegated), "alice", 200, ""},
		{"kind allow delegated", m.RequireKind(claims.KindUser, claims.KindDelegated), "partner", 200, ""},
		{"kind deny machine", m.RequireKind(claims.KindUser, claims.KindDelegated), "worker", 403,
			`Bearer realm="api", error="insufficient_scope", error_description="this kind of caller may not make this request"`},
		{"partners allow listed", m.RequirePartners("partner-app"), "partner", 200, ""},
		{"partners deny unlisted", m.RequirePartners("other-partner"), "partner", 403,
			`Bearer realm="api", error="insufficient_scope", error_description="this partner app may not make this request"`},
		{"partners ignore users", m.RequirePartners(), "alice", 200, ""},
		{"audience allow one of several", m.RequireAudience("https://other.example", "https://api.venue.example"), "alice", 200, ""},
		{"audience deny", m.RequireAudience("https://other.example"), "alice", 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the access token is not for this API"`},
		{"audience deny: token without aud", m.RequireAudience("https://api.venue.example"), "worker", 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle("/orgs/{org}/x", m.Handler(tc.guard(whoami)))
			r := httptest.NewRequest(http.MethodGet, "/orgs/org_acme/x", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			got := serve(t, mux, r)
			if got.status != tc.want {
				t.Fatalf("status = %d, want %d (%+v)", got.status, tc.want, got)
			}
			if tc.challenge != "" && got.challenge != tc.challenge {
				t.Errorf("challenge = %s\nwant        %s", got.challenge, tc.challenge)
			}
		})
	}
}

// A helper used without Handler in front (or after an Optional pass) has no
// Principal to check: it asks for credentials.
func TestRequireWithoutPrincipal(t *testing.T) {
	m := newMiddleware(t, middleware.Config{Optional: true})
	h := m.Handler(m.RequireScopes("read:venues")(whoami))
	got := serve(t, h, get())
	if got.status != 401 || got.challenge != `Bearer realm="api"` {
		t.Fatalf("got %+v", got)
	}
}

// tableIntegrations is an IntegrationChecker from a fixed table: the integrations
// package tests the real one.
type tableIntegrations struct {
	enabled map[[3]string]bool
	err     error
	asked   int
}

func (c *tableIntegrations) IntegrationEnabled(_ context.Context, subject, clientID, orgID string) (bool, error) {
	c.asked++
	return c.enabled[[3]string{subject, clientID, orgID}], c.err
}

// TestRequireIntegration: a partner passes only with the user's integration
// for the token's organization; users and machines are not asked about; a
// checker that fails is 503 with its Retry-After.
func TestRequireIntegration(t *testing.T) {
	m := newMiddleware(t, middleware.Config{})
	for _, tc := range []struct {
		name, token string
		checker     *tableIntegrations
		want        int
		asked       int
		retryAfter  string
	}{
		{"enabled", "partner", &tableIntegrations{enabled: map[[3]string]bool{{"auth0|bob", "partner-app", "org_globex"}: true}}, 200, 1, ""},
		{"not enabled", "partner", &tableIntegrations{}, 403, 1, ""},
		{"enabled for another organization", "partner", &tableIntegrations{enabled: map[[3]string]bool{{"auth0|bob", "partner-app", "org_acme"}: true}}, 403, 1, ""},
		{"enabled for another partner", "partner", &tableIntegrations{enabled: map[[3]string]bool{{"auth0|bob", "other-app", "org_globex"}: true}}, 403, 1, ""},
		{"checker down", "partner", &tableIntegrations{err: &claims.RetryError{After: 7 * time.Second, Err: errors.New("db down")}}, 503, 1, "7"},
		{"user", "alice", &tableIntegrations{}, 200, 0, ""},
		{"machine", "worker", &tableIntegrations{}, 200, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/venues", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			rec := httptest.NewRecorder()
			m.Handler(m.RequireIntegration(tc.checker)(whoami)).ServeHTTP(rec, r)
			if rec.Code != tc.want || tc.checker.asked != tc.asked || rec.Header().Get("Retry-After") != tc.retryAfter {
				t.Fatalf("%d (asked %d, Retry-After %q) %s; want %d, asked %d", rec.Code, tc.checker.asked,
					rec.Header().Get("Retry-After"), rec.Body, tc.want, tc.asked)
			}
			if tc.want == 403 {
				want := `Bearer realm="api", error="insufficient_scope", error_description="the user has not enabled this partner app"`
				if got := rec.Header().Get("WWW-Authenticate"); got != want {
					t.Errorf("challenge = %s", got)
				}
			}
		})
	}
}
