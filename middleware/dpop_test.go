package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// The verifier the middleware is handed in production; kept in step here.
var _ middleware.ProofVerifier = (*tokenvalidator.DPoP)(nil)

// settable is a clock the tests move.
type settable struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *settable) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *settable) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// dpopWorld is a client's DPoP key, tokens bound and not bound to it, and
// verifiers on one clock.
type dpopWorld struct {
	key  *idptest.DPoPKey
	clk  *settable
	auth tableAuth
}

const (
	boundToken  = "bound-token" // bound to the world's key
	strayToken  = "stray-token" // bound to another key
	dpopURL     = "http://example.com/v1/whoami"
	defaultAlgs = `algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`
)

func newDPoPWorld(tb testing.TB) *dpopWorld {
	tb.Helper()
	key, err := idptest.NewDPoPKey("ES256")
	if err != nil {
		tb.Fatal(err)
	}
	bound := *alice
	bound.Subject, bound.Confirmation = "auth0|dora", claims.Confirmation{JKT: key.Thumbprint()}
	stray := *alice
	stray.Confirmation = claims.Confirmation{JKT: "someone-elses-key"}
	a := tableAuth{boundToken: {p: &bound}, strayToken: {p: &stray}}
	for k, v := range auth {
		a[k] = v
	}
	return &dpopWorld{key: key, clk: &settable{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}, auth: a}
}

// verifier returns a proof verifier on the world's clock, remembering
// proofs in replay (in process when nil).
func (w *dpopWorld) verifier(tb testing.TB, cfg tokenvalidator.DPoPConfig, replay tokenvalidator.ReplayCache) *tokenvalidator.DPoP {
	tb.Helper()
	if replay == nil {
		replay = cache.NewReplay(cache.ReplayConfig{}, cache.WithClock(w.clk.now))
	}
	v, err := tokenvalidator.NewDPoP(replay, cfg, tokenvalidator.WithClock(w.clk.now))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func (w *dpopWorld) middleware(tb testing.TB, cfg middleware.Config, v middleware.ProofVerifier) *middleware.Middleware {
	tb.Helper()
	m, err := middleware.New(w.auth, cfg, middleware.WithProofVerifier(v))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// proof is the world's key's proof for method and uri with token, at the
// world's clock.
func (w *dpopWorld) proof(tb testing.TB, method, uri, token, nonce string, opts ...idptest.ProofOption) string {
	tb.Helper()
	opts = append([]idptest.ProofOption{idptest.WithProofClaim("iat", w.clk.now().Unix())}, opts...)
	p, err := w.key.Proof(method, uri, token, nonce, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// request is a GET of dpopURL with the Authorization header (if not "")
// and the DPoP headers given.
func request(authorization string, proofs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, dpopURL, nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

// TestDPoPModes: what each mode answers to each kind of request, with the
// challenges of RFC 9449 §7.1 and §7.2.
func TestDPoPModes(t *testing.T) {
	w := newDPoPWorld(t)
	v := w.verifier(t, tokenvalidator.DPoPConfig{}, nil)
	good := func() string { return w.proof(t, http.MethodGet, dpopURL, boundToken, "") }
	other, _ := idptest.NewDPoPKey("ES256")
	otherProof, _ := other.Proof(http.MethodGet, dpopURL, boundToken, "", idptest.WithProofClaim("iat", w.clk.now().Unix()))

	bearerOnly := `Bearer realm="api"`
	both := `Bearer realm="api", DPoP realm="api", ` + defaultAlgs
	dpopOnly := `DPoP realm="api", ` + defaultAlgs
	for _, tc := range []struct {
		name      string
		mode      middleware.DPoPMode
		req       *http.Request
		status    int
		challenge string // with "…" standing for the error attributes
		body      string // a part of the body, or the subject on 200
	}{
		{"off: bearer", middleware.DPoPOff, request("Bearer alice"), 200, "", "auth0|alice"},
		{"off: bound token as bearer", middleware.DPoPOff, request("Bearer " + boundToken), 401,
			`Bearer realm="api", error="invalid_token", error_description="the access token is DPoP-bound: send it with the DPoP scheme and a proof"`, "DPoP-bound"},
		{"off: DPoP scheme is no credential", middleware.DPoPOff, request("DPoP "+boundToken, good()), 401, bearerOnly, "a bearer token is required"},

		{"allowed: none", middleware.DPoPAllowed, request(""), 401, both, "an access token is required"},
		{"allowed: bearer", middleware.DPoPAllowed, request("Bearer alice"), 200, "", "auth0|alice"},
		{"allowed: bound token with a proof", middleware.DPoPAllowed, request("DPoP "+boundToken, good()), 200, "", "auth0|dora"},
		{"allowed: scheme in any case", middleware.DPoPAllowed, request("dpop "+boundToken, good()), 200, "", "auth0|dora"},
		{"allowed: bound token as bearer", middleware.DPoPAllowed, request("Bearer "+boundToken, good()), 401,
			`Bearer realm="api", error="invalid_token", error_description="the access token is DPoP-bound: send it with the DPoP scheme and a proof", DPoP realm="api", ` + defaultAlgs, "DPoP-bound"},
		{"allowed: invalid bearer token", middleware.DPoPAllowed, request("Bearer forged"), 401,
			`Bearer realm="api", error="invalid_token", error_description="the access token is invalid", DPoP realm="api", ` + defaultAlgs, "invalid_token"},
		{"allowed: invalid DPoP token", middleware.DPoPAllowed, request("DPoP forged", good()), 401,
			`Bearer realm="api", DPoP realm="api", error="invalid_token", error_description="the access token is invalid", ` + defaultAlgs, "invalid_token"},
		{"allowed: unbound token with DPoP", middleware.DPoPAllowed, request("DPoP alice", good()), 401,
			`Bearer realm="api", DPoP realm="api", error="invalid_token", error_description="the access token is not DPoP-bound: send it with the Bearer scheme", ` + defaultAlgs, "not DPoP-bound"},
		{"allowed: no proof", middleware.DPoPAllowed, request("DPoP " + boundToken), 401,
			`Bearer realm="api", DPoP realm="api", error="invalid_dpop_proof", error_description="send exactly one DPoP header with the DPoP scheme", ` + defaultAlgs, "invalid_dpop_proof"},
		{"allowed: two proofs", middleware.DPoPAllowed, request("DPoP "+boundToken, good(), good()), 401, "", "send exactly one DPoP header"},
		{"allowed: another key's proof", middleware.DPoPAllowed, request("DPoP "+boundToken, otherProof), 401,
			`Bearer realm="api", DPoP realm="api", error="invalid_token", error_description="the access token is not bound to the DPoP proof's key", ` + defaultAlgs, "not bound to the DPoP proof's key"},
		{"allowed: token bound to another key", middleware.DPoPAllowed, request("DPoP "+strayToken, w.proof(t, "GET", dpopURL, strayToken, "")), 401, "", "not bound to the DPoP proof's key"},
		{"allowed: proof for another URL", middleware.DPoPAllowed, request("DPoP "+boundToken, w.proof(t, "GET", "http://example.com/v1/venues", boundToken, "")), 401, "", "htu is not the request's URI"},
		{"allowed: proof for another method", middleware.DPoPAllowed, request("DPoP "+boundToken, w.proof(t, "POST", dpopURL, boundToken, "")), 401, "", "htm is not the request's method"},
		{"allowed: proof for another token", middleware.DPoPAllowed, request("DPoP "+boundToken, w.proof(t, "GET", dpopURL, "alice", "")), 401, "", "ath is not the access token's hash"},
		{"allowed: old proof", middleware.DPoPAllowed, request("DPoP "+boundToken, w.proof(t, "GET", dpopURL, boundToken, "", idptest.WithProofClaim("iat", w.clk.now().Add(-time.Hour).Unix()))), 401, "", "iat is too old"},
		{"allowed: typ JWT", middleware.DPoPAllowed, request("DPoP "+boundToken, w.proof(t, "GET", dpopURL, boundToken, "", idptest.WithProofHeader("typ", "JWT"))), 401, "", "typ is not dpop+jwt"},
		{"allowed: proof not a JWS", middleware.DPoPAllowed, request("DPoP "+boundToken, "garbage"), 401, "", "malformed"},
		{"allowed: two Authorization headers", middleware.DPoPAllowed, twoHeaders("Bearer alice", "DPoP "+boundToken), 400,
			`Bearer realm="api", error="invalid_request", error_description="more than one bearer token", DPoP realm="api", error="invalid_request", error_description="more than one bearer token", ` + defaultAlgs, "invalid_request"},
		{"allowed: DPoP token and a query token", middleware.DPoPAllowed, withQuery(request("DPoP "+boundToken, good()), "access_token=alice"), 200, "", "auth0|dora"},
		{"allowed: provider down", middleware.DPoPAllowed, request("DPoP down", good()), 503, "", "temporarily_unavailable"},

		{"required: none", middleware.DPoPRequired, request(""), 401, dpopOnly, "a DPoP-bound access token with a DPoP proof is required"},
		{"required: bearer is no credential", middleware.DPoPRequired, request("Bearer alice"), 401, dpopOnly, "DPoP proof is required"},
		{"required: bound token with a proof", middleware.DPoPRequired, request("DPoP "+boundToken, good()), 200, "", "auth0|dora"},
		{"required: no proof", middleware.DPoPRequired, request("DPoP " + boundToken), 401,
			`DPoP realm="api", error="invalid_dpop_proof", error_description="send exactly one DPoP header with the DPoP scheme", ` + defaultAlgs, "invalid_dpop_proof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := w.middleware(t, middleware.Config{DPoP: tc.mode}, v).Handler(whoami)
			got := serve(t, h, tc.req)
			if got.status != tc.status || (tc.challenge != "" && got.challenge != tc.challenge) || !strings.Contains(got.body, tc.body) {
				t.Errorf("got %d %q %s\nwant %d %q …%s…", got.status, got.challenge, got.body, tc.status, tc.challenge, tc.body)
			}
			if tc.status == 401 && got.challenge == "" {
				t.Error("a 401 without a challenge")
			}
		})
	}
}

func twoHeaders(a, b string) *http.Request {
	r := request(a)
	r.Header.Add("Authorization", b)
	return r
}

func withQuery(r *http.Request, q string) *http.Request {
	r.URL.RawQuery = q
	return r
}

// TestDPoPReplayedProof: a proof is good for one request.
func TestDPoPReplayedProof(t *testing.T) {
	w := newDPoPWorld(t)
	h := w.middleware(t, middleware.Config{DPoP: middleware.DPoPRequired}, w.verifier(t, tokenvalidator.DPoPConfig{}, nil)).Handler(whoami)
	p := w.proof(t, http.MethodGet, dpopURL, boundToken, "")
	if got := serve(t, h, request("DPoP "+boundToken, p)); got.status != 200 {
		t.Fatalf("first use: %+v", got)
	}
	if got := serve(t, h, request("DPoP "+boundToken, p)); got.status != 401 || !strings.Contains(got.challenge, "the DPoP proof was used before") {
		t.Fatalf("replay: %+v", got)
	}
}

// TestDPoPReplayAcrossInstances: two instances of a service, each with its
// own memcached client and process memory on one real memcached, accept a
// proof once between them; with memcached gone and RequireShared, a proof
// cannot be checked: 503, not 401.
func TestDPoPReplayAcrossInstances(t *testing.T) {
	mc := memcachedtest.Start(t)
	w := newDPoPWorld(t)
	instance := func() http.Handler {
		client, err := cache.NewCluster([]string{mc.Addr()}, cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		shared, err := cache.NewMemcache(client, cache.MemcacheConfig{Namespace: "test/venue", HashKey: []byte(strings.Repeat("h", 32)),
			MACKeys: []cache.MACKey{{ID: 1, Secret: []byte(strings.Repeat("m", 32))}}}, cache.WithClock(w.clk.now))
		if err != nil {
			t.Fatal(err)
		}
		replay, err := cache.NewSharedReplay(shared, cache.ReplayConfig{RequireShared: true}, cache.WithClock(w.clk.now))
		if err != nil {
			t.Fatal(err)
		}
		return w.middleware(t, middleware.Config{DPoP: middleware.DPoPRequired}, w.verifier(t, tokenvalidator.DPoPConfig{}, replay)).Handler(whoami)
	}
	a, b := instance(), instance()
	p := w.proof(t, http.MethodGet, dpopURL, boundToken, "")
	if got := serve(t, a, request("DPoP "+boundToken, p)); got.status != 200 {
		t.Fatalf("instance A: %+v", got)
	}
	if got := serve(t, b, request("DPoP "+boundToken, p)); got.status != 401 || !strings.Contains(got.challenge, "used before") {
		t.Fatalf("the same proof at instance B: %+v", got)
	}
	if got := serve(t, b, request("DPoP "+boundToken, w.proof(t, http.MethodGet, dpopURL, boundToken, ""))); got.status != 200 {
		t.Fatalf("a fresh proof at instance B: %+v", got)
	}
	mc.Stop()
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, request("DPoP "+boundToken, w.proof(t, http.MethodGet, dpopURL, boundToken, "")))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("memcached down: %d %s; want 503 with Retry-After", rec.Code, rec.Body)
	}
}

// TestDPoPNonce: with server nonces, a proof without one is answered
// use_dpop_nonce with a DPoP-Nonce header; the retry with it passes; once
// the nonce is the previous window's, a success hands out the next one.
func TestDPoPNonce(t *testing.T) {
	w := newDPoPWorld(t)
	v := w.verifier(t, tokenvalidator.DPoPConfig{NonceSecret: []byte(strings.Repeat("s", 32)), NonceLifetime: time.Minute}, nil)
	h := w.middleware(t, middleware.Config{DPoP: middleware.DPoPAllowed}, v).Handler(whoami)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request("DPoP "+boundToken, w.proof(t, http.MethodGet, dpopURL, boundToken, "")))
	nonce := rec.Header().Get("DPoP-Nonce")
	want := `Bearer realm="api", DPoP realm="api", error="use_dpop_nonce", error_description="a DPoP nonce is required: use the one in DPoP-Nonce", ` + defaultAlgs
	if rec.Code != 401 || nonce == "" || rec.Header().Get("WWW-Authenticate") != want {
		t.Fatalf("without a nonce: %d %q %q", rec.Code, rec.Header().Get("WWW-Authenticate"), nonce)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, request("DPoP "+boundToken, w.proof(t, http.MethodGet, dpopURL, boundToken, nonce)))
	if rec.Code != 200 || rec.Header().Get("DPoP-Nonce") != "" {
		t.Fatalf("with the nonce: %d, DPoP-Nonce %q", rec.Code, rec.Header().Get("DPoP-Nonce"))
	}

	w.clk.advance(time.Minute)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, request("DPoP "+boundToken, w.proof(t, http.MethodGet, dpopURL, boundToken, nonce)))
	if next := rec.Header().Get("DPoP-Nonce"); rec.Code != 200 || next == "" || next == nonce {
		t.Fatalf("previous window's nonce: %d, DPoP-Nonce %q", rec.Code, next)
	}
	// Bearer requests are untouched by nonces.
	if got := serve(t, h, request("Bearer alice")); got.status != 200 {
		t.Fatalf("bearer: %+v", got)
	}
}

// TestDPoPPublicURL: behind a gateway that strips a prefix, htu names the
// public URL; the request's own Host and any forwarded header do not count.
func TestDPoPPublicURL(t *testing.T) {
	w := newDPoPWorld(t)
	v := w.verifier(t, tokenvalidator.DPoPConfig{}, nil)
	h := w.middleware(t, middleware.Config{DPoP: middleware.DPoPRequired, PublicURL: "https://API.venue.example:443/venue-api/"}, v).Handler(whoami)
	internal := func(proof string) *http.Request {
		r := request("DPoP "+boundToken, proof)
		r.Host = "10.0.0.5:8080"
		r.Header.Set("X-Forwarded-Host", "evil.example")
		return r
	}
	for htu, status := range map[string]int{
		"https://api.venue.example/venue-api/v1/whoami":      200,
		"https://api.venue.example/venue-api/v1/whoami?x=1":  200,
		"https://api.venue.example:443/venue-api/v1/whoami":  200,
		"http://10.0.0.5:8080/v1/whoami":                     401,
		"https://evil.example/venue-api/v1/whoami":           401,
		"https://api.venue.example/v1/whoami":                401,
		"https://api.venue.example/venue-api/v1/whoami/more": 401,
	} {
		if got := serve(t, h, internal(w.proof(t, http.MethodGet, htu, boundToken, ""))); got.status != status {
			t.Errorf("htu %s: %d %q, want %d", htu, got.status, got.challenge, status)
		}
	}
	// Without PublicURL the request's own scheme and Host count.
	direct := w.middleware(t, middleware.Config{DPoP: middleware.DPoPRequired}, v).Handler(whoami)
	if got := serve(t, direct, internal(w.proof(t, http.MethodGet, "http://10.0.0.5:8080/v1/whoami", boundToken, ""))); got.status != 200 {
		t.Errorf("direct: %+v", got)
	}
}

// TestDPoPInsufficientScope: a 403 after a good proof carries its error in
// the DPoP challenge.
func TestDPoPInsufficientScope(t *testing.T) {
	w := newDPoPWorld(t)
	m := w.middleware(t, middleware.Config{DPoP: middleware.DPoPAllowed}, w.verifier(t, tokenvalidator.DPoPConfig{}, nil))
	h := m.Handler(m.RequireScopes("manage:venues")(whoami))
	got := serve(t, h, request("DPoP "+boundToken, w.proof(t, http.MethodGet, dpopURL, boundToken, "")))
	want := `Bearer realm="api", DPoP realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="manage:venues", ` + defaultAlgs
	if got.status != 403 || got.challenge != want {
		t.Fatalf("got %d %q\nwant 403 %q", got.status, got.challenge, want)
	}
}

func TestNewRefusesDPoPMisconfiguration(t *testing.T) {
	w := newDPoPWorld(t)
	v := w.verifier(t, tokenvalidator.DPoPConfig{}, nil)
	for name, tc := range map[string]struct {
		cfg  middleware.Config
		opts []middleware.Option
	}{
		"allowed without a verifier":  {middleware.Config{DPoP: middleware.DPoPAllowed}, nil},
		"required without a verifier": {middleware.Config{DPoP: middleware.DPoPRequired}, nil},
		"unknown mode":                {middleware.Config{DPoP: 7}, []middleware.Option{middleware.WithProofVerifier(v)}},
		"relative PublicURL":          {middleware.Config{DPoP: middleware.DPoPAllowed, PublicURL: "/api"}, []middleware.Option{middleware.WithProofVerifier(v)}},
		"required with form tokens":   {middleware.Config{DPoP: middleware.DPoPRequired, AllowFormToken: true}, []middleware.Option{middleware.WithProofVerifier(v)}},
	} {
		if _, err := middleware.New(w.auth, tc.cfg, tc.opts...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseDPoPMode(t *testing.T) {
	for s, want := range map[string]middleware.DPoPMode{"": middleware.DPoPOff, "off": middleware.DPoPOff, "Allowed": middleware.DPoPAllowed, "required": middleware.DPoPRequired} {
		if got, err := middleware.ParseDPoPMode(s); err != nil || got != want {
			t.Errorf("ParseDPoPMode(%q) = %v, %v", s, got, err)
		}
		if s != "" && !strings.EqualFold(want.String(), s) {
			t.Errorf("%v.String() = %q", want, want.String())
		}
	}
	if _, err := middleware.ParseDPoPMode("on"); err == nil {
		t.Error(`"on" parsed`)
	}
}

// TestDPoPWithIssuedTokens runs the whole flow: idptest binds a token to
// the client's key at the token endpoint, the JWKS validator reads its
// cnf.jkt, and the middleware checks the client's proofs against it.
func TestDPoPWithIssuedTokens(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	validator, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI}})
	if err != nil {
		t.Fatal(err)
	}
	defer validator.Close()
	key, _ := idptest.NewDPoPKey("EdDSA")
	bound := tokenFor(t, idp, key)
	bearerToken := tokenFor(t, idp, nil)
	v, _ := tokenvalidator.NewDPoP(cache.NewReplay(cache.ReplayConfig{}), tokenvalidator.DPoPConfig{})
	m, err := middleware.New(validatorAuth{validator}, middleware.Config{DPoP: middleware.DPoPAllowed}, middleware.WithProofVerifier(v))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(whoami)
	proof, _ := key.Proof(http.MethodGet, dpopURL, bound, "")
	if got := serve(t, h, request("DPoP "+bound, proof)); got.status != 200 || got.body != "venue-worker@clients" {
		t.Fatalf("bound token with its proof: %+v", got)
	}
	if got := serve(t, h, request("Bearer "+bound)); got.status != 401 {
		t.Fatalf("bound token as bearer: %+v", got)
	}
	if got := serve(t, h, request("Bearer "+bearerToken)); got.status != 200 {
		t.Fatalf("bearer token: %+v", got)
	}
}

// tokenFor gets a client-credentials token, bound to key unless it is nil.
func tokenFor(t *testing.T, idp *idptest.Server, key *idptest.DPoPKey) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, idp.TokenURL(), strings.NewReader("grant_type=client_credentials&client_id=venue-worker&client_secret=venue-worker-secret"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != nil {
		proof, _ := key.Proof(http.MethodPost, idp.TokenURL(), "", "")
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || answer.AccessToken == "" {
		t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
	}
	if want := map[bool]string{true: "DPoP", false: "Bearer"}[key != nil]; answer.TokenType != want {
		t.Fatalf("token_type %q, want %q", answer.TokenType, want)
	}
	return answer.AccessToken
}

// validatorAuth authenticates with a validator alone, uncached.
type validatorAuth struct{ v tokenvalidator.Validator }

func (a validatorAuth) Authenticate(ctx context.Context, token string) (*claims.Principal, error) {
	res, err := a.v.Validate(ctx, token)
	return res.Principal, err
}

// TestDPoPAndAnotherToken: a DPoP header token and a query token are two
// tokens, which one was meant cannot be told: 400 in both challenges.
func TestDPoPAndAnotherToken(t *testing.T) {
	w := newDPoPWorld(t)
	h := w.middleware(t, middleware.Config{DPoP: middleware.DPoPAllowed, InsecureAllowQueryToken: true}, w.verifier(t, tokenvalidator.DPoPConfig{}, nil)).Handler(whoami)
	got := serve(t, h, withQuery(request("DPoP "+boundToken, w.proof(t, http.MethodGet, dpopURL, boundToken, "")), "access_token=alice"))
	if got.status != 400 || strings.Count(got.challenge, `error="invalid_request"`) != 2 {
		t.Fatalf("got %+v", got)
	}
}
