package idptest_test

import (
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

func TestIntrospection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  func(t *testing.T, idp *idptest.Server) string
		active bool
	}{
		{"opaque token", opaqueAlice, true},
		{"JWT from the token endpoint", func(t *testing.T, idp *idptest.Server) string {
			return grant(t, idp, aliceLogin).str("access_token")
		}, true},
		{"opaque token, expired", func(t *testing.T, idp *idptest.Server) string {
			tok := opaqueAlice(t, idp)
			idp.Advance(24 * time.Hour)
			return tok
		}, false},
		{"opaque token, revoked", func(t *testing.T, idp *idptest.Server) string {
			tok := opaqueAlice(t, idp)
			revoke(t, idp, "venue-app", tok)
			return tok
		}, false},
		{"JWT, expired", func(t *testing.T, idp *idptest.Server) string {
			tok := grant(t, idp, aliceLogin).str("access_token")
			idp.Advance(24 * time.Hour)
			return tok
		}, false},
		{"JWT signed by an unpublished key", func(t *testing.T, idp *idptest.Server) string {
			c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := idp.Mint(c, idptest.WithUnpublishedKey())
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, false},
		{"ID token", func(t *testing.T, idp *idptest.Server) string {
			return grant(t, idp, aliceLogin).str("id_token")
		}, false},
		{"refresh token", func(t *testing.T, idp *idptest.Server) string {
			return grant(t, idp, aliceLogin).str("refresh_token")
		}, false},
		{"unknown", func(*testing.T, *idptest.Server) string { return "unknown-opaque-token" }, false},
		{"garbage", func(*testing.T, *idptest.Server) string { return "a.b.c" }, false},
		{"empty", func(*testing.T, *idptest.Server) string { return "" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			a := introspect(t, idp, tc.token(t, idp))
			if a.body["active"] != tc.active {
				t.Fatalf("answer %s, want active %v", a.raw, tc.active)
			}
			if !tc.active {
				if len(a.body) != 1 {
					t.Errorf("inactive answer says more: %s", a.raw)
				}
				return
			}
			for name, want := range map[string]any{"sub": "auth0|alice", "client_id": "venue-app", "iss": idp.Issuer(),
				"token_type": "Bearer", "org_id": "org_acme", "username": "alice"} {
				if a.body[name] != want {
					t.Errorf("%s = %v, want %v", name, a.body[name], want)
				}
			}
			if a.body["exp"] != float64(idp.Now().Add(24*time.Hour).Unix()) || a.str("scope") == "" || a.str("jti") == "" {
				t.Errorf("answer = %s", a.raw)
			}
		})
	}
}

func TestIntrospectionNeedsAConfidentialClient(t *testing.T) {
	idp := start(t, func(c *idptest.Config) {
		c.Clients = append(c.Clients, idptest.Client{ID: "spa", Grants: []string{"authorization_code"}})
	})
	tok := opaqueAlice(t, idp)
	for _, tc := range []struct {
		name   string
		form   []string
		basic  []string
		status int
	}{
		{"Basic", nil, []string{"venue-worker", "venue-worker-secret"}, 200},
		{"form", []string{"client_id", "venue-app", "client_secret", "venue-app-secret"}, nil, 200},
		{"wrong secret", []string{"client_id", "venue-app", "client_secret", "nope"}, nil, 401},
		{"wrong Basic secret", nil, []string{"venue-app", "nope"}, 401},
		{"no client", nil, nil, 401},
		{"client_id only", []string{"client_id", "venue-app"}, nil, 401},
		{"public client", []string{"client_id", "spa"}, nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, idp.IntrospectionURL(), form(append([]string{"token", tok}, tc.form...)...), tc.basic...)
			if a.status != tc.status {
				t.Fatalf("%d %s, want %d", a.status, a.raw, tc.status)
			}
			if tc.status == 401 && (a.str("error") != "invalid_client" || a.header.Get("WWW-Authenticate") == "") {
				t.Errorf("refusal: %s %v", a.raw, a.header)
			}
			if tc.status == 200 && a.body["active"] != true {
				t.Errorf("answer: %s", a.raw)
			}
		})
	}
}

// opaqueAlice registers an opaque token with the claims of alice's
// access token.
func opaqueAlice(t *testing.T, idp *idptest.Server) string {
	t.Helper()
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api,
		Scopes: []string{"openid", "read:venues"}, Organization: "org_acme", GrantType: "password"})
	if err != nil {
		t.Fatal(err)
	}
	return idp.OpaqueToken(c)
}
