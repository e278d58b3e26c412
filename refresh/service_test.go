package refresh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/refresh"
	"github.com/authgate/authgate/tokenvalidator"
)

const api = "https://api.venue.example"

var (
	hashKey = []byte("refresh-names-refresh-names-1234")
	key1    = refresh.Key{ID: 1, Secret: []byte("record-key-one-record-key-one-32")}
	key2    = refresh.Key{ID: 2, Secret: []byte("record-key-two-record-key-two-32")}
)

// observer records the refresh tokens the provider hands out, by watching
// the real traffic to its token endpoint: they never leave the service, so
// this is how a test can ask idptest about them.
type observer struct {
	mu     sync.Mutex
	tokens []string
	spent  time.Duration // in token-endpoint calls, answers read
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/oauth/token") {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	o.mu.Lock()
	o.spent += time.Since(start)
	o.mu.Unlock()
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var t struct {
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &t) == nil && t.RefreshToken != "" {
		o.mu.Lock()
		o.tokens = append(o.tokens, t.RefreshToken)
		o.mu.Unlock()
	}
	return resp, nil
}

func (o *observer) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.tokens...)
}

func (o *observer) latest() string { all := o.all(); return all[len(all)-1] }

// providerTime returns the time spent in token-endpoint calls so far.
func (o *observer) providerTime() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.spent
}

type env struct {
	t     testing.TB
	idp   *idptest.Server
	mc    *memcachedtest.Server
	store refresh.Store
	seen  *observer
}

// newEnv starts the provider (the demo tenant, changed by mutate) and a
// memcached.
func newEnv(t testing.TB, mutate ...func(*idptest.Config)) *env {
	cfg := idptest.Demo()
	for _, m := range mutate {
		m(&cfg)
	}
	idp := idptest.Start(t, cfg)
	idp.SetNow(time.Now())
	mc := memcachedtest.Start(t)
	// A hundred concurrent refreshes on a cold pool dial a hundred
	// connections at once; under -race on two cores some take longer than
	// the cache's 100 ms. That is a 503 in production (nothing lost, the
	// client retries); here the tests are about the refresh logic.
	cluster, err := cache.NewCluster([]string{mc.Addr()}, cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Close() })
	return &env{t: t, idp: idp, mc: mc, store: refresh.NewMemcacheStore(cluster), seen: &observer{}}
}

func (e *env) verifier() *tokenvalidator.JWKS {
	v, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{Issuer: e.idp.Issuer(), Audiences: []string{api}},
		tokenvalidator.WithClock(e.idp.Now))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { v.Close() })
	return v
}

// api is the resource server beside the service: an Authenticator sharing
// the memcached.
func (e *env) api() *authn.Authenticator {
	cluster, err := cache.NewCluster([]string{e.mc.Addr()}, cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cluster.Close() })
	shared, err := cache.NewMemcache(cluster, cache.MemcacheConfig{Namespace: "test", HashKey: hashKey,
		MACKeys: []cache.MACKey{{ID: 1, Secret: key1.Secret}}}, cache.WithClock(e.idp.Now))
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := authn.NewAuthenticator(e.verifier(), authn.Config{}, authn.WithMemcache(shared), authn.WithClock(e.idp.Now))
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) service(keys []refresh.Key, opts ...refresh.Option) *refresh.Service {
	e.t.Helper()
	return e.serviceWith(func(c *refresh.Config) { c.EncryptionKeys = keys }, opts...)
}

// serviceWith returns a service with the test's configuration changed by
// mutate, its HTTP client (one without a Timeout: Config.Timeout alone
// must bound every call) and clock, and opts.
func (e *env) serviceWith(mutate func(*refresh.Config), opts ...refresh.Option) *refresh.Service {
	e.t.Helper()
	opts = append([]refresh.Option{refresh.WithClock(e.idp.Now), refresh.WithHTTPClient(&http.Client{Transport: e.seen})}, opts...)
	cfg := refresh.Config{
		TokenURL: e.idp.TokenURL(), RevocationURL: e.idp.RevocationURL(),
		ClientID: "venue-app", ClientSecret: "venue-app-secret", Audience: api,
		Scopes:    []string{"openid", "offline_access", "read:venues", "book:venues"},
		Namespace: "test", HashKey: hashKey, EncryptionKeys: []refresh.Key{key1}, Timeout: 2 * time.Second,
	}
	mutate(&cfg)
	s, err := refresh.New(e.store, e.verifier(), cfg, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// server serves the three endpoints of s over HTTP, as an instance would.
func (e *env) server(s *refresh.Service) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("POST /auth/login", s.LoginHandler())
	mux.Handle("POST /auth/refresh", s.RefreshHandler())
	mux.Handle("POST /auth/logout", s.LogoutHandler())
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	body   map[string]any
	header http.Header
}

func post(t *testing.T, u string, header map[string]string, form url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	_ = json.NewDecoder(resp.Body).Decode(&a.body)
	return a
}

func login(t *testing.T, srv *httptest.Server, user string) string {
	t.Helper()
	a := post(t, srv.URL+"/auth/login", nil, url.Values{"username": {user}, "password": {user + "-password"}})
	if a.status != 200 {
		t.Fatalf("login: %d %v", a.status, a.body)
	}
	if _, ok := a.body["refresh_token"]; ok {
		t.Fatal("the login answer carries a refresh token")
	}
	if a.body["token_type"] != "Bearer" || a.body["expires_in"].(float64) <= 0 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login answer: %v %v", a.body, a.header)
	}
	return a.body["access_token"].(string)
}

func refreshOnce(t *testing.T, srv *httptest.Server, token string) answer {
	t.Helper()
	return post(t, srv.URL+"/auth/refresh", map[string]string{"Authorization": "Bearer " + token}, nil)
}

// TestRefreshChain: ten refreshes in a row, each new token accepted by the
// API; afterwards every old token is refused by /refresh.
func TestRefreshChain(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}))
	apiAuth := e.api()
	tok := login(t, srv, "alice")
	var old []string
	for i := range 10 {
		e.idp.ResetCalls()
		a := refreshOnce(t, srv, tok)
		if a.status != 200 {
			t.Fatalf("refresh %d: %d %v", i, a.status, a.body)
		}
		if e.idp.Calls(idptest.EndpointToken) != 1 {
			t.Fatalf("refresh %d: %d provider calls", i, e.idp.Calls(idptest.EndpointToken))
		}
		old = append(old, tok)
		tok = a.body["access_token"].(string)
		if _, err := apiAuth.Authenticate(context.Background(), tok); err != nil {
			t.Fatalf("the API refuses refreshed token %d: %v", i, err)
		}
		e.idp.Advance(31 * time.Second) // past the grace window
	}
	for i, o := range old {
		if a := refreshOnce(t, srv, o); a.status != 401 || a.body["error"] != "invalid_token" {
			t.Errorf("old token %d: %d %v", i, a.status, a.body)
		}
	}
}

// TestConcurrentRefresh: 100 concurrent refreshes of one access token,
// spread over two instances sharing memcached, make one provider call and
// all get the same new access token.
func TestConcurrentRefresh(t *testing.T) {
	e := newEnv(t)
	one, two := e.server(e.service([]refresh.Key{key1})), e.server(e.service([]refresh.Key{key1}))
	tok := login(t, one, "alice")
	e.idp.ResetCalls()
	var wg sync.WaitGroup
	results := make(chan answer, 100)
	start := make(chan struct{})
	for i := range 100 {
		srv := one
		if i%2 == 1 {
			srv = two
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results <- refreshOnce(t, srv, tok)
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	tokens := map[any]int{}
	for a := range results {
		if a.status != 200 {
			t.Fatalf("a concurrent refresh failed: %d %v", a.status, a.body)
		}
		tokens[a.body["access_token"]]++
	}
	if len(tokens) != 1 {
		t.Errorf("%d different access tokens handed out, want 1", len(tokens))
	}
	if n := e.idp.Calls(idptest.EndpointToken); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
}

// TestReuseRevokesTheFamily: a rotated token presented after the grace
// window revokes the family at the provider, and the user must log in.
func TestReuseRevokesTheFamily(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}, refresh.WithTokenCache(e.api())))
	apiAuth := e.api()
	first := login(t, srv, "alice")
	second := refreshOnce(t, srv, first).body["access_token"].(string)
	if a := refreshOnce(t, srv, first); a.status != 200 || a.body["access_token"] != second {
		t.Fatalf("a duplicate within the grace window: %d %v, want the same token", a.status, a.body)
	}
	newest := e.seen.latest()
	if e.idp.RefreshTokenState(newest) != idptest.RefreshActive {
		t.Fatal("the newest refresh token is not active")
	}
	e.idp.Advance(31 * time.Second)
	if a := refreshOnce(t, srv, first); a.status != 401 {
		t.Fatalf("replay after the grace window: %d %v, want 401", a.status, a.body)
	}
	if st := e.idp.RefreshTokenState(newest); st != idptest.RefreshRevoked {
		t.Errorf("the family's newest refresh token is %v at the provider, want revoked", st)
	}
	if a := refreshOnce(t, srv, second); a.status != 401 {
		t.Errorf("the newest access token still refreshes: %d", a.status)
	}
	if _, err := apiAuth.Authenticate(context.Background(), second); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("the API still accepts the family's newest access token: %v", err)
	}
}

// TestNoRefreshTokenInMemcached dumps every memcached value after logins
// and refreshes: none holds a refresh token (nor an access token).
func TestNoRefreshTokenInMemcached(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}))
	var accessTokens []string
	for _, u := range []string{"alice", "bob", "carol"} {
		tok := login(t, srv, u)
		next := refreshOnce(t, srv, tok).body["access_token"].(string)
		accessTokens = append(accessTokens, tok, next)
	}
	secrets := append(e.seen.all(), accessTokens...)
	if len(e.seen.all()) != 6 {
		t.Fatalf("observed %d refresh tokens, want 6", len(e.seen.all()))
	}
	raw := memcache.New(e.mc.Addr())
	keys := dumpKeys(t, e.mc.Addr())
	if len(keys) < 6 {
		t.Fatalf("only %d keys in memcached", len(keys))
	}
	for _, k := range keys {
		it, err := raw.Get(k)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			if bytes.Contains(it.Value, []byte(s)) || strings.Contains(k, s) {
				t.Fatalf("memcached key %q holds a token", k)
			}
		}
		if bytes.Contains(it.Value, []byte("auth0|")) {
			t.Errorf("memcached value under %q shows a subject in clear", k)
		}
	}
}

// dumpKeys lists every key memcached holds (lru_crawler metadump).
func dumpKeys(t *testing.T, addr string) []string {
	t.Helper()
	keys, err := memcachedtest.Keys(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// records keeps the names of logins' records, leaving out the sessions'
// indexes and heads (agr1:<namespace>:sub:… and :fam:…).
func records(keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.Count(k, ":") == 2 {
			out = append(out, k)
		}
	}
	return out
}

// TestTamperedAndMovedRecords: a changed record, or one moved under another
// access token's name, does not open.
func TestTamperedAndMovedRecords(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}))
	raw := memcache.New(e.mc.Addr())
	alice, bob := login(t, srv, "alice"), login(t, srv, "bob")
	keys := records(dumpKeys(t, e.mc.Addr()))
	if len(keys) != 2 {
		t.Fatalf("want 2 records, got %v", keys)
	}
	a, _ := raw.Get(keys[0])
	b, _ := raw.Get(keys[1])

	// Move: put each record under the other's name.
	_ = raw.Set(&memcache.Item{Key: keys[0], Value: b.Value})
	_ = raw.Set(&memcache.Item{Key: keys[1], Value: a.Value})
	for name, tok := range map[string]string{"alice": alice, "bob": bob} {
		if r := refreshOnce(t, srv, tok); r.status != 401 {
			t.Errorf("%s's record moved: %d", name, r.status)
		}
	}
	// Tamper: flip one byte of a record in its own place.
	carol := login(t, srv, "carol")
	for _, k := range records(dumpKeys(t, e.mc.Addr())) {
		if k != keys[0] && k != keys[1] {
			it, _ := raw.Get(k)
			it.Value[len(it.Value)/2] ^= 1
			_ = raw.Set(it)
		}
	}
	if r := refreshOnce(t, srv, carol); r.status != 401 {
		t.Errorf("tampered record: %d", r.status)
	}
}

// TestEncryptionKeyRotation: with keys [k2, k1], records sealed under k1
// still open, and new ones are sealed under k2.
func TestEncryptionKeyRotation(t *testing.T) {
	e := newEnv(t)
	old := e.server(e.service([]refresh.Key{key1}))
	tok := login(t, old, "alice")
	rotated := e.server(e.service([]refresh.Key{key2, key1}))
	a := refreshOnce(t, rotated, tok)
	if a.status != 200 {
		t.Fatalf("record under the previous key: %d %v", a.status, a.body)
	}
	onlyNew := e.server(e.service([]refresh.Key{key2}))
	if r := refreshOnce(t, onlyNew, a.body["access_token"].(string)); r.status != 200 {
		t.Fatalf("record sealed after the rotation: %d %v", r.status, r.body)
	}
	tok2 := login(t, old, "bob")
	if r := refreshOnce(t, onlyNew, tok2); r.status != 401 {
		t.Errorf("a record under a dropped key opened: %d", r.status)
	}
}

// TestProviderDown: a refresh while the provider is down answers 503 and
// loses nothing: the next refresh succeeds with the same record.
func TestProviderDown(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}))
	tok := login(t, srv, "alice")
	for _, f := range []idptest.Fault{idptest.FaultUnavailable, idptest.FaultError, idptest.FaultDrop} {
		e.idp.SetFault(idptest.EndpointToken, f)
		a := refreshOnce(t, srv, tok)
		if a.status != 503 || a.header.Get("Retry-After") == "" {
			t.Fatalf("fault %v: %d %v", f, a.status, a.body)
		}
	}
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
	if a := refreshOnce(t, srv, tok); a.status != 200 {
		t.Fatalf("after the provider came back: %d %v", a.status, a.body)
	}
}

// TestInvalidGrant: the provider refusing the refresh token (here: the user
// was deleted) ends the login.
func TestInvalidGrant(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}))
	tok := login(t, srv, "alice")
	e.idp.RemoveUser("alice")
	if a := refreshOnce(t, srv, tok); a.status != 401 || a.body["error"] != "invalid_token" {
		t.Fatalf("deleted user: %d %v", a.status, a.body)
	}
	if len(dumpKeys(t, e.mc.Addr())) != 0 {
		t.Error("the record survived invalid_grant")
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	apiAuth := e.api()
	srv := e.server(e.service([]refresh.Key{key1}, refresh.WithTokenCache(apiAuth)))
	tok := login(t, srv, "alice")
	if _, err := apiAuth.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	rt := e.seen.latest()
	a := post(t, srv.URL+"/auth/logout", map[string]string{"Authorization": "Bearer " + tok}, nil)
	if a.status != 204 {
		t.Fatalf("logout: %d %v", a.status, a.body)
	}
	if st := e.idp.RefreshTokenState(rt); st != idptest.RefreshRevoked {
		t.Errorf("refresh token after logout: %v at the provider", st)
	}
	if a := refreshOnce(t, srv, tok); a.status != 401 {
		t.Errorf("refresh after logout: %d", a.status)
	}
	if _, err := apiAuth.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("the API accepts a logged-out token: %v", err)
	}
	if a := post(t, srv.URL+"/auth/logout", map[string]string{"Authorization": "Bearer " + tok}, nil); a.status != 204 {
		t.Errorf("second logout: %d", a.status)
	}
}

// TestRefreshRefusesBadTokens: the token may be expired, but must verify
// and be young enough.
func TestRefreshRefusesBadTokens(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}))
	tok := login(t, srv, "alice")
	forged, _ := e.idp.Mint(map[string]any{"iss": e.idp.Issuer(), "sub": "auth0|alice", "aud": api, "exp": 1, "iat": 1},
		idptest.WithUnpublishedKey())
	if a := refreshOnce(t, srv, forged); a.status != 401 {
		t.Errorf("forged token: %d", a.status)
	}
	e.idp.Advance(25 * time.Hour) // the access token has expired: still refreshable
	a := refreshOnce(t, srv, tok)
	if a.status != 200 {
		t.Fatalf("expired access token: %d %v", a.status, a.body)
	}
	e.idp.Advance(8 * 24 * time.Hour) // older than MaxAccessTokenAge
	if a := refreshOnce(t, srv, a.body["access_token"].(string)); a.status != 401 {
		t.Errorf("a token issued 8 days ago: %d", a.status)
	}
}

func TestHandlerAnswers(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}))
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		form   url.Values
		want   int
		code   any
	}{
		{"wrong password", "/auth/login", nil, url.Values{"username": {"alice"}, "password": {"nope"}}, 401, "invalid_grant"},
		{"no password", "/auth/login", nil, url.Values{"username": {"alice"}}, 400, "invalid_request"},
		{"refresh without a token", "/auth/refresh", nil, nil, 401, nil},
		{"refresh with a malformed header", "/auth/refresh", map[string]string{"Authorization": "Bearer a b"}, nil, 400, "invalid_request"},
		{"refresh with an unknown token", "/auth/refresh", map[string]string{"Authorization": "Bearer abc"}, nil, 401, "invalid_token"},
		{"logout without a token", "/auth/logout", nil, nil, 401, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, srv.URL+tc.path, tc.header, tc.form)
			if a.status != tc.want || a.body["error"] != tc.code {
				t.Errorf("got %d %v, want %d %v", a.status, a.body, tc.want, tc.code)
			}
			if tc.want == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer realm=") {
				t.Errorf("401 without a Bearer challenge: %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}
	resp, err := http.Get(srv.URL + "/auth/refresh")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /auth/refresh: %d, want 405", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/auth/login", strings.NewReader(`{"username":"alice","password":"alice-password"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("JSON login: %d", resp.StatusCode)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	e := newEnv(t)
	good := refresh.Config{TokenURL: e.idp.TokenURL(), ClientID: "c", ClientSecret: "s", Namespace: "n", HashKey: hashKey, EncryptionKeys: []refresh.Key{key1}}
	for name, mutate := range map[string]func(*refresh.Config){
		"no token URL":     func(c *refresh.Config) { c.TokenURL = "" },
		"relative URL":     func(c *refresh.Config) { c.TokenURL = "/oauth/token" },
		"no client":        func(c *refresh.Config) { c.ClientSecret = "" },
		"no namespace":     func(c *refresh.Config) { c.Namespace = "" },
		"short hash key":   func(c *refresh.Config) { c.HashKey = []byte("short") },
		"no keys":          func(c *refresh.Config) { c.EncryptionKeys = nil },
		"short key":        func(c *refresh.Config) { c.EncryptionKeys = []refresh.Key{{ID: 1, Secret: []byte("short")}} },
		"duplicate key id": func(c *refresh.Config) { c.EncryptionKeys = []refresh.Key{key1, key1} },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := refresh.New(e.store, e.verifier(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestStoreDown: with memcached gone, a login still hands out its access
// token (the provider has issued it; a 503 would lose the refresh token all
// the same), revokes the refresh token it cannot keep, and a refresh is 503.
func TestStoreDown(t *testing.T) {
	e := newEnv(t)
	srv := e.server(e.service([]refresh.Key{key1}))
	e.mc.Stop()
	tok := login(t, srv, "alice")
	if st := e.idp.RefreshTokenState(e.seen.latest()); st != idptest.RefreshRevoked {
		t.Errorf("the unstored refresh token is %v at the provider, want revoked", st)
	}
	if a := refreshOnce(t, srv, tok); a.status != 503 {
		t.Errorf("refresh with the store down: %d %v, want 503", a.status, a.body)
	}
}

// TestExchangeCode: a web app's authorization-code login (with PKCE) keeps
// the refresh token as the password login does; a code works once.
func TestExchangeCode(t *testing.T) {
	e := newEnv(t)
	s := e.service([]refresh.Key{key1})
	srv := e.server(s)
	verifier := "a-pkce-code-verifier-of-forty-three-chars-or-more"
	code, err := e.idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "venue-app", Username: "alice",
		RedirectURI: "https://venue.example/cb", Audience: api, Scopes: []string{"openid", "offline_access", "read:venues"},
		CodeChallenge: idptest.S256Challenge(verifier), CodeChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.ExchangeCode(context.Background(), code, "https://venue.example/cb", verifier)
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	if a := refreshOnce(t, srv, tok.AccessToken); a.status != 200 {
		t.Fatalf("refreshing a code login: %d %v", a.status, a.body)
	}
	if _, err := s.ExchangeCode(context.Background(), code, "https://venue.example/cb", verifier); !errors.Is(err, refresh.ErrLoginRequired) {
		t.Errorf("a code used twice: %v, want ErrLoginRequired", err)
	}
}

// TestNewTokenThatDoesNotVerify: a login whose new access token the service
// cannot check (no audience asked: the provider answers with an opaque
// token, and the service has no token cache to check it with) is the
// service's configuration at fault — 502 — with a refresh token or without
// one.
func TestNewTokenThatDoesNotVerify(t *testing.T) {
	for name, scopes := range map[string][]string{
		"with a refresh token":    {"openid", "offline_access"},
		"without a refresh token": {"openid"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			srv := e.server(e.serviceWith(func(c *refresh.Config) { c.Audience, c.Scopes = "", scopes }))
			a := post(t, srv.URL+"/auth/login", nil, url.Values{"username": {"alice"}, "password": {"alice-password"}})
			if a.status != 502 {
				t.Fatalf("login with a token that does not verify: %d %v, want 502", a.status, a.body)
			}
		})
	}
}
