package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/quickstart"
)

func TestMain(m *testing.M) {
	// The program's memcached timeouts (50 ms reads, 100 ms writes) take a
	// node out when this process stalls that long, which parallel test
	// binaries under -race on two cores can make it do. Failover has its
	// own tests (authn, internal/memcached, the load test).
	memcacheTuning = cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second}
	os.Exit(m.Run())
}

func call(t *testing.T, method, u, token string, form url.Values) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &v)
	return resp.StatusCode, v
}

// TestCallers drives the venue routes with the three kinds of caller, each
// obtained from idptest the way a real client would: a user logging in
// through the service, a partner app by authorization code, a machine by
// client credentials.
func TestCallers(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	api := quickstart.Start(t, run, map[string]string{
		"ISSUER_URL": idp.Issuer(), "AUDIENCE": idptest.DemoAPI,
		"CLIENT_ID": "venue-app", "CLIENT_SECRET": "venue-app-secret",
	}).URL

	status, body := call(t, "POST", api+"/auth/login", "", url.Values{"username": {"alice"}, "password": {"alice-password"}, "organization": {"org_acme"}})
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	user := body["access_token"].(string)

	code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: "bob", RedirectURI: "https://partner.example/cb",
		Audience: idptest.DemoAPI, Scopes: []string{"read:venues", "book:venues", "read:datasets"}, Organization: "org_globex"})
	if err != nil {
		t.Fatal(err)
	}
	status, body = call(t, "POST", idp.TokenURL(), "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"https://partner.example/cb"}, "client_id": {"partner-app"}, "client_secret": {"partner-app-secret"}})
	if status != 200 {
		t.Fatalf("partner code exchange: %d %v", status, body)
	}
	partner := body["access_token"].(string)

	// The partner acts for bob, who has not turned it on: refused; then he
	// turns it on for his organization with his own token.
	if status, body := call(t, "GET", api+"/v1/venues", partner, nil); status != 403 || !strings.Contains(fmt.Sprint(body["error_description"]), "not enabled") {
		t.Errorf("partner before bob enables it: %d %v, want 403 naming the integration", status, body)
	}
	status, body = call(t, "POST", api+"/auth/login", "", url.Values{"username": {"bob"}, "password": {"bob-password"}, "organization": {"org_globex"}})
	if status != 200 {
		t.Fatalf("bob's login: %d %v", status, body)
	}
	if status, body := call(t, "POST", api+"/v1/integrations/partner-app", body["access_token"].(string), nil); status != 201 || body["org_id"] != "org_globex" {
		t.Fatalf("bob enables partner-app: %d %v", status, body)
	}
	if status, _ := call(t, "POST", api+"/v1/integrations/partner-app", partner, nil); status != 403 {
		t.Errorf("the partner enabling itself: %d, want 403", status)
	}

	status, body = call(t, "POST", idp.TokenURL(), "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"venue-worker"},
		"client_secret": {"venue-worker-secret"}, "audience": {idptest.DemoAPI}})
	if status != 200 {
		t.Fatalf("client credentials: %d %v", status, body)
	}
	machine := body["access_token"].(string)

	for _, tc := range []struct {
		caller, token, method, path string
		want                        int
	}{
		{"user", user, "GET", "/v1/venues", 200},
		{"user", user, "POST", "/v1/venues/v1/bookings", 201},
		{"user", user, "GET", "/v1/orgs/org_acme/datasets", 200},
		{"user", user, "GET", "/v1/orgs/org_globex/datasets", 403},
		{"partner", partner, "GET", "/v1/venues", 200},
		{"partner", partner, "POST", "/v1/venues/v1/bookings", 403}, // bob's roles do not grant book:venues
		{"partner", partner, "GET", "/v1/orgs/org_globex/datasets", 200},
		{"partner", partner, "GET", "/v1/orgs/org_acme/datasets", 403},
		{"machine", machine, "GET", "/v1/venues", 200},
		{"machine", machine, "POST", "/v1/venues/v1/bookings", 403},
		{"machine", machine, "GET", "/v1/orgs/org_acme/datasets", 403},
		{"nobody", "", "GET", "/v1/venues", 401},
		{"forged", user + "x", "GET", "/v1/venues", 401},
		{"two tokens", user + " " + partner, "GET", "/v1/venues", 400},
		{"health check", "", "GET", "/healthz", 200},
	} {
		if status, body := call(t, tc.method, api+tc.path, tc.token, nil); status != tc.want {
			t.Errorf("%s %s %s: %d %v, want %d", tc.caller, tc.method, tc.path, status, body, tc.want)
		}
	}

	for caller, want := range map[string]map[string]any{
		user:    {"subject": "auth0|alice", "kind": "user", "org_id": "org_acme", "org_name": "acme", "authorized_party": "venue-app"},
		partner: {"subject": "auth0|bob", "kind": "delegated", "org_id": "org_globex", "authorized_party": "partner-app"},
		machine: {"subject": "venue-worker@clients", "kind": "machine", "org_id": "", "authorized_party": "venue-worker"},
	} {
		status, body := call(t, "GET", api+"/v1/whoami", caller, nil)
		if status != 200 {
			t.Fatalf("whoami: %d", status)
		}
		for k, v := range want {
			if body[k] != v {
				t.Errorf("whoami %s = %v, want %v", k, body[k], v)
			}
		}
		for _, k := range []string{"scopes", "permissions", "issuer", "expires_at"} {
			if _, ok := body[k]; !ok {
				t.Errorf("whoami lacks %q", k)
			}
		}
		if _, err := time.Parse(time.RFC3339, body["expires_at"].(string)); err != nil {
			t.Errorf("expires_at %v is not RFC 3339", body["expires_at"])
		}
	}
	if status, body := call(t, "GET", api+"/v1/orgs/org_acme/datasets", user, nil); status != 200 || fmt.Sprint(body["datasets"]) != "[bookings-2026 footfall ticket-sales]" {
		t.Errorf("datasets: %d %v", status, body)
	}
}

// TestQuickstartAsPrinted starts the program as the README's first command
// does, with a real memcached added, and replays the curl lines it prints,
// checking each against the status its comment promises.
func TestQuickstartAsPrinted(t *testing.T) {
	mc := memcachedtest.Start(t)
	p := quickstart.Start(t, run, map[string]string{
		"MEMCACHE_SERVERS": mc.Addr(),
		"AUTHGATE_SECRET":  "a secret of at least thirty-two bytes",
	})
	if lines := quickstart.Replay(t, p.Output()); lines < 20 {
		t.Fatalf("only %d command lines printed:\n%s", lines, p.Output())
	}
}

// TestTwoAPIsShareMemcached: two venue-style services for different APIs
// (AUDIENCE) over one memcached, with the same secret and namespace, refuse
// each other's tokens — also once the other has cached them.
func TestTwoAPIsShareMemcached(t *testing.T) {
	const tickets = "https://api.tickets.example"
	cfg := idptest.Demo()
	cfg.APIs = append(cfg.APIs, idptest.API{Identifier: tickets, Scopes: []string{"read:venues"}})
	idp := idptest.Start(t, cfg)
	mc := memcachedtest.Start(t)
	service := func(audience string) string {
		return quickstart.Start(t, run, map[string]string{
			"ISSUER_URL": idp.Issuer(), "AUDIENCE": audience,
			"MEMCACHE_SERVERS": mc.Addr(), "AUTHGATE_SECRET": "a secret of at least thirty-two bytes",
		}).URL
	}
	venues, ticketing := service(idptest.DemoAPI), service(tickets)
	token := func(audience string) string {
		status, body := call(t, "POST", idp.TokenURL(), "", url.Values{"grant_type": {"password"}, "username": {"alice"},
			"password": {"alice-password"}, "client_id": {"venue-app"}, "client_secret": {"venue-app-secret"},
			"audience": {audience}, "scope": {"read:venues"}})
		if status != 200 {
			t.Fatalf("password grant for %s: %d %v", audience, status, body)
		}
		return body["access_token"].(string)
	}
	for _, tc := range []struct{ name, owner, other, audience string }{
		{"a venues token", venues, ticketing, idptest.DemoAPI},
		{"a tickets token", ticketing, venues, tickets},
	} {
		tok := token(tc.audience)
		if status, body := call(t, "GET", tc.owner+"/v1/whoami", tok, nil); status != 200 {
			t.Fatalf("%s at its own API: %d %v", tc.name, status, body)
		}
		if status, _ := call(t, "GET", tc.other+"/v1/whoami", tok, nil); status != 401 {
			t.Errorf("%s at the other API, after its own cached it: %d, want 401", tc.name, status)
		}
	}
}

// TestSeveralIssuersAndAudiences: ISSUER_URL and AUDIENCE list several
// values; a token of any listed issuer for any listed audience is accepted,
// logins go to the first issuer, and LOGIN_SCOPES sets what they ask.
func TestSeveralIssuersAndAudiences(t *testing.T) {
	const tickets = "https://api.tickets.example"
	cfg := idptest.Demo()
	cfg.APIs = append(cfg.APIs, idptest.API{Identifier: tickets, Scopes: []string{"read:venues"}})
	dev, intTenant := idptest.Start(t, cfg), idptest.Start(t, cfg)
	p := quickstart.Start(t, run, map[string]string{
		"ISSUER_URL": dev.Issuer() + ", " + intTenant.Issuer(), "AUDIENCE": idptest.DemoAPI + "," + tickets,
		"CLIENT_ID": "venue-app", "CLIENT_SECRET": "venue-app-secret", "LOGIN_SCOPES": "openid offline_access read:venues",
	})
	api, out := p.URL, p.Output()
	if !strings.Contains(out, "accepting tokens of "+dev.Issuer()+", "+intTenant.Issuer()+" for "+idptest.DemoAPI+", "+tickets) {
		t.Errorf("the program does not say what it serves:\n%s", out)
	}
	for _, idp := range []*idptest.Server{dev, intTenant} {
		for _, audience := range []string{idptest.DemoAPI, tickets} {
			status, body := call(t, "POST", idp.TokenURL(), "", url.Values{"grant_type": {"password"}, "username": {"alice"},
				"password": {"alice-password"}, "client_id": {"venue-app"}, "client_secret": {"venue-app-secret"},
				"audience": {audience}, "scope": {"read:venues"}})
			if status != 200 {
				t.Fatalf("password grant: %d %v", status, body)
			}
			if status, body := call(t, "GET", api+"/v1/whoami", body["access_token"].(string), nil); status != 200 || body["issuer"] != idp.Issuer() {
				t.Errorf("a token of %s for %s: %d %v", idp.Issuer(), audience, status, body)
			}
		}
	}
	status, body := call(t, "POST", api+"/auth/login", "", url.Values{"username": {"alice"}, "password": {"alice-password"},
		"organization": {"org_acme"}})
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	// alice may book in org_acme, but LOGIN_SCOPES does not ask for it.
	if status, who := call(t, "GET", api+"/v1/whoami", body["access_token"].(string), nil); status != 200 || who["issuer"] != dev.Issuer() ||
		fmt.Sprint(who["scopes"]) != "[offline_access openid read:venues]" {
		t.Errorf("the login's token: %d %v; want the first issuer's, with LOGIN_SCOPES' scopes only", status, who)
	}
}

// TestDex: the venue, unchanged, against a provider shaped like Dex — an
// issuer without a trailing slash, access tokens with the client id as
// their aud and neither azp nor scope, unknown scopes refused at the token
// endpoint — with LOGIN_SCOPES and CLAIMS_PRESET=dex: its users log in,
// are users (not partners), refresh and log out.
func TestDex(t *testing.T) {
	cfg := idptest.Demo()
	cfg.Dialect = idptest.DialectDex
	idp := idptest.Start(t, cfg)
	if strings.HasSuffix(idp.Issuer(), "/") {
		t.Fatalf("a Dex-like issuer %q ends with a slash", idp.Issuer())
	}
	env := map[string]string{"ISSUER_URL": idp.Issuer(), "AUDIENCE": "venue-app",
		"CLIENT_ID": "venue-app", "CLIENT_SECRET": "venue-app-secret", "CLAIMS_PRESET": "dex"}
	// With the venue's default scopes, Dex refuses the login with
	// invalid_request: an answer that says so (400), not an outage (503).
	api := quickstart.Start(t, run, env).URL
	if status, body := call(t, "POST", api+"/auth/login", "", url.Values{"username": {"alice"}, "password": {"alice-password"}}); status != 400 || body["error"] != "invalid_request" {
		t.Errorf("login asking scopes Dex does not know: %d %v, want 400 invalid_request", status, body)
	}
	env["LOGIN_SCOPES"] = "openid profile email offline_access"
	env["ADDR"] = ""
	api = quickstart.Start(t, run, env).URL
	status, body := call(t, "POST", api+"/auth/login", "", url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	tok := body["access_token"].(string)
	if status, who := call(t, "GET", api+"/v1/whoami", tok, nil); status != 200 || who["kind"] != "user" || who["authorized_party"] != "venue-app" {
		t.Errorf("whoami: %d %v, want a user of venue-app", status, who)
	}
	status, body = call(t, "POST", api+"/auth/refresh", tok, nil)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	next := body["access_token"].(string)
	if status, _ := call(t, "POST", api+"/auth/logout", next, nil); status != 204 {
		t.Errorf("logout: %d", status)
	}
	if status, _ := call(t, "GET", api+"/v1/whoami", next, nil); status != 401 {
		t.Errorf("whoami after logout: %d, want 401", status)
	}
}

// TestSecretRotationThroughEnvironment: the venue takes a rotation of its
// secret from the environment (AUTHGATE_SECRET_ID, AUTHGATE_PREVIOUS_SECRET,
// AUTHGATE_PREVIOUS_SECRET_ID, AUTHGATE_NAME_SECRET), as OPERATIONS.md's
// three deploys need: an instance at the second deploy refreshes the
// sessions and refuses the logouts of one still on the old secret, and one
// at the first deploy refuses the logouts the second writes. An instance
// given the new secret alone starts cold, which is why the steps exist.
func TestSecretRotationThroughEnvironment(t *testing.T) {
	const old, next = "the old secret, thirty-two bytes or more", "the new secret, thirty-two bytes or more"
	idp := idptest.Start(t, idptest.Demo())
	mc := memcachedtest.Start(t)
	instance := func(env map[string]string) string {
		env["ISSUER_URL"], env["AUDIENCE"], env["MEMCACHE_SERVERS"] = idp.Issuer(), idptest.DemoAPI, mc.Addr()
		env["CLIENT_ID"], env["CLIENT_SECRET"] = "venue-app", "venue-app-secret"
		return quickstart.Start(t, run, env).URL
	}
	login := func(api string) string {
		t.Helper()
		status, body := call(t, "POST", api+"/auth/login", "", url.Values{"username": {"alice"}, "password": {"alice-password"}})
		if status != 200 {
			t.Fatalf("login: %d %v", status, body)
		}
		return body["access_token"].(string)
	}
	expect := func(what string, want int, method, u, token string) {
		t.Helper()
		if status, body := call(t, method, u, token, nil); status != want {
			t.Errorf("%s: %d %v, want %d", what, status, body, want)
		}
	}

	before := instance(map[string]string{"AUTHGATE_SECRET": old})
	kept, gone := login(before), login(before)
	expect("logout on the old secret", 204, "POST", before+"/auth/logout", gone)

	cold := instance(map[string]string{"AUTHGATE_SECRET": next})
	expect("cold: a session of the old secret", 401, "POST", cold+"/auth/refresh", kept)
	expect("cold: a token logged out under the old secret (its mark is not found)", 200, "GET", cold+"/v1/whoami", gone)

	step1 := instance(map[string]string{"AUTHGATE_SECRET": old, "AUTHGATE_PREVIOUS_SECRET": next, "AUTHGATE_PREVIOUS_SECRET_ID": "2"})
	step2 := instance(map[string]string{"AUTHGATE_SECRET": next, "AUTHGATE_SECRET_ID": "2",
		"AUTHGATE_PREVIOUS_SECRET": old, "AUTHGATE_PREVIOUS_SECRET_ID": "1", "AUTHGATE_NAME_SECRET": old})
	expect("step 2: a token logged out under the old secret", 401, "GET", step2+"/v1/whoami", gone)
	expect("step 2: a session of the old secret", 200, "POST", step2+"/auth/refresh", kept)

	gone2 := login(step2)
	expect("logout on step 2", 204, "POST", step2+"/auth/logout", gone2)
	expect("step 1: a token logged out under the new secret", 401, "GET", step1+"/v1/whoami", gone2)
}
