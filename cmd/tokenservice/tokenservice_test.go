package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/quickstart"
)

const testRules = `{"rules": [
  {"methods": ["POST"], "path_prefix": "/v1/venues/", "scopes": ["book:venues"], "kinds": ["user", "delegated"]},
  {"methods": ["GET"], "path_prefix": "/v1/venues", "scopes": ["read:venues"]},
  {"path_prefix": "/v1/partners/", "kinds": ["delegated"]},
  {"path_prefix": "/v1/other-api/", "audience": "https://other.example"}
]}`

// world is a token service against an idptest provider, with tokens of each
// kind of caller.
type world struct {
	idp                             *idptest.Server
	ts                              *quickstart.Program
	user, partner, machine, expired string
}

func newWorld(t *testing.T, env map[string]string) *world {
	t.Helper()
	idp := idptest.Start(t, idptest.Demo())
	rules := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(rules, []byte(testRules), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"ISSUER_URL": idp.Issuer(), "AUDIENCE": idptest.DemoAPI, "FIRST_PARTY_CLIENTS": "venue-app",
		"SERVICE_CLIENTS": "venue-api:venue-api-secret, billing:a:secret+with/odd=chars", "RULES_FILE": rules,
	}
	for k, v := range env {
		base[k] = v
	}
	w := &world{idp: idp, ts: quickstart.Start(t, run, base)}
	w.user = w.userToken(t, "alice", "venue-app", "org_acme", nil)
	w.partner = w.userToken(t, "bob", "partner-app", "org_globex", nil)
	w.expired = w.userToken(t, "alice", "venue-app", "org_acme", func(c map[string]any) {
		c["exp"] = idp.Now().Add(-time.Hour).Unix()
	})
	c, err := idp.MachineClaims("venue-worker", idptest.DemoAPI)
	if err != nil {
		t.Fatal(err)
	}
	w.machine = w.mint(t, c)
	return w
}

func (w *world) userToken(t *testing.T, user, client, org string, change func(map[string]any)) string {
	t.Helper()
	c, err := w.idp.UserClaims(idptest.ClaimsRequest{Username: user, ClientID: client, Audience: idptest.DemoAPI,
		Organization: org, Scopes: []string{"read:venues", "book:venues"}, GrantType: "password"})
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(c)
	}
	return w.mint(t, c)
}

func (w *world) mint(t *testing.T, c map[string]any) string {
	t.Helper()
	tok, err := w.idp.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := reply{status: resp.StatusCode, header: resp.Header}
	if len(b) > 0 && json.Unmarshal(b, &a.body) != nil {
		a.body = map[string]any{"text": string(b)}
	}
	return a
}

func introspect(t *testing.T, base string, form url.Values, setAuth func(*http.Request)) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/introspect", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if setAuth != nil {
		setAuth(req)
	}
	return do(t, req)
}

func basic(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(id, secret) }
}

func TestIntrospectActive(t *testing.T) {
	w := newWorld(t, nil)
	a := introspect(t, w.ts.URL, url.Values{"token": {w.user}, "token_type_hint": {"access_token"}}, basic("venue-api", "venue-api-secret"))
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v %v", a.status, a.header, a.body)
	}
	want := map[string]any{
		"active": true, "sub": "auth0|alice", "client_id": "venue-app", "scope": "book:venues read:venues",
		"iss": w.idp.Issuer(), "aud": []any{idptest.DemoAPI}, "token_type": "Bearer",
		"org_id": "org_acme", "org_name": "acme", "permissions": []any{"book:venues", "read:datasets", "read:venues"}, "kind": "user",
		"exp": a.body["exp"], "iat": a.body["iat"],
	}
	if !reflect.DeepEqual(a.body, want) {
		t.Errorf("answer\n%v\nwant\n%v", a.body, want)
	}
	exp, _ := a.body["exp"].(float64)
	iat, _ := a.body["iat"].(float64)
	if now := float64(w.idp.Now().Unix()); exp <= now || iat > now || iat < now-60 {
		t.Errorf("exp %v, iat %v", a.body["exp"], a.body["iat"])
	}

	for token, kind := range map[string]string{w.partner: "delegated", w.machine: "machine"} {
		a := introspect(t, w.ts.URL, url.Values{"token": {token}}, basic("venue-api", "venue-api-secret"))
		if a.status != 200 || a.body["active"] != true || a.body["kind"] != kind {
			t.Errorf("%s: %d %v", kind, a.status, a.body)
		}
		if _, ok := a.body["org_id"]; kind == "machine" && ok {
			t.Errorf("a machine token's answer names an organization: %v", a.body)
		}
	}
}

func TestIntrospectInactive(t *testing.T) {
	w := newWorld(t, nil)
	otherAPI, _ := w.idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI})
	otherAPI["aud"] = "https://other.example"
	for name, token := range map[string]string{
		"forged":       w.user[:len(w.user)-4] + "AAAA",
		"expired":      w.expired,
		"other API":    w.mint(t, otherAPI),
		"not a token":  "hello",
		"bad chars":    "a b\"c",
		"huge":         strings.Repeat("a", 20<<10),
		"unsigned":     func() string { tok, _ := w.idp.Mint(otherAPI, idptest.WithoutSignature()); return tok }(),
		"opaque token": w.idp.OpaqueToken(otherAPI),
	} {
		a := introspect(t, w.ts.URL, url.Values{"token": {token}}, basic("venue-api", "venue-api-secret"))
		if a.status != 200 || !reflect.DeepEqual(a.body, map[string]any{"active": false}) {
			t.Errorf("%s: %d %v, want 200 {active: false}", name, a.status, a.body)
		}
	}
}

func TestIntrospectClientAuthentication(t *testing.T) {
	w := newWorld(t, nil)
	form := url.Values{"token": {w.user}}
	for _, tc := range []struct {
		name string
		auth func(*http.Request)
		want int
	}{
		{"no credentials", nil, 401},
		{"wrong secret", basic("venue-api", "nope"), 401},
		{"unknown client", basic("stranger", "venue-api-secret"), 401},
		{"another client's secret", basic("billing", "venue-api-secret"), 401},
		{"bearer instead of basic", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+w.user) }, 401},
		{"credentials in the body only", func(r *http.Request) {}, 401},
		{"good", basic("venue-api", "venue-api-secret"), 200},
		{"secret with colons and odd characters", basic("billing", "a:secret+with/odd=chars"), 200},
		{"form-encoded as RFC 6749 asks", basic("billing", url.QueryEscape("a:secret+with/odd=chars")), 200},
	} {
		f := form
		if tc.name == "credentials in the body only" {
			f = url.Values{"token": {w.user}, "client_id": {"venue-api"}, "client_secret": {"venue-api-secret"}}
		}
		a := introspect(t, w.ts.URL, f, tc.auth)
		if a.status != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, a.status, a.body, tc.want)
		}
		if tc.want == 401 && (a.header.Get("WWW-Authenticate") != `Basic realm="introspect", charset="UTF-8"` || a.body["error"] != "invalid_client") {
			t.Errorf("%s: challenge %q, body %v", tc.name, a.header.Get("WWW-Authenticate"), a.body)
		}
	}
}

func TestIntrospectRequests(t *testing.T) {
	w := newWorld(t, nil)
	auth := basic("venue-api", "venue-api-secret")
	for name, form := range map[string]url.Values{
		"no token":   {"token_type_hint": {"access_token"}},
		"two tokens": {"token": {w.user, w.partner}},
	} {
		if a := introspect(t, w.ts.URL, form, auth); a.status != 400 || a.body["error"] != "invalid_request" {
			t.Errorf("%s: %d %v", name, a.status, a.body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, w.ts.URL+"/introspect?token="+w.user, nil)
	auth(req)
	if a := do(t, req); a.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /introspect: %d", a.status)
	}
	req, _ = http.NewRequest(http.MethodPost, w.ts.URL+"/introspect", strings.NewReader(`{"token":"`+w.user+`"}`))
	req.Header.Set("Content-Type", "application/json")
	auth(req)
	if a := do(t, req); a.status != 400 {
		t.Errorf("JSON body: %d", a.status)
	}
}

// forward asks /auth (or /auth/…) about a request, with headers as a
// gateway sets them.
func forward(t *testing.T, method, target, token string, headers ...string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return do(t, req)
}

func TestForwardAuthRules(t *testing.T) {
	w := newWorld(t, nil)
	nginx := func(method, uri string) []string { return []string{"X-Original-Method", method, "X-Original-URI", uri} }
	traefik := func(method, uri string) []string {
		return []string{"X-Forwarded-Method", method, "X-Forwarded-Uri", uri}
	}
	const scopeChallenge = `Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="book:venues"`
	const kindChallenge = `Bearer realm="api", error="insufficient_scope", error_description="this kind of caller may not make this request"`
	for _, tc := range []struct {
		name      string
		method    string // of the request to the token service
		path      string
		token     string
		headers   []string
		want      int
		challenge string
	}{
		// nginx's header style
		{"nginx: user books", "GET", "/auth", w.user, nginx("POST", "/v1/venues/v1/bookings"), 200, ""},
		{"nginx: machine may not book", "GET", "/auth", w.machine, nginx("POST", "/v1/venues/v1/bookings"), 403, scopeChallenge},
		{"nginx: machine reads", "GET", "/auth", w.machine, nginx("GET", "/v1/venues?page=2"), 200, ""},
		{"nginx: HEAD follows GET's rule", "GET", "/auth", w.user, nginx("HEAD", "/v1/venues"), 200, ""},
		{"nginx: no rule, any valid token", "GET", "/auth", w.machine, nginx("DELETE", "/v2/things"), 200, ""},
		{"nginx: dot segments cleaned before matching", "GET", "/auth", w.machine, nginx("POST", "/v1/x/../venues//v1/bookings"), 403, scopeChallenge},
		{"nginx: escapes decoded before matching", "GET", "/auth", w.machine, nginx("POST", "/v1/%76enues/v1/bookings"), 403, scopeChallenge},
		{"nginx: method case", "GET", "/auth", w.machine, nginx("post", "/v1/venues/v1/bookings"), 403, scopeChallenge},
		{"nginx: kind rule refuses users", "GET", "/auth", w.user, nginx("GET", "/v1/partners/x"), 403, kindChallenge},
		{"nginx: kind rule lets partners through", "GET", "/auth", w.partner, nginx("GET", "/v1/partners/x"), 200, ""},
		{"nginx: audience rule", "GET", "/auth", w.user, nginx("GET", "/v1/other-api/x"), 403,
			`Bearer realm="api", error="insufficient_scope", error_description="the access token is not for this API"`},
		{"nginx: URI without method", "GET", "/auth", w.user, []string{"X-Original-URI", "/v1/venues"}, 400, ""},
		{"nginx: relative URI", "GET", "/auth", w.user, nginx("GET", "v1/venues"), 400, ""},
		// Traefik's
		{"traefik: user books", "GET", "/auth", w.user, traefik("POST", "/v1/venues/v1/bookings"), 200, ""},
		{"traefik: machine may not book", "GET", "/auth", w.machine, traefik("POST", "/v1/venues/v1/bookings"), 403, scopeChallenge},
		{"traefik: two URIs", "GET", "/auth", w.user, append(traefik("GET", "/v1/venues"), "X-Forwarded-Uri", "/x"), 400, ""},
		// a client adding the other style to pick its rule
		{"both styles refused", "GET", "/auth", w.machine, append(nginx("POST", "/v1/venues/v1/bookings"), traefik("GET", "/public")...), 400, ""},
		// Envoy's: the original method and path under /auth/
		{"envoy: user books", "POST", "/auth/v1/venues/v1/bookings", w.user, nil, 200, ""},
		{"envoy: machine may not book", "POST", "/auth/v1/venues/v1/bookings", w.machine, nil, 403, scopeChallenge},
		{"envoy: machine reads", "GET", "/auth/v1/venues", w.machine, nil, 200, ""},
		{"envoy: any method", "PATCH", "/auth/v2/things", w.user, nil, 200, ""},
		// authentication answers
		{"no token", "GET", "/auth", "", nginx("GET", "/v1/venues"), 401, `Bearer realm="api"`},
		{"expired token", "GET", "/auth", w.expired, nginx("GET", "/v1/venues"), 401,
			`Bearer realm="api", error="invalid_token", error_description="the access token expired"`},
		{"forged token", "POST", "/auth/v1/venues", w.user + "x", nil, 401,
			`Bearer realm="api", error="invalid_token", error_description="the access token is invalid"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := forward(t, tc.method, w.ts.URL+tc.path, tc.token, tc.headers...)
			if a.status != tc.want {
				t.Fatalf("%d %v %v, want %d", a.status, a.header, a.body, tc.want)
			}
			if got := a.header.Get("WWW-Authenticate"); tc.challenge != "" && got != tc.challenge {
				t.Errorf("challenge %s\nwant      %s", got, tc.challenge)
			}
			if a.status != 200 {
				if a.header.Get("X-Auth-Subject") != "" {
					t.Error("identity headers on a refusal")
				}
				return
			}
			if a.header.Get("X-Auth-Subject") == "" || a.header.Get("X-Auth-Kind") == "" {
				t.Errorf("identity headers missing: %v", a.header)
			}
		})
	}
}

func TestForwardAuthIdentityHeaders(t *testing.T) {
	w := newWorld(t, nil)
	for token, want := range map[string]map[string]string{
		w.user: {"X-Auth-Subject": "auth0|alice", "X-Auth-Client": "venue-app", "X-Auth-Org": "org_acme",
			"X-Auth-Scopes": "book:venues read:venues", "X-Auth-Kind": "user"},
		w.partner: {"X-Auth-Subject": "auth0|bob", "X-Auth-Client": "partner-app", "X-Auth-Org": "org_globex",
			"X-Auth-Scopes": "read:venues", "X-Auth-Kind": "delegated"},
		w.machine: {"X-Auth-Subject": "venue-worker@clients", "X-Auth-Client": "venue-worker", "X-Auth-Org": "",
			"X-Auth-Scopes": "read:datasets read:venues", "X-Auth-Kind": "machine"},
	} {
		a := forward(t, "GET", w.ts.URL+"/auth", token, "X-Original-Method", "GET", "X-Original-URI", "/v1/venues")
		for k, v := range want {
			if vs, ok := a.header[k]; a.status != 200 || !ok || vs[0] != v {
				t.Errorf("%s: %s = %q (present %v), want %q", want["X-Auth-Subject"], k, a.header.Get(k), ok, v)
			}
		}
	}
}

// The provider unreachable: 503 with Retry-After on both endpoints, never
// {"active": false} and never 401. The token is signed by a key the service
// has not seen, so it must fetch the key set, and that fetch fails.
func TestProviderDown(t *testing.T) {
	w := newWorld(t, nil)
	seen := introspect(t, w.ts.URL, url.Values{"token": {w.user}}, basic("venue-api", "venue-api-secret"))
	w.idp.SetFault(idptest.EndpointJWKS, idptest.FaultUnavailable)
	if _, err := w.idp.RotateKey("RS256"); err != nil {
		t.Fatal(err)
	}
	fresh := w.userToken(t, "alice", "venue-app", "org_acme", nil)
	a := introspect(t, w.ts.URL, url.Values{"token": {fresh}}, basic("venue-api", "venue-api-secret"))
	if a.status != 503 || a.body["active"] != nil || a.body["error"] != "temporarily_unavailable" {
		t.Errorf("introspect: %d %v, want 503", a.status, a.body)
	}
	if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("introspect: Retry-After %q", a.header.Get("Retry-After"))
	}
	for _, path := range []string{"/auth", "/auth/v1/venues"} {
		a := forward(t, "GET", w.ts.URL+path, fresh, "X-Original-Method", "GET", "X-Original-URI", "/v1/venues")
		if path != "/auth" {
			a = forward(t, "GET", w.ts.URL+path, fresh)
		}
		if a.status != 503 || a.header.Get("Retry-After") == "" || a.header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: %d %v %v, want 503 with Retry-After", path, a.status, a.header, a.body)
		}
	}
	// A token the service has cached is still answered.
	if a := introspect(t, w.ts.URL, url.Values{"token": {w.user}}, basic("venue-api", "venue-api-secret")); a.status != 200 || !reflect.DeepEqual(a.body, seen.body) {
		t.Errorf("cached token: %d %v, want %v", a.status, a.body, seen.body)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	w := newWorld(t, nil)
	introspect(t, w.ts.URL, url.Values{"token": {w.user}}, basic("venue-api", "venue-api-secret"))
	introspect(t, w.ts.URL, url.Values{"token": {w.user}}, nil)
	forward(t, "GET", w.ts.URL+"/auth", w.machine, "X-Original-Method", "POST", "X-Original-URI", "/v1/venues/x")
	if a := forward(t, "GET", w.ts.URL+"/healthz", ""); a.status != 200 || a.body["text"] != "ok\n" {
		t.Errorf("healthz: %d %v", a.status, a.body)
	}
	a := forward(t, "GET", w.ts.URL+"/metrics", "")
	text, _ := a.body["text"].(string)
	for _, line := range []string{
		`authgate_tokenservice_answers_total{endpoint="introspect",status="200"} 1`,
		`authgate_tokenservice_answers_total{endpoint="introspect",status="401"} 1`,
		`authgate_tokenservice_answers_total{endpoint="auth",status="403"} 1`,
		`authgate_authn_requests_total{outcome="ok"} 2`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("metrics lack %s", line)
		}
	}
	if strings.Contains(text, w.user) || strings.Contains(text, "alice") {
		t.Error("a token or a subject in the metrics")
	}
}

// TestQuickstartAsPrinted starts the program as its doc's first command
// does, with a real memcached added, and replays the curl lines it prints.
func TestQuickstartAsPrinted(t *testing.T) {
	mc := memcachedtest.Start(t)
	p := quickstart.Start(t, run, map[string]string{
		"MEMCACHE_SERVERS": mc.Addr(),
		"AUTHGATE_SECRET":  "a secret of at least thirty-two bytes",
	})
	if n := quickstart.Replay(t, p.Output()); n < 12 {
		t.Fatalf("only %d command lines printed:\n%s", n, p.Output())
	}
}

func TestSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // "" = accepted
	}{
		{map[string]string{}, ""},
		{map[string]string{"ISSUER_URL": "https://a/", "AUDIENCE": "x, "}, ""},
		{map[string]string{"ISSUER_URL": "https://a/"}, "AUDIENCE is required"},
		{map[string]string{"ISSUER_URL": "https://a/,https://b/", "AUDIENCE": "x"}, ""},
		{map[string]string{"ISSUER_URL": "https://a/", "AUDIENCE": "x,y"}, ""},
		{map[string]string{"CLAIMS_PRESET": "AUTH0"}, ""},
		{map[string]string{"CLAIMS_PRESET": "okta"}, ""},
		{map[string]string{"CLAIMS_PRESET": "ping"}, "CLAIMS_PRESET"},
		{map[string]string{"MEMCACHE_SERVERS": "m:11211"}, "AUTHGATE_SECRET"},
		{map[string]string{"SERVICE_CLIENTS": "a:b,c"}, "id:secret pairs"},
		{map[string]string{"SERVICE_CLIENTS": ":b"}, "id:secret pairs"},
		{map[string]string{"SERVICE_CLIENTS": "a:b,a:c"}, "twice"},
		{map[string]string{"AUTHGATE_SECRET": "a secret of at least thirty-two bytes", "AUTHGATE_PREVIOUS_SECRET": "another secret of thirty-two bytes",
			"AUTHGATE_PREVIOUS_SECRET_ID": "2"}, ""},
		{map[string]string{"AUTHGATE_SECRET": "a secret of at least thirty-two bytes", "AUTHGATE_PREVIOUS_SECRET": "another secret of thirty-two bytes"}, "go together"},
		{map[string]string{"AUTHGATE_SECRET": "short"}, "AUTHGATE_SECRET: 5 bytes"},
	} {
		_, err := readSettings(func(k string) string { return tc.env[k] })
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.want)
		}
	}
	s, _ := readSettings(func(k string) string {
		return map[string]string{"ISSUER_URL": " https://a/ ", "AUDIENCE": "x", "FIRST_PARTY_CLIENTS": "app1, app2"}[k]
	})
	if s.addr != "127.0.0.1:8081" || s.namespace != "tokenservice" || !reflect.DeepEqual(s.issuers, []string{"https://a/"}) ||
		!reflect.DeepEqual(s.mapping.FirstPartyClients, []string{"app1", "app2"}) || len(s.secrets.Current) < 32 {
		t.Errorf("defaults: %+v", s)
	}
}
