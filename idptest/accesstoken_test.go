package idptest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/idptest"
)

// TestAccessToken: AccessToken issues what the token endpoint issues for
// the same request — a signed JWT for an API, an opaque token without one
// — that the provider's own endpoints accept.
func TestAccessToken(t *testing.T) {
	idp := start(t)
	for _, tc := range []struct {
		name string
		req  idptest.ClaimsRequest
		want map[string]any // payload members of a JWT; nil: an opaque token
	}{
		{"a user in an organization", idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api,
			Organization: "org_acme", Scopes: []string{"read:venues", "manage:venues"}},
			map[string]any{"sub": "auth0|alice", "azp": "venue-app", "org_id": "org_acme", "scope": "read:venues"}},
		{"a partner acting for a user", idptest.ClaimsRequest{Username: "bob", ClientID: "partner-app", Audience: api,
			Organization: "org_globex", Scopes: []string{"read:venues"}, GrantType: ""},
			map[string]any{"sub": "auth0|bob", "azp": "partner-app", "org_id": "org_globex", "scope": "read:venues"}},
		{"a machine, the default audience", idptest.ClaimsRequest{ClientID: "venue-worker"},
			map[string]any{"sub": "venue-worker@clients", "gty": "client-credentials", "aud": api, "scope": "read:venues read:datasets"}},
		{"a machine, narrowed", idptest.ClaimsRequest{ClientID: "venue-worker", Audience: api, Scopes: []string{"read:datasets"}},
			map[string]any{"sub": "venue-worker@clients", "scope": "read:datasets"}},
		{"a user without an API", idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Scopes: []string{"openid"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := idp.AccessToken(t, tc.req)
			if tc.want == nil {
				if strings.Count(tok, ".") == 2 {
					t.Fatalf("a JWT without an API: %s", tok)
				}
				if a := get(t, idp.UserinfoURL(), tok); a.status != 200 || a.str("sub") != "auth0|"+tc.req.Username {
					t.Errorf("userinfo: %d %s", a.status, a.raw)
				}
				return
			}
			verify(t, idp, tok)
			header, payload := decode(t, tok)
			if header["kid"] != idp.SigningKeyID() {
				t.Errorf("kid %v, want the signing key's %s", header["kid"], idp.SigningKeyID())
			}
			for k, v := range tc.want {
				if fmt.Sprint(payload[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, payload[k], v)
				}
			}
			if a := introspect(t, idp, tok); a.body["active"] != true {
				t.Errorf("introspection: %s", a.raw)
			}
		})
	}
}

// TestAccessTokenRefusals: a request the token endpoint would refuse
// fails the test that asked, naming why.
func TestAccessTokenRefusals(t *testing.T) {
	idp := start(t)
	for _, tc := range []struct {
		name string
		req  idptest.ClaimsRequest
		want string
	}{
		{"unknown client", idptest.ClaimsRequest{Username: "alice", ClientID: "nobody", Audience: api}, `unknown client "nobody"`},
		{"unknown user", idptest.ClaimsRequest{Username: "mallory", ClientID: "venue-app", Audience: api}, `unknown user "mallory"`},
		{"unknown API", idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: "https://other.example"}, "Service not found"},
		{"not a member", idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api, Organization: "org_globex"}, "not a member"},
		{"a client without client credentials", idptest.ClaimsRequest{ClientID: "venue-app", Audience: api}, "client_credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fatalRecorder{TB: t}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := idp.AccessToken(rec, tc.req)
				t.Errorf("AccessToken returned %q instead of failing", tok)
			}()
			wg.Wait()
			if !strings.Contains(rec.msg, tc.want) {
				t.Errorf("failed with %q, want it to name %q", rec.msg, tc.want)
			}
		})
	}
}

// fatalRecorder records the message of Fatalf and ends the goroutine that
// called it, as the testing package's Fatalf does, without failing the
// test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestAccessTokenAsDocumented runs the test ExampleServer_AccessToken
// shows, which an Example cannot run for want of a *testing.T.
func TestAccessTokenAsDocumented(t *testing.T) { testListVenues(t) }
