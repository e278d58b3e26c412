package tokenvalidator_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/tokenvalidator"
)

const (
	resourceURL = "https://api.venue.example/v1/venues"
	// accessToken stands for the token the proofs go with: the verifier
	// only hashes it.
	accessToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhdXRoMHxhbGljZSJ9.c2lnbmF0dXJl"
)

// fixedClock is a settable clock.
type fixedClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *fixedClock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// dpopEnv is a verifier on a settable clock and a client key for it.
type dpopEnv struct {
	v   *tokenvalidator.DPoP
	clk *fixedClock
	key *idptest.DPoPKey
}

func newDPoPEnv(tb testing.TB, alg string, mutate ...func(*tokenvalidator.DPoPConfig)) dpopEnv {
	tb.Helper()
	clk := &fixedClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	var cfg tokenvalidator.DPoPConfig
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := tokenvalidator.NewDPoP(cache.NewReplay(cache.ReplayConfig{}, cache.WithClock(clk.now)), cfg, tokenvalidator.WithClock(clk.now))
	if err != nil {
		tb.Fatal(err)
	}
	key, err := idptest.NewDPoPKey(alg)
	if err != nil {
		tb.Fatal(err)
	}
	return dpopEnv{v: v, clk: clk, key: key}
}

// proof is a proof for GET resourceURL with accessToken, issued at the
// env's clock, changed by opts.
func (e dpopEnv) proof(tb testing.TB, nonce string, opts ...idptest.ProofOption) string {
	tb.Helper()
	opts = append([]idptest.ProofOption{idptest.WithProofClaim("iat", e.clk.now().Unix())}, opts...)
	p, err := e.key.Proof(http.MethodGet, resourceURL, accessToken, nonce, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// verify checks proof as the middleware does for GET resourceURL.
func (e dpopEnv) verify(proof string) (string, error) {
	return e.v.VerifyProof(context.Background(), proof, accessToken, e.key.Thumbprint(), http.MethodGet, resourceURL)
}

func wantCheck(tb testing.TB, err error, want claims.ProofCheck) {
	tb.Helper()
	got, ok := claims.ProofCheckOf(err)
	if !ok || got != want || !errors.Is(err, claims.ErrInvalidProof) {
		tb.Fatalf("err = %v; want the %s check", err, want)
	}
	if errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
		tb.Fatalf("err = %v also matches ErrUnavailable or ErrInvalidToken", err)
	}
}

// TestDPoPAccepts: a good proof passes for every default algorithm, and
// the key's thumbprint as idptest computes it is the one jwx computes.
func TestDPoPAccepts(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		t.Run(alg, func(t *testing.T) {
			e := newDPoPEnv(t, alg)
			if nonce, err := e.verify(e.proof(t, "")); err != nil || nonce != "" {
				t.Fatalf("VerifyProof = %q, %v", nonce, err)
			}
		})
	}
}

// TestDPoPExampleFromRFC verifies RFC 9449's own protected-resource request
// (Figures 13 and 14, with Figure 9's cnf.jkt) at the time it was made.
func TestDPoPExampleFromRFC(t *testing.T) {
	const (
		token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
		jkt   = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
		proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6Ik" +
			"VDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCR" +
			"nMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JE" +
			"QSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIj" +
			"oiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0Z" +
			"WRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNF" +
			"c05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71E" +
			"OptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
	)
	at := func() time.Time { return time.Unix(1562262618, 0) }
	v, err := tokenvalidator.NewDPoP(cache.NewReplay(cache.ReplayConfig{}, cache.WithClock(at)), tokenvalidator.DPoPConfig{}, tokenvalidator.WithClock(at))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.VerifyProof(ctx, proof, token, jkt, "GET", "https://resource.example.org/protectedresource"); err != nil {
		t.Fatalf("the RFC's example: %v", err)
	}
	_, err = v.VerifyProof(ctx, proof, token, jkt, "GET", "https://resource.example.org/protectedresource")
	wantCheck(t, err, claims.ProofReplay)
}

// TestDPoPRefuses: each check of RFC 9449 §4.3 refuses the proof that
// fails it, with its own ProofCheck.
func TestDPoPRefuses(t *testing.T) {
	e := newDPoPEnv(t, "ES256")
	other, _ := idptest.NewDPoPKey("ES256")
	rsaKey, _ := idptest.NewDPoPKey("RS256")
	now := e.clk.now()
	// A good proof first: its header is then kept checked, and every check
	// of the claims below must hold with it kept.
	if _, err := e.verify(e.proof(t, "")); err != nil {
		t.Fatal(err)
	}
	good := e.proof(t, "")
	head, payload, sig := segments(good)
	_, postPayload, _ := segments(e.proof(t, "", idptest.WithProofClaim("htm", "POST")))
	for _, tc := range []struct {
		name  string
		proof string
		want  claims.ProofCheck
	}{
		{"empty", "", claims.ProofMalformed},
		{"not a JWS", "not-a-proof", claims.ProofMalformed},
		{"two parts", head + "." + payload, claims.ProofMalformed},
		{"padded", good + "=", claims.ProofMalformed},
		{"JSON serialization", `{"payload":"` + payload + `","protected":"` + head + `","signature":"` + sig + `"}`, claims.ProofMalformed},
		{"too large", e.proof(t, "", idptest.WithProofClaim("pad", strings.Repeat("x", 9000))), claims.ProofMalformed},
		{"payload not JSON", head + ".bm90IGpzb24." + sig, claims.ProofSignature},
		{"no jti", e.proof(t, "", idptest.WithProofClaim("jti", nil)), claims.ProofMalformed},
		{"empty jti", e.proof(t, "", idptest.WithProofClaim("jti", "")), claims.ProofMalformed},
		{"no htm", e.proof(t, "", idptest.WithProofClaim("htm", nil)), claims.ProofMalformed},
		{"htm number", e.proof(t, "", idptest.WithProofClaim("htm", 1)), claims.ProofMalformed},
		{"HTM instead of htm", e.proof(t, "", idptest.WithProofClaim("htm", nil), idptest.WithProofClaim("HTM", "GET")), claims.ProofMalformed},
		{"no htu", e.proof(t, "", idptest.WithProofClaim("htu", nil)), claims.ProofMalformed},
		{"no iat", e.proof(t, "", idptest.WithProofClaim("iat", nil)), claims.ProofMalformed},
		{"iat string", e.proof(t, "", idptest.WithProofClaim("iat", "1763899200")), claims.ProofMalformed},
		{"no ath", e.proof(t, "", idptest.WithProofClaim("ath", nil)), claims.ProofMalformed},
		{"nonce number", e.proof(t, "", idptest.WithProofClaim("nonce", 5)), claims.ProofMalformed},
		{"crit", e.proof(t, "", idptest.WithProofHeader("crit", []string{"exp"})), claims.ProofMalformed},
		{"b64", e.proof(t, "", idptest.WithProofHeader("b64", false), idptest.WithProofHeader("crit", nil)), claims.ProofMalformed},
		{"typ JWT", e.proof(t, "", idptest.WithProofHeader("typ", "JWT")), claims.ProofType},
		{"typ at+jwt", e.proof(t, "", idptest.WithProofHeader("typ", "at+jwt")), claims.ProofType},
		{"no typ", e.proof(t, "", idptest.WithProofHeader("typ", nil)), claims.ProofType},
		{"alg none", e.proof(t, "", idptest.WithProofHeader("alg", "none")), claims.ProofAlgorithm},
		{"alg HS256", e.proof(t, "", idptest.WithProofHeader("alg", "HS256")), claims.ProofAlgorithm},
		{"alg ES384 with a P-256 key", e.proof(t, "", idptest.WithProofHeader("alg", "ES384")), claims.ProofAlgorithm},
		{"alg RS256 with an EC key", e.proof(t, "", idptest.WithProofHeader("alg", "RS256")), claims.ProofAlgorithm},
		{"no jwk", e.proof(t, "", idptest.WithProofHeader("jwk", nil)), claims.ProofKey},
		{"private jwk", e.proof(t, "", idptest.WithProofHeader("jwk", e.key.PrivateJWK())), claims.ProofKey},
		{"private RSA members only", e.proof(t, "", idptest.WithProofHeader("alg", "RS256"),
			idptest.WithProofHeader("jwk", withMember(rsaKey.PublicJWK(), "p", "AQAB"))), claims.ProofKey},
		{"symmetric jwk", e.proof(t, "", idptest.WithProofHeader("jwk", map[string]any{"kty": "oct", "k": "c2VjcmV0"})), claims.ProofKey},
		{"small RSA jwk", e.proof(t, "", idptest.WithProofHeader("alg", "RS256"),
			idptest.WithProofHeader("jwk", map[string]any{"kty": "RSA", "n": strings.Repeat("A", 170) + "E", "e": "AQAB"})), claims.ProofKey},
		{"jwk for encryption", e.proof(t, "", idptest.WithProofHeader("jwk", withMember(e.key.PublicJWK(), "use", "enc"))), claims.ProofKey},
		{"another key's jwk", e.proof(t, "", idptest.WithProofHeader("jwk", other.PublicJWK())), claims.ProofSignature},
		{"another payload", head + "." + postPayload + "." + sig, claims.ProofSignature},
		{"htm POST", e.proof(t, "", idptest.WithProofClaim("htm", "POST")), claims.ProofMethod},
		{"htm get", e.proof(t, "", idptest.WithProofClaim("htm", "get")), claims.ProofMethod},
		{"htu another path", e.proof(t, "", idptest.WithProofClaim("htu", "https://api.venue.example/v1/bookings")), claims.ProofURI},
		{"htu another host", e.proof(t, "", idptest.WithProofClaim("htu", "https://evil.example/v1/venues")), claims.ProofURI},
		{"htu http", e.proof(t, "", idptest.WithProofClaim("htu", "http://api.venue.example/v1/venues")), claims.ProofURI},
		{"htu relative", e.proof(t, "", idptest.WithProofClaim("htu", "/v1/venues")), claims.ProofURI},
		{"iat too old", e.proof(t, "", idptest.WithProofClaim("iat", now.Add(-91*time.Second).Unix())), claims.ProofIssuedAt},
		{"iat in the future", e.proof(t, "", idptest.WithProofClaim("iat", now.Add(31*time.Second).Unix())), claims.ProofIssuedAt},
		{"ath of another token", e.proof(t, "", idptest.WithProofClaim("ath", "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo")), claims.ProofTokenHash},
		{"another key's proof", otherProof(t, e, other), claims.ProofBinding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nonce, err := e.verify(tc.proof)
			wantCheck(t, err, tc.want)
			if nonce != "" {
				t.Errorf("a nonce %q without nonces configured", nonce)
			}
		})
	}
}

// segments splits a compact JWS.
func segments(p string) (header, payload, signature string) {
	parts := strings.SplitN(p, ".", 3)
	return parts[0], parts[1], parts[2]
}

func withMember(j map[string]any, name string, value any) map[string]any {
	j[name] = value
	return j
}

// otherProof is a good proof, for e's request and clock, by a key the
// token is not bound to.
func otherProof(tb testing.TB, e dpopEnv, other *idptest.DPoPKey) string {
	e.key = other
	return e.proof(tb, "")
}

// TestDPoPWindow: iat is accepted from Leeway ahead to MaxAge+Leeway
// behind, both ends included.
func TestDPoPWindow(t *testing.T) {
	e := newDPoPEnv(t, "ES256", func(c *tokenvalidator.DPoPConfig) { c.MaxAge, c.Leeway = time.Minute, 10*time.Second })
	now := e.clk.now()
	for offset, accept := range map[time.Duration]bool{
		10 * time.Second: true, 11 * time.Second: false,
		-70 * time.Second: true, -71 * time.Second: false,
	} {
		_, err := e.verify(e.proof(t, "", idptest.WithProofClaim("iat", now.Add(offset).Unix())))
		if (err == nil) != accept {
			t.Errorf("iat now%+v: err = %v, want accepted = %v", offset, err, accept)
		}
	}
}

// TestDPoPURINormalized: htu and the request's URI are compared after
// normalization, query and fragment ignored.
func TestDPoPURINormalized(t *testing.T) {
	e := newDPoPEnv(t, "ES256")
	for _, htu := range []string{
		"HTTPS://API.venue.example/v1/venues",
		"https://api.venue.example:443/v1/venues",
		"https://api.venue.example/v1/venues?page=2",
		"https://api.venue.example/v1/./x/../venues#top",
		"https://api.venue.example/v1/%76enues",
	} {
		if _, err := e.verify(e.proof(t, "", idptest.WithProofClaim("htu", htu))); err != nil {
			t.Errorf("htu %q: %v", htu, err)
		}
	}
}

// TestDPoPReplay: a proof is accepted once; the same jti from another key
// is another proof; an id is forgotten only after the proof's window.
func TestDPoPReplay(t *testing.T) {
	e := newDPoPEnv(t, "ES256")
	p := e.proof(t, "", idptest.WithProofClaim("jti", "jti-1"))
	if _, err := e.verify(p); err != nil {
		t.Fatal(err)
	}
	_, err := e.verify(p)
	wantCheck(t, err, claims.ProofReplay)
	// Another key, same jti: the token is bound to that key this time.
	other, _ := idptest.NewDPoPKey("ES256")
	op, _ := other.Proof(http.MethodGet, resourceURL, accessToken, "", idptest.WithProofClaim("jti", "jti-1"), idptest.WithProofClaim("iat", e.clk.now().Unix()))
	if _, err := e.v.VerifyProof(context.Background(), op, accessToken, other.Thumbprint(), http.MethodGet, resourceURL); err != nil {
		t.Fatalf("same jti, another key: %v", err)
	}
	// Until iat+MaxAge+Leeway the proof is refused for its age or as a
	// replay, never accepted.
	for range 4 {
		e.clk.advance(30 * time.Second)
		if _, err := e.verify(p); err == nil {
			t.Fatalf("the proof was accepted again %v later", e.clk.now().Sub(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)))
		}
	}
}

// TestDPoPReplayAcrossInstances: two verifiers remembering proofs in one
// real memcached (each with its own client and process memory) accept a
// proof once between them.
func TestDPoPReplayAcrossInstances(t *testing.T) {
	mc := memcachedtest.Start(t)
	e := newDPoPEnv(t, "ES256")
	instance := func(require bool) *tokenvalidator.DPoP {
		client, err := cache.NewCluster([]string{mc.Addr()}, cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		shared, err := cache.NewMemcache(client, cache.MemcacheConfig{Namespace: "test/dpop", HashKey: []byte(strings.Repeat("h", 32)),
			MACKeys: []cache.MACKey{{ID: 1, Secret: []byte(strings.Repeat("m", 32))}}}, cache.WithClock(e.clk.now))
		if err != nil {
			t.Fatal(err)
		}
		replay, err := cache.NewSharedReplay(shared, cache.ReplayConfig{RequireShared: require}, cache.WithClock(e.clk.now))
		if err != nil {
			t.Fatal(err)
		}
		v, err := tokenvalidator.NewDPoP(replay, tokenvalidator.DPoPConfig{}, tokenvalidator.WithClock(e.clk.now))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := instance(true), instance(true)
	p := e.proof(t, "")
	ctx := context.Background()
	if _, err := a.VerifyProof(ctx, p, accessToken, e.key.Thumbprint(), http.MethodGet, resourceURL); err != nil {
		t.Fatalf("instance A: %v", err)
	}
	_, err := b.VerifyProof(ctx, p, accessToken, e.key.Thumbprint(), http.MethodGet, resourceURL)
	wantCheck(t, err, claims.ProofReplay)

	// memcached gone and RequireShared: the proof cannot be checked (503),
	// which is not an invalid proof (401).
	mc.Stop()
	_, err = b.VerifyProof(ctx, e.proof(t, ""), accessToken, e.key.Thumbprint(), http.MethodGet, resourceURL)
	if !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidProof) {
		t.Fatalf("memcached down: %v, want ErrUnavailable", err)
	}
}

// TestDPoPNonces: with NonceSecret, a proof needs a nonce of the current
// or the previous window; the verifier hands out the current one when a
// proof has none, a stale or a forged one (use_dpop_nonce), and on success
// when the proof's is the previous window's.
func TestDPoPNonces(t *testing.T) {
	secret := []byte(strings.Repeat("n", 32))
	e := newDPoPEnv(t, "ES256", func(c *tokenvalidator.DPoPConfig) { c.NonceSecret, c.NonceLifetime = secret, time.Minute })
	nonce, err := e.verify(e.proof(t, ""))
	wantCheck(t, err, claims.ProofNonce)
	if nonce == "" {
		t.Fatal("no nonce handed out with use_dpop_nonce")
	}
	if got, err := e.verify(e.proof(t, nonce)); err != nil || got != "" {
		t.Fatalf("with the current nonce: %q, %v; want no new nonce", got, err)
	}
	// Another instance with the same secret takes it too.
	f := newDPoPEnv(t, "ES256", func(c *tokenvalidator.DPoPConfig) { c.NonceSecret, c.NonceLifetime = secret, time.Minute })
	f.key, f.clk = e.key, e.clk
	if _, err := f.verify(f.proof(t, nonce)); err != nil {
		t.Fatalf("another instance: %v", err)
	}

	e.clk.advance(time.Minute)
	next, err := e.verify(e.proof(t, nonce))
	if err != nil || next == "" || next == nonce {
		t.Fatalf("previous window's nonce: %q, %v; want success and the next nonce", next, err)
	}
	// Two windows on, the first nonce is stale.
	e.clk.advance(time.Minute)
	current, err := e.verify(e.proof(t, nonce))
	wantCheck(t, err, claims.ProofNonce)
	if current == "" || current == nonce || current == next {
		t.Errorf("use_dpop_nonce handed out %q, want this window's", current)
	}
	for name, bad := range map[string]string{
		"forged":           current[:len(current)-2] + "AA",
		"another secret's": otherSecretNonce(t, e.clk.now()),
		"not base64":       strings.Repeat("!", len(current)),
		"short":            current[:10],
	} {
		got, err := e.verify(e.proof(t, bad))
		wantCheck(t, err, claims.ProofNonce)
		if got != current {
			t.Errorf("%s: handed out %q, want %q", name, got, current)
		}
	}
	if got, err := e.verify(e.proof(t, current)); err != nil || got != "" {
		t.Errorf("with the nonce handed out: %q, %v", got, err)
	}
}

func otherSecretNonce(tb testing.TB, now time.Time) string {
	g := newDPoPEnv(tb, "ES256", func(c *tokenvalidator.DPoPConfig) {
		c.NonceSecret, c.NonceLifetime = []byte(strings.Repeat("o", 32)), time.Minute
	})
	g.clk.t = now
	nonce, _ := g.verify(g.proof(tb, ""))
	return nonce
}

func TestNewDPoPRefusesBadConfig(t *testing.T) {
	replay := cache.NewReplay(cache.ReplayConfig{})
	for name, tc := range map[string]struct {
		replay tokenvalidator.ReplayCache
		cfg    tokenvalidator.DPoPConfig
	}{
		"no replay cache":  {nil, tokenvalidator.DPoPConfig{}},
		"HS256":            {replay, tokenvalidator.DPoPConfig{Algorithms: []string{"ES256", "HS256"}}},
		"none":             {replay, tokenvalidator.DPoPConfig{Algorithms: []string{"none"}}},
		"no algorithm":     {replay, tokenvalidator.DPoPConfig{Algorithms: []string{}}},
		"short secret":     {replay, tokenvalidator.DPoPConfig{NonceSecret: []byte("short")}},
		"negative max age": {replay, tokenvalidator.DPoPConfig{MaxAge: -time.Second}},
	} {
		if _, err := tokenvalidator.NewDPoP(tc.replay, tc.cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	v, _ := tokenvalidator.NewDPoP(replay, tokenvalidator.DPoPConfig{Algorithms: []string{"ES256"}})
	if _, err := v.VerifyProof(context.Background(), "x", "", "", "GET", resourceURL); err == nil || errors.Is(err, claims.ErrInvalidProof) {
		t.Errorf("no token or jkt: %v, want a usage error", err)
	}
	e := newDPoPEnv(t, "RS256", func(c *tokenvalidator.DPoPConfig) { c.Algorithms = []string{"ES256"} })
	_, err := e.verify(e.proof(t, ""))
	wantCheck(t, err, claims.ProofAlgorithm)
	if algs := e.v.Algorithms(); len(algs) != 1 || algs[0] != "ES256" {
		t.Errorf("Algorithms = %v", algs)
	}
}

// FuzzVerifyProof feeds arbitrary proofs, seeded with good ones and their
// mutations, to the verifier: it must never panic; whatever it refuses it
// refuses as an invalid proof (the replay cache is in process and cannot
// fail); and whatever it accepts has the signed part of one of the seeds.
func FuzzVerifyProof(f *testing.F) {
	e := newDPoPEnv(f, "ES256")
	signed := map[string]bool{}
	for _, p := range []string{e.proof(f, ""), e.proof(f, "", idptest.WithProofClaim("nonce", "n")), e.proof(f, "", idptest.WithProofHeader("typ", "JWT"))} {
		f.Add(p)
		f.Add(strings.Replace(p, ".", "..", 1))
		signed[p[:strings.LastIndexByte(p, '.')]] = true
	}
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.")
	f.Fuzz(func(t *testing.T, proof string) {
		// A fresh replay cache, so that a seed is accepted every time.
		v, _ := tokenvalidator.NewDPoP(cache.NewReplay(cache.ReplayConfig{}), tokenvalidator.DPoPConfig{}, tokenvalidator.WithClock(e.clk.now))
		_, err := v.VerifyProof(context.Background(), proof, accessToken, e.key.Thumbprint(), http.MethodGet, resourceURL)
		if err == nil {
			if i := strings.LastIndexByte(proof, '.'); i < 0 || !signed[proof[:i]] {
				t.Fatalf("accepted a proof the key never signed: %q", proof)
			}
			return
		}
		if _, ok := claims.ProofCheckOf(err); !ok {
			t.Fatalf("refused without a check: %v", err)
		}
	})
}

// BenchmarkVerifyProof is the cost of one proof check per algorithm (the
// replay cache in process), beside the signature check alone of the same
// proofs (jws.NewVerifier on the parsed key: the floor), in one run:
//
//	go test -run '^$' -bench VerifyProof -benchmem -count 6 ./tokenvalidator
func BenchmarkVerifyProof(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		e := newDPoPEnv(b, alg)
		replay := &resettable{}
		e.v, _ = tokenvalidator.NewDPoP(replay, tokenvalidator.DPoPConfig{}, tokenvalidator.WithClock(e.clk.now))
		proofs := make([]string, 512) // distinct jtis: a repeated one is a replay
		for i := range proofs {
			proofs[i] = e.proof(b, "")
		}
		ctx := context.Background()
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			i := len(proofs)
			for b.Loop() {
				if i == len(proofs) {
					// A fresh replay cache, for the proofs to be new again;
					// the key stays parsed, as for a client's every proof.
					b.StopTimer()
					replay.r = cache.NewReplay(cache.ReplayConfig{}, cache.WithClock(e.clk.now))
					i = 0
					b.StartTimer()
				}
				if _, err := e.v.VerifyProof(ctx, proofs[i], accessToken, e.key.Thumbprint(), http.MethodGet, resourceURL); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		head, payload, sig := segments(proofs[0])
		rawSig, _ := base64.RawURLEncoding.DecodeString(sig)
		jwkJSON, _ := json.Marshal(e.key.PublicJWK())
		key, err := jwk.ParseKey(jwkJSON)
		if err != nil {
			b.Fatal(err)
		}
		var pub any
		if err := key.Raw(&pub); err != nil {
			b.Fatal(err)
		}
		verifier, _ := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
		input := []byte(head + "." + payload)
		b.Run(alg+"/signature-only", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := verifier.Verify(input, rawSig, pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// resettable is a replay cache the benchmark can empty between rounds.
type resettable struct{ r *cache.Replay }

func (r *resettable) Remember(ctx context.Context, id [32]byte, expires time.Time) (bool, error) {
	return r.r.Remember(ctx, id, expires)
}
