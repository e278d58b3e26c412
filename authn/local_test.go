package authn_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

// The tests here run the leader's own part of a flight: a validator that
// can check a token without I/O (tokenvalidator.LocalValidator) is asked in
// the request's goroutine. (counting, which most tests wrap validators in,
// hides ValidateLocal: those tests run the worker's part.)

// localGated is a JWKS whose first ValidateLocal or Validate is held until
// the test opens the gate; it counts both.
type localGated struct {
	*tokenvalidator.JWKS
	once            sync.Once
	entered, gate   chan struct{}
	local, validate atomic.Int64
}

func newLocalGated(v tokenvalidator.Validator) *localGated {
	return &localGated{JWKS: v.(*tokenvalidator.JWKS), entered: make(chan struct{}), gate: make(chan struct{})}
}

func (g *localGated) hold() {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.gate
	}
}

func (g *localGated) ValidateLocal(ctx context.Context, token string) (tokenvalidator.Result, error) {
	g.local.Add(1)
	res, err := g.JWKS.ValidateLocal(ctx, token)
	g.hold()
	return res, err
}

func (g *localGated) Validate(ctx context.Context, token string) (tokenvalidator.Result, error) {
	g.validate.Add(1)
	res, err := g.JWKS.Validate(ctx, token)
	g.hold()
	return res, err
}

// raw builds an Authenticator on v itself, not wrapped in counting: a
// LocalValidator stays one.
func (e *env) raw(v tokenvalidator.Validator, shared bool) *authn.Authenticator {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	opts := []authn.Option{authn.WithClock(e.idp.Now), authn.WithRegisterer(reg)}
	if shared {
		opts = append(opts, authn.WithMemcache(e.memcache(reg)))
	}
	a, err := authn.NewAuthenticator(v, authn.Config{}, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// TestInvalidateWinsOverLocalValidation is
// TestInvalidateWinsOverValidationInFlight with the validation held in the
// leader's own goroutine (ValidateLocal) instead of on a worker.
func TestInvalidateWinsOverLocalValidation(t *testing.T) {
	for _, where := range []string{"same instance", "another instance"} {
		t.Run(where, func(t *testing.T) {
			e := newEnv(t)
			g := newLocalGated(e.jwks())
			flying := e.raw(g, true)
			revoker := flying
			if where == "another instance" {
				revoker = e.raw(e.jwks(), true)
			}
			tok := e.token()
			result := make(chan error, 1)
			go func() {
				_, err := flying.Authenticate(context.Background(), tok)
				result <- err
			}()
			waitClosed(t, g.entered, "the validation to be held")
			if err := revoker.Invalidate(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
			close(g.gate)
			err := <-result
			if where == "same instance" && !errors.Is(err, claims.ErrInvalidToken) {
				t.Errorf("the request whose validation the logout overtook: %v, want invalid", err)
			}
			mustRefuse(t, revoker, tok, "the revoking instance")
			mustRefuse(t, e.raw(e.jwks(), true), tok, "an instance that never saw the token (memcached)")
			if where == "same instance" {
				mustRefuse(t, flying, tok, "the instance whose validation was in flight")
			}
			if g.local.Load() == 0 {
				t.Errorf("local %d, validate %d: the local path was not taken", g.local.Load(), g.validate.Load())
			}
		})
	}
}

// TestRevokeSubjectOverLocalValidation: a subject revoked on the same
// instance while its token's local validation is held, or on another
// instance before, is refused by the local path.
func TestRevokeSubjectOverLocalValidation(t *testing.T) {
	for _, where := range []string{"same instance, in flight", "another instance, before"} {
		t.Run(where, func(t *testing.T) {
			e := newEnv(t)
			g := newLocalGated(e.jwks())
			flying := e.raw(g, true)
			tok := e.token()
			revoke := func(a *authn.Authenticator) {
				if err := a.RevokeSubject(context.Background(), "auth0|alice", e.idp.Now()); err != nil {
					t.Fatal(err)
				}
			}
			result := make(chan error, 1)
			authenticate := func() {
				_, err := flying.Authenticate(context.Background(), tok)
				result <- err
			}
			if where == "another instance, before" {
				revoke(e.raw(e.jwks(), true))
				close(g.gate)
				authenticate()
			} else {
				go authenticate()
				waitClosed(t, g.entered, "the validation to be held")
				revoke(flying)
				close(g.gate)
			}
			if err := <-result; !errors.Is(err, claims.ErrInvalidToken) {
				t.Errorf("after RevokeSubject: %v, want invalid", err)
			}
			mustRefuse(t, flying, tok, "the validating instance afterwards")
			if g.local.Load() == 0 || g.validate.Load() != 0 {
				t.Errorf("local %d, validate %d: the local path was not the one taken", g.local.Load(), g.validate.Load())
			}
		})
	}
}

// TestNegativeCacheLocal: an invalid JWT is validated once within
// NegativeTTL on the local path too; a token whose key is not held goes to
// the worker (the key set is fetched there).
func TestNegativeCacheLocal(t *testing.T) {
	e := newEnv(t)
	g := newLocalGated(e.jwks())
	close(g.gate)
	a := e.raw(g, false)
	bad := e.token(func(c map[string]any) { c["aud"] = "https://other.api" })
	for range 3 {
		if _, err := a.Authenticate(context.Background(), bad); !errors.Is(err, claims.ErrInvalidToken) {
			t.Fatalf("a token for another audience: %v", err)
		}
	}
	if g.local.Load() != 1 || g.validate.Load() != 0 {
		t.Errorf("local %d, validate %d; want 1, 0", g.local.Load(), g.validate.Load())
	}
	c, err := e.idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api, Organization: "org_acme"})
	if err != nil {
		t.Fatal(err)
	}
	c["iat"] = e.idp.Now().Add(-time.Hour).Unix() // older than the key set: not a rotation
	unknown, err := e.idp.Mint(c, idptest.WithUnpublishedKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(context.Background(), unknown); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("a token of an unpublished key: %v, want invalid", err)
	}
	if g.validate.Load() != 1 {
		t.Errorf("Validate ran %d times for a kid not held, want 1", g.validate.Load())
	}
}

// panicky is a validator with a bug in its local check.
type panicky struct{ *tokenvalidator.JWKS }

func (panicky) ValidateLocal(context.Context, string) (tokenvalidator.Result, error) {
	panic("a validator's bug")
}

// TestPanicInLocalValidation: a panic in the leader's own part of a flight
// neither reaches the caller nor takes the process down: the request is
// unavailable (retry), as when a worker's part panics. And a provider's
// Ed25519 key of the wrong length, which would make ed25519.Verify panic,
// is not used at all.
func TestPanicInLocalValidation(t *testing.T) {
	e := newEnv(t)
	a := e.raw(panicky{e.jwks().(*tokenvalidator.JWKS)}, false)
	if _, err := a.Authenticate(context.Background(), e.token()); !errors.Is(err, claims.ErrUnavailable) {
		t.Errorf("a validator that panics: %v, want unavailable", err)
	}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "short", "x": base64.RawURLEncoding.EncodeToString(pub[:31])},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "good", "x": base64.RawURLEncoding.EncodeToString(pub)},
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	v, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{Issuer: e.idp.Issuer(), Audiences: []string{api}, JWKSURL: srv.URL},
		tokenvalidator.WithClock(e.idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, err := e.idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api})
	if err != nil {
		t.Fatal(err)
	}
	c["iat"] = e.idp.Now().Add(-time.Hour).Unix()
	tok, err := e.idp.Mint(c, idptest.WithSigner("EdDSA", priv), idptest.WithHeader("kid", "short"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.raw(v, false).Authenticate(context.Background(), tok)
	if r, _ := claims.ReasonOf(err); !errors.Is(err, claims.ErrInvalidToken) || r != claims.ReasonUnknownKey {
		t.Errorf("a token of a 31-byte Ed25519 key: %v, want invalid (unknown key)", err)
	}
}

// TestLeaderWithDeadlineWhileMemcachedHangs: a request with a deadline
// leaves at it even when the shared tier hangs, which the leader's own
// part of a flight would otherwise wait on for the cluster's timeouts.
func TestLeaderWithDeadlineWhileMemcachedHangs(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts, reads, never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	cluster, err := cache.NewCluster([]string{ln.Addr().String()}, cache.ClusterConfig{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	m, err := cache.NewMemcache(cluster, cache.MemcacheConfig{Namespace: "test", HashKey: []byte("0123456789abcdef0123456789abcdef"),
		MACKeys: []cache.MACKey{{ID: 1, Secret: []byte("fedcba9876543210fedcba9876543210")}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.NewAuthenticator(e.jwks(), authn.Config{}, authn.WithClock(e.idp.Now), authn.WithMemcache(m))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = a.Authenticate(ctx, e.token())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Authenticate: %v, want the caller's deadline", err)
	}
	// Not a timing assertion: 5 s is the hung memcached's timeout, which
	// the request must not have waited for.
	if waited := time.Since(start); waited >= 5*time.Second {
		t.Errorf("the request waited %v, the memcached timeout", waited)
	}
}
