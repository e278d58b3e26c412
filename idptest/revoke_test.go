package idptest_test

import (
	"net/http"
	"testing"

	"github.com/authgate/authgate/idptest"
)

func TestRevokeRefreshTokenFamily(t *testing.T) {
	// An opaque-token API, so that the family's access tokens can be
	// revoked with it.
	idp := start(t, func(c *idptest.Config) { c.APIs[0].Opaque = true })
	login := grant(t, idp, aliceLogin)
	first := login.str("refresh_token")
	next := refreshWith(t, idp, first)
	if next.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", next.status, next.raw)
	}
	other := grant(t, idp, aliceLogin) // another family, untouched

	revoke(t, idp, "venue-app", next.str("refresh_token"))

	for _, rt := range []string{first, next.str("refresh_token")} {
		wantState(t, idp, rt, idptest.RefreshRevoked)
	}
	for _, at := range []string{login.str("access_token"), next.str("access_token")} {
		if a := introspect(t, idp, at); a.body["active"] != false {
			t.Errorf("an access token of the revoked family: %s", a.raw)
		}
	}
	wantState(t, idp, other.str("refresh_token"), idptest.RefreshActive)
	if a := introspect(t, idp, other.str("access_token")); a.body["active"] != true {
		t.Errorf("another family's access token: %s", a.raw)
	}
}

func TestRevoke(t *testing.T) {
	for _, tc := range []struct {
		name    string
		client  []string // form pairs of client authentication
		basic   []string
		token   func(t *testing.T, idp *idptest.Server) string
		status  int
		revoked bool // the token no longer works at /userinfo
	}{
		{"opaque access token", []string{"client_id", "venue-app", "client_secret", "venue-app-secret"}, nil, opaqueAlice, 200, true},
		{"opaque access token, Basic", nil, []string{"venue-app", "venue-app-secret"}, opaqueAlice, 200, true},
		{"another client's opaque token", []string{"client_id", "partner-app", "client_secret", "partner-app-secret"}, nil, opaqueAlice, 200, false},
		{"a JWT: nothing happens", []string{"client_id", "venue-app", "client_secret", "venue-app-secret"}, nil,
			func(t *testing.T, idp *idptest.Server) string { return grant(t, idp, aliceLogin).str("access_token") }, 200, false},
		{"wrong secret", []string{"client_id", "venue-app", "client_secret", "nope"}, nil, opaqueAlice, 401, false},
		{"confidential client without its secret", []string{"client_id", "venue-app"}, nil, opaqueAlice, 401, false},
		{"no client", nil, nil, opaqueAlice, 401, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			tok := tc.token(t, idp)
			a := post(t, idp.RevocationURL(), form(append([]string{"token", tok}, tc.client...)...), tc.basic...)
			if a.status != tc.status {
				t.Fatalf("%d %s, want %d", a.status, a.raw, tc.status)
			}
			if tc.status == 200 && a.raw != "" {
				t.Errorf("body %q, want none", a.raw)
			}
			revoked := get(t, idp.UserinfoURL(), tok).status == http.StatusUnauthorized
			if revoked != tc.revoked {
				t.Errorf("revoked = %v, want %v", revoked, tc.revoked)
			}
		})
	}
}

func TestRevokeUnknownToken(t *testing.T) {
	idp := start(t)
	revoke(t, idp, "venue-app", "never-issued")
	a := post(t, idp.RevocationURL(), form("client_id", "venue-app", "client_secret", "venue-app-secret"))
	if a.status != 400 || a.str("error") != "invalid_request" {
		t.Errorf("no token parameter: %d %s", a.status, a.raw)
	}
}
