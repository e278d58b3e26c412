package auth0mgmt_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/auth0mgmt"
)

// tenant is the demo tenant with a machine client for the Management API.
func tenant(scopes ...string) idptest.Config {
	c := idptest.Demo()
	c.Clients = append(c.Clients, idptest.Client{ID: "admin", Secret: "admin-secret", Kind: idptest.ClientMachine,
		Grants: []string{"client_credentials"}, ManagementScopes: scopes})
	return c
}

func newClient(t *testing.T, idp *idptest.Server, cfg auth0mgmt.Config) *auth0mgmt.Client {
	t.Helper()
	cfg.Domain, cfg.ClientID, cfg.ClientSecret = idp.Issuer(), "admin", "admin-secret"
	c, err := auth0mgmt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// partnerRefreshToken logs username in to partner-app by authorization
// code (which records the user's grant) and returns its refresh token.
func partnerRefreshToken(t *testing.T, idp *idptest.Server, username string) string {
	t.Helper()
	code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: username,
		Audience: idptest.DemoAPI, Scopes: []string{"offline_access", "read:venues"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(idp.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"client_id": {"partner-app"}, "client_secret": {"partner-app-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %d %v", resp.StatusCode, err)
	}
	return tok.RefreshToken
}

// TestGrants: a user's grant to a partner is listed, and deleting it
// revokes the partner's refresh tokens for that user — not the others'.
func TestGrants(t *testing.T) {
	idp := idptest.Start(t, tenant("read:grants", "delete:grants"))
	c := newClient(t, idp, auth0mgmt.Config{})
	ctx := context.Background()
	alice, bob := partnerRefreshToken(t, idp, "alice"), partnerRefreshToken(t, idp, "bob")
	gs, err := c.Grants(ctx, "auth0|alice", "partner-app")
	if err != nil || len(gs) != 1 || gs[0].UserID != "auth0|alice" || gs[0].ClientID != "partner-app" || gs[0].Audience != idptest.DemoAPI {
		t.Fatalf("Grants: %+v, %v", gs, err)
	}
	if err := c.DeleteGrant(ctx, gs[0].ID); err != nil {
		t.Fatal(err)
	}
	if st := idp.RefreshTokenState(alice); st != idptest.RefreshRevoked {
		t.Errorf("alice's partner refresh token: %v, want revoked", st)
	}
	if st := idp.RefreshTokenState(bob); st != idptest.RefreshActive {
		t.Errorf("bob's partner refresh token: %v, want active", st)
	}
	if gs, err := c.Grants(ctx, "auth0|alice", "partner-app"); err != nil || len(gs) != 0 {
		t.Errorf("Grants after the delete: %+v, %v", gs, err)
	}
	if err := c.DeleteGrant(ctx, "cgr_unknown"); err != nil {
		t.Errorf("DeleteGrant of an unknown id: %v", err)
	}
	if n := idp.Calls(idptest.EndpointToken); n != 3 {
		t.Errorf("%d token requests (two code exchanges and one management token), want 3", n)
	}
}

// TestRefusals: 404 is ErrNotFound; a client without the scope, a failing
// API and a rate limit past the retries are unavailable, never a token in
// the error.
func TestRefusals(t *testing.T) {
	idp := idptest.Start(t, tenant("read:users"))
	c := newClient(t, idp, auth0mgmt.Config{MaxRetries: 1, MaxRetryWait: 3 * time.Second})
	ctx := context.Background()
	if _, err := c.Do(ctx, http.MethodGet, "/users/"+url.PathEscape("auth0|nobody"), nil); !errors.Is(err, auth0mgmt.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	_, err := c.Grants(ctx, "auth0|alice", "partner-app")
	if !errors.Is(err, claims.ErrUnavailable) || strings.Contains(err.Error(), "alice") {
		t.Errorf("without read:grants: %v, want unavailable naming nobody", err)
	}
	idp.SetRateLimit(idptest.EndpointManagement, 1, time.Hour)
	_, _ = c.Do(ctx, http.MethodGet, "/users/"+url.PathEscape("auth0|alice"), nil)
	_, err = c.Do(ctx, http.MethodGet, "/users/"+url.PathEscape("auth0|alice"), nil)
	var re *claims.RetryError
	if !errors.As(err, &re) || re.After < time.Minute {
		t.Errorf("rate limited for an hour: %v, want a RetryError without waiting", err)
	}
	idp.SetRateLimit(idptest.EndpointManagement, 0, 0)
	idp.SetFault(idptest.EndpointManagement, idptest.FaultError)
	if _, err := c.Do(ctx, http.MethodGet, "/users/x", nil); !errors.Is(err, claims.ErrUnavailable) {
		t.Errorf("a failing API: %v, want unavailable", err)
	}
}

// TestRetriesRateLimit: a 429 asking for a short wait is retried after
// it, and the request succeeds.
func TestRetriesRateLimit(t *testing.T) {
	idp := idptest.Start(t, tenant("read:users"))
	c := newClient(t, idp, auth0mgmt.Config{MaxRetries: 2, MaxRetryWait: 3 * time.Second})
	ctx := context.Background()
	idp.SetRateLimit(idptest.EndpointManagement, 1, time.Second)
	for i := range 2 {
		b, err := c.Do(ctx, http.MethodGet, "/users/"+url.PathEscape("auth0|alice"), nil)
		if err != nil || !strings.Contains(string(b), "auth0|alice") {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := idp.Calls(idptest.EndpointManagement); n != 3 {
		t.Errorf("%d API calls, want 3: one answered 429 and retried", n)
	}
}

// TestRenewsRefusedToken: a management token the API refuses (401) is
// fetched again, once.
func TestRenewsRefusedToken(t *testing.T) {
	idp := idptest.Start(t, tenant("read:users"))
	var calls int
	rt := roundTripper(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "/api/v2/") {
			if calls++; calls == 1 {
				return &http.Response{StatusCode: 401, Status: "401 Unauthorized", Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	c := newClient(t, idp, auth0mgmt.Config{HTTPClient: &http.Client{Transport: rt}})
	if _, err := c.Do(context.Background(), http.MethodGet, "/users/"+url.PathEscape("auth0|alice"), nil); err != nil {
		t.Fatal(err)
	}
	if n := idp.Calls(idptest.EndpointToken); n != 2 {
		t.Errorf("%d management tokens fetched, want 2", n)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []auth0mgmt.Config{
		{Domain: "tenant.auth0.com", ClientID: "a", ClientSecret: "b"},
		{Domain: "https://tenant.auth0.com/", ClientID: "a"},
		{Domain: "https://tenant.auth0.com/", ClientID: "a", ClientSecret: "b", MaxRetries: -1},
	} {
		if _, err := auth0mgmt.New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}
