package bench

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/bradfitz/gomemcache/memcache"
	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// Every benchmark sends the same request — GET with one Auth0-shaped RS256
// access token of about 1 KB — through a whole net/http middleware chain to
// a handler that reads the caller and writes nothing, and checks that the
// handler saw the caller. Run them all in one go (make bench), so that the
// ratios come from the same machine state; the raw Get runs right after
// the L2 hit, the floor of a miss right before it.

const api = "https://api.venue.example"

type fixture struct {
	idp   *idptest.Server
	token string // valid, RS256, ~1 KB
	bad   string // same shape, signature of another key
}

func newFixture(b *testing.B) *fixture {
	b.Helper()
	idp := idptest.Start(b, idptest.Demo())
	c, err := idp.UserClaims(idptest.ClaimsRequest{
		Username: "alice", ClientID: "venue-app", Audience: api, Organization: "org_acme",
		Scopes: []string{"openid", "profile", "email", "offline_access", "read:venues", "book:venues", "read:datasets"},
	})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := idp.Mint(c)
	if err != nil {
		b.Fatal(err)
	}
	bad, err := idp.Mint(c, idptest.WithUnpublishedKey(), idptest.WithHeader("kid", idp.SigningKeyID()))
	if err != nil {
		b.Fatal(err)
	}
	return &fixture{idp: idp, token: tok, bad: bad}
}

// sink is the response writer: it discards everything, so the benchmarks
// measure the middleware, not a recorder's buffers.
type sink struct{ h http.Header }

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) Write(p []byte) (int, error) { return len(p), nil }
func (s *sink) WriteHeader(int)             {}

// run sends req through h b.N times; seen must report that the handler ran
// with a caller (or, for invalid tokens, that it did not).
func run(b *testing.B, h http.Handler, token string, wantCaller bool, seen *bool) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/v1/venues", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := &sink{h: http.Header{}}
	*seen = false
	h.ServeHTTP(w, req)
	if *seen != wantCaller {
		b.Fatalf("handler saw a caller: %v, want %v", *seen, wantCaller)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// handler marks seen when it finds a caller of any library's kind.
func handler(seen *bool, caller func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { *seen = caller(r) })
}

func authgateCaller(r *http.Request) bool {
	p, ok := middleware.PrincipalFrom(r.Context())
	return ok && p.HasScope("read:venues")
}

func BenchmarkMiddleware(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	var seen bool

	// The floor: what any middleware that lets a request through must cost.
	b.Run("floor/bare-handler", func(b *testing.B) {
		run(b, handler(&seen, func(*http.Request) bool { return true }), f.token, true, &seen)
	})
	b.Run("floor/extract+map", func(b *testing.B) {
		known := map[string]*claims.Principal{f.token: {Subject: "s", Scopes: claims.ParseScope("read:venues")}}
		run(b, floorMiddleware(func(tok string) *claims.Principal { return known[tok] })(handler(&seen, authgateCaller)), f.token, true, &seen)
	})
	b.Run("floor/extract+sha256+sync.Map", func(b *testing.B) {
		var known sync.Map
		known.Store(sha256.Sum256([]byte(f.token)), &claims.Principal{Subject: "s", Scopes: claims.ParseScope("read:venues")})
		run(b, floorMiddleware(func(tok string) *claims.Principal {
			v, _ := known.Load(sha256.Sum256([]byte(tok)))
			p, _ := v.(*claims.Principal)
			return p
		})(handler(&seen, authgateCaller)), f.token, true, &seen)
	})

	// authgate, through the public middleware.
	newGate := func(b *testing.B, cfg authn.Config, opts ...authn.Option) http.Handler {
		v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: f.idp.Issuer(), Audiences: []string{api}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { v.Close() })
		a, err := authn.NewAuthenticator(v, cfg, opts...)
		if err != nil {
			b.Fatal(err)
		}
		mw, err := middleware.New(a, middleware.Config{})
		if err != nil {
			b.Fatal(err)
		}
		return mw.Handler(mw.RequireScopes("read:venues")(handler(&seen, authgateCaller)))
	}
	// A MemoryTTL of a nanosecond makes every request miss the in-process tier.
	noMemory := authn.Config{MemoryTTL: time.Nanosecond, NegativeTTL: time.Nanosecond}
	b.Run("authgate/L1-hit", func(b *testing.B) {
		run(b, newGate(b, authn.Config{}), f.token, true, &seen)
	})
	// The L2 hit and the raw Get it is compared with use one memcached, and
	// the raw Get fetches the very entry authgate stored for the token.
	mc := memcachedtest.Start(b)
	cluster, err := cache.NewCluster([]string{mc.Addr()}, cache.ClusterConfig{
		// Not the default 50 ms: on a shared machine a stall past it takes
		// the node out, and the run would measure failover, not hits.
		ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cluster.Close() })
	client := memcache.New(mc.Addr())
	client.MaxIdleConns = 64
	shared, err := cache.NewMemcache(cluster, cache.MemcacheConfig{
		Namespace: "bench", HashKey: make([]byte, 32), MACKeys: []cache.MACKey{{ID: 1, Secret: make([]byte, 32)}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("authgate/L2-hit", func(b *testing.B) {
		run(b, newGate(b, noMemory, authn.WithMemcache(shared)), f.token, true, &seen)
	})
	var key string // found by the first run: metadump may list nothing on later ones
	b.Run("raw/gomemcache-get", func(b *testing.B) {
		// The one entry the L2-hit run stored (its key name is bound to
		// the gate's policy, so it is found rather than computed).
		if key == "" {
			keys, err := memcachedtest.Keys(mc.Addr(), 5*time.Second)
			if err != nil || len(keys) != 1 {
				b.Fatalf("memcached holds %q (%v), want the one entry authgate stored", keys, err)
			}
			key = keys[0]
		}
		it, err := client.Get(key)
		if err != nil {
			b.Fatalf("the entry authgate stored: %v", err)
		}
		b.ReportMetric(float64(len(it.Value)), "value-bytes")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Get(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The floor of a full validation (a miss), run just before it: no
	// library's work, only the cryptography and decoding any validation of
	// the token must do.
	b.Run("floor/rs256-verify+json", func(b *testing.B) {
		pub, _ := f.idp.PublicKey(f.idp.SigningKeyID())
		run(b, floorMiddleware(verifyFloor(pub.(*rsa.PublicKey)))(handler(&seen, authgateCaller)), f.token, true, &seen)
	})
	b.Run("authgate/miss", func(b *testing.B) {
		run(b, newGate(b, noMemory), f.token, true, &seen)
	})
	b.Run("authgate/invalid", func(b *testing.B) {
		run(b, newGate(b, authn.Config{}), f.bad, false, &seen)
	})
	b.Run("authgate/invalid-uncached", func(b *testing.B) {
		run(b, newGate(b, noMemory), f.bad, false, &seen)
	})

	// The peers, each with its own JWKS fetching from the same provider.
	b.Run("peer/jwx-parse-verify", func(b *testing.B) {
		pub, _ := f.idp.PublicKey(f.idp.SigningKeyID())
		run(b, floorMiddleware(func(tok string) *claims.Principal {
			t, err := jwt.Parse([]byte(tok), jwt.WithKey(jwa.RS256, pub), jwt.WithIssuer(f.idp.Issuer()), jwt.WithAudience(api))
			if err != nil {
				return nil
			}
			return &claims.Principal{Subject: t.Subject(), Scopes: claims.ParseScope(scopeOf(t))}
		})(handler(&seen, authgateCaller)), f.token, true, &seen)
	})
	b.Run("peer/go-jwt-middleware", func(b *testing.B) {
		issuer, _ := url.Parse(f.idp.Issuer())
		provider := jwks.NewCachingProvider(issuer, 5*time.Minute)
		v, err := validator.New(provider.KeyFunc, validator.RS256, f.idp.Issuer(), []string{api},
			validator.WithCustomClaims(func() validator.CustomClaims { return &scopeClaims{} }))
		if err != nil {
			b.Fatal(err)
		}
		mw := jwtmiddleware.New(v.ValidateToken)
		run(b, mw.CheckJWT(handler(&seen, func(r *http.Request) bool {
			c, ok := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
			return ok && strings.Contains(c.CustomClaims.(*scopeClaims).Scope, "read:venues")
		})), f.token, true, &seen)
	})
	b.Run("peer/golang-jwt+keyfunc", func(b *testing.B) {
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{f.idp.JWKSURL()})
		if err != nil {
			b.Fatal(err)
		}
		parser := gjwt.NewParser(gjwt.WithValidMethods([]string{"RS256"}), gjwt.WithIssuer(f.idp.Issuer()), gjwt.WithAudience(api), gjwt.WithExpirationRequired())
		run(b, floorMiddleware(func(tok string) *claims.Principal {
			var c struct {
				gjwt.RegisteredClaims
				Scope string `json:"scope"`
			}
			if _, err := parser.ParseWithClaims(tok, &c, kf.Keyfunc); err != nil {
				return nil
			}
			return &claims.Principal{Subject: c.Subject, Scopes: claims.ParseScope(c.Scope)}
		})(handler(&seen, authgateCaller)), f.token, true, &seen)
	})
}

// floorMiddleware is the least a caching or verifying middleware does:
// take the bearer token, look it up (or verify it), put the caller in the
// context.
func floorMiddleware(lookup func(token string) *claims.Principal) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			p := lookup(tok)
			if !ok || p == nil {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), p)))
		})
	}
}

// verifyFloor is the least work any validation of a token does, with
// nothing of a library's: SHA-256 of the token (a cache key), base64url
// decoding of its three segments, the RSA-2048 PKCS #1 v1.5 verification
// of the signature (SHA-256 of the signing input) and an encoding/json
// decode of the claims into a struct of the fields a Principal holds. It
// parses no header and checks no claim, so a full validation costs more.
func verifyFloor(pub *rsa.PublicKey) func(token string) *claims.Principal {
	enc := base64.RawURLEncoding
	return func(tok string) *claims.Principal {
		_ = sha256.Sum256([]byte(tok))
		h, rest, _ := strings.Cut(tok, ".")
		p, s, _ := strings.Cut(rest, ".")
		if _, err := enc.DecodeString(h); err != nil {
			return nil
		}
		payload, err := enc.DecodeString(p)
		if err != nil {
			return nil
		}
		sig, err := enc.DecodeString(s)
		if err != nil {
			return nil
		}
		digest := sha256.Sum256([]byte(tok[:len(h)+1+len(p)]))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			return nil
		}
		var c floorClaims
		if json.Unmarshal(payload, &c) != nil {
			return nil
		}
		return &claims.Principal{Subject: c.Subject, Scopes: claims.ParseScope(c.Scope)}
	}
}

// floorClaims are the claims verifyFloor decodes: those of the
// benchmark's token that a Principal holds.
type floorClaims struct {
	Issuer      string   `json:"iss"`
	Subject     string   `json:"sub"`
	Audience    []string `json:"aud"`
	IssuedAt    int64    `json:"iat"`
	ExpiresAt   int64    `json:"exp"`
	Scope       string   `json:"scope"`
	Party       string   `json:"azp"`
	GrantType   string   `json:"gty"`
	OrgID       string   `json:"org_id"`
	OrgName     string   `json:"org_name"`
	TokenID     string   `json:"jti"`
	Permissions []string `json:"permissions"`
	Tier        string   `json:"https://venue.example/tier"`
}

type scopeClaims struct {
	Scope string `json:"scope"`
}

func (*scopeClaims) Validate(context.Context) error { return nil }

func scopeOf(t jwt.Token) string {
	v, _ := t.Get("scope")
	s, _ := v.(string)
	return s
}
