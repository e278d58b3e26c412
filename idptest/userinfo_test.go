package idptest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

func TestUserinfo(t *testing.T) {
	jwtFor := func(f []string) func(t *testing.T, idp *idptest.Server) string {
		return func(t *testing.T, idp *idptest.Server) string {
			return grant(t, idp, with(aliceLogin, f...)).str("access_token")
		}
	}
	for _, tc := range []struct {
		name   string
		token  func(t *testing.T, idp *idptest.Server) string
		scheme string // "" = Bearer
		post   bool
		status int
		org    string
	}{
		{name: "JWT with openid", token: jwtFor(nil), status: 200, org: "org_acme"},
		{name: "lower-case scheme, POST", token: jwtFor(nil), scheme: "bearer", post: true, status: 200, org: "org_acme"},
		{name: "JWT without openid", token: jwtFor([]string{"scope", "read:venues"}), status: 401},
		{name: "opaque token without an audience", token: jwtFor([]string{"audience", "", "organization", "", "scope", "profile"}), status: 200},
		{name: "opaque token with openid", token: opaqueAlice, status: 200, org: "org_acme"},
		{name: "machine token", token: func(t *testing.T, idp *idptest.Server) string {
			return grant(t, idp, form("grant_type", "client_credentials", "client_id", "venue-worker", "client_secret", "venue-worker-secret")).str("access_token")
		}, status: 401},
		{name: "expired", token: func(t *testing.T, idp *idptest.Server) string {
			tok := jwtFor(nil)(t, idp)
			idp.Advance(24 * time.Hour)
			return tok
		}, status: 401},
		{name: "removed user", token: func(t *testing.T, idp *idptest.Server) string {
			tok := jwtFor(nil)(t, idp)
			idp.RemoveUser("alice")
			return tok
		}, status: 401},
		{name: "ID token", token: func(t *testing.T, idp *idptest.Server) string {
			return grant(t, idp, aliceLogin).str("id_token")
		}, status: 401},
		{name: "garbage", token: func(*testing.T, *idptest.Server) string { return "garbage" }, status: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			method := http.MethodGet
			if tc.post {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, idp.UserinfoURL(), nil)
			scheme := tc.scheme
			if scheme == "" {
				scheme = "Bearer"
			}
			req.Header.Set("Authorization", scheme+" "+tc.token(t, idp))
			a := do(t, http.DefaultClient, req)
			if a.status != tc.status {
				t.Fatalf("%d %s, want %d", a.status, a.raw, tc.status)
			}
			if tc.status == 401 {
				if got := a.header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				return
			}
			if a.str("sub") != "auth0|alice" || a.str("name") != "Alice Archer" || a.str("email") != "alice@acme.example" || a.str("org_id") != tc.org {
				t.Errorf("userinfo = %s", a.raw)
			}
		})
	}
}

func TestUserinfoWithoutBearerToken(t *testing.T) {
	idp := start(t)
	for _, authorization := range []string{"", "Basic dmVudWUtYXBwOnZlbnVlLWFwcC1zZWNyZXQ=", "Bearer "} {
		req, _ := http.NewRequest(http.MethodGet, idp.UserinfoURL(), nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		a := do(t, http.DefaultClient, req)
		if got := a.header.Get("WWW-Authenticate"); a.status != 401 || !strings.HasPrefix(got, "Bearer") || strings.Contains(got, "error=") {
			t.Errorf("Authorization %q: %d, WWW-Authenticate %q: want 401 without an error code (RFC 6750 §3.1)", authorization, a.status, got)
		}
	}
}
