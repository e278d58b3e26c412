package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/nginxtest"
)

// TestNginxAuthRequest puts a real nginx, configured as README.md says
// (nginxtest.AuthRequest), in front of an API, with auth_request to the
// token service.
func TestNginxAuthRequest(t *testing.T) {
	w := newWorld(t, nil)
	var hits atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		for _, h := range []string{"X-Auth-Subject", "X-Auth-Client", "X-Auth-Org", "X-Auth-Scopes", "X-Auth-Kind"} {
			rw.Header()["Seen-"+h] = r.Header.Values(h)
		}
		fmt.Fprintf(rw, "%s %s", r.Method, r.URL.RequestURI())
	}))
	t.Cleanup(api.Close)
	gw := nginxtest.Start(t, func(addr string) string {
		return nginxtest.AuthRequest(addr, strings.TrimPrefix(w.ts.URL, "http://"), strings.TrimPrefix(api.URL, "http://"))
	})

	type want struct {
		status    int
		seen      map[string]string // headers the API received; "" = absent
		challenge string
	}
	for _, tc := range []struct {
		name          string
		method, path  string
		token         string
		clientHeaders []string
		want          want
	}{
		{"user reads", "GET", "/v1/venues?page=2", w.user, nil, want{status: 200, seen: map[string]string{
			"X-Auth-Subject": "auth0|alice", "X-Auth-Client": "venue-app", "X-Auth-Org": "org_acme",
			"X-Auth-Scopes": "book:venues read:venues", "X-Auth-Kind": "user"}}},
		{"user books", "POST", "/v1/venues/v1/bookings", w.user, nil, want{status: 200}},
		{"forged identity headers replaced", "GET", "/v1/venues", w.machine,
			[]string{"X-Auth-Subject", "auth0|alice", "X-Auth-Org", "org_acme", "X-Auth-Kind", "user"},
			want{status: 200, seen: map[string]string{"X-Auth-Subject": "venue-worker@clients", "X-Auth-Org": "", "X-Auth-Kind": "machine"}}},
		{"no token", "GET", "/v1/venues", "", nil, want{status: 401, challenge: `Bearer realm="api"`}},
		{"expired token", "GET", "/v1/venues", w.expired, nil, want{status: 401,
			challenge: `Bearer realm="api", error="invalid_token", error_description="the access token expired"`}},
		{"machine may not book", "POST", "/v1/venues/v1/bookings", w.machine, nil, want{status: 403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="book:venues"`}},
		{"a client naming another URI is refused", "POST", "/v1/venues/v1/bookings", w.machine,
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public"}, want{status: 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			req, _ := http.NewRequest(tc.method, gw.URL()+tc.path, strings.NewReader("a body the auth request must not carry"))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			for i := 0; i+1 < len(tc.clientHeaders); i += 2 {
				req.Header.Set(tc.clientHeaders[i], tc.clientHeaders[i+1])
			}
			a := do(t, req)
			if a.status != tc.want.status {
				t.Fatalf("%d %v %v, want %d\n%s", a.status, a.header, a.body, tc.want.status, gw.ErrorLog())
			}
			if got := a.header.Get("WWW-Authenticate"); got != tc.want.challenge {
				t.Errorf("challenge %q\nwant      %q", got, tc.want.challenge)
			}
			reached := hits.Load() != before
			if reached != (tc.want.status == 200) {
				t.Errorf("the API was reached: %v", reached)
			}
			if tc.want.status == 200 && a.body["text"] != tc.method+" "+tc.path {
				t.Errorf("the API saw %v", a.body)
			}
			for h, v := range tc.want.seen {
				if got := a.header.Get("Seen-" + h); got != v || len(a.header.Values("Seen-"+h)) > 1 {
					t.Errorf("the API saw %s = %q, want %q", h, a.header.Values("Seen-"+h), v)
				}
			}
		})
	}

	// The provider down, for a token the service cannot have cached: 503
	// and Retry-After reach the client.
	w.idp.SetFault(idptest.EndpointJWKS, idptest.FaultUnavailable)
	if _, err := w.idp.RotateKey("RS256"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", gw.URL()+"/v1/venues", nil)
	req.Header.Set("Authorization", "Bearer "+w.userToken(t, "alice", "venue-app", "org_acme", nil))
	before := hits.Load()
	if a := do(t, req); a.status != 503 || a.header.Get("Retry-After") == "" || hits.Load() != before {
		t.Errorf("provider down: %d %v, want 503 with Retry-After\n%s", a.status, a.header, gw.ErrorLog())
	}
}
