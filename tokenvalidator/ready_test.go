package tokenvalidator_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

// publishedKey is a key pair of a provider whose JWKS serveJWKS writes.
type publishedKey struct {
	kid  string
	alg  string // the JWK's alg; "" = none
	priv any    // *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey
}

// serveJWKS serves the public halves of keys as a JWKS and returns its URL.
// idptest always names each key's alg; providers such as Microsoft Entra ID
// do not.
func serveJWKS(t *testing.T, keys ...publishedKey) string {
	t.Helper()
	var set []jwk.Key
	for _, k := range keys {
		var pub any
		switch priv := k.priv.(type) {
		case *rsa.PrivateKey:
			pub = &priv.PublicKey
		case *ecdsa.PrivateKey:
			pub = &priv.PublicKey
		case ed25519.PrivateKey:
			pub = priv.Public()
		}
		j, err := jwk.FromRaw(pub)
		if err != nil {
			t.Fatal(err)
		}
		_ = j.Set(jwk.KeyIDKey, k.kid)
		_ = j.Set(jwk.KeyUsageKey, "sig")
		if k.alg != "" {
			_ = j.Set(jwk.AlgorithmKey, k.alg)
		}
		set = append(set, j)
	}
	body, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestReady: NewJWKS starts whatever the provider does; Ready says nil once
// keys are loaded, and otherwise names the problem, as unavailable only
// when the provider could not be reached.
func TestReady(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	for _, tc := range []struct {
		name        string
		setup       func(*testing.T, *tokenvalidator.JWKSConfig)
		unavailable bool
		sentinel    error
		says        []string
	}{
		{"ready", func(*testing.T, *tokenvalidator.JWKSConfig) {}, false, nil, nil},
		{"discovery down", func(*testing.T, *tokenvalidator.JWKSConfig) {
			idp.SetFault(idptest.EndpointDiscovery, idptest.FaultError)
		},
			true, nil, []string{"discovery", "500"}},
		{"issuer without its trailing slash", func(_ *testing.T, c *tokenvalidator.JWKSConfig) { c.Issuer = idp.URL() },
			false, tokenvalidator.ErrIssuerMismatch, []string{`"` + idp.Issuer() + `"`, `"` + idp.URL() + `"`, "trailing slash"}},
		{"JWKS unreachable", func(*testing.T, *tokenvalidator.JWKSConfig) { idp.SetFault(idptest.EndpointJWKS, idptest.FaultDrop) },
			true, nil, []string{"JWKS"}},
		{"JWKS with a weak key only", func(t *testing.T, c *tokenvalidator.JWKSConfig) {
			c.JWKSURL = serveJWKS(t, publishedKey{"weak", "RS256", rsaKey(t, 1024)})
		}, false, tokenvalidator.ErrNoUsableKey, []string{"1024 bits", `"weak"`}},
		{"JWKS with keys of other algorithms only", func(t *testing.T, c *tokenvalidator.JWKSConfig) {
			c.Algorithms = []string{"RS256"}
			c.JWKSURL = serveJWKS(t, publishedKey{"ec", "", ecKey(t, elliptic.P256())}, publishedKey{"ps", "PS256", rsaKey(t, 2048)})
		}, false, tokenvalidator.ErrNoUsableKey, []string{"ES256 is not in JWKSConfig.Algorithms", "PS256 is not"}},
		{"empty JWKS", func(t *testing.T, c *tokenvalidator.JWKSConfig) { c.JWKSURL = serveJWKS(t) },
			false, tokenvalidator.ErrNoUsableKey, []string{"empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer idp.SetFault(idptest.EndpointDiscovery, idptest.FaultNone)
			defer idp.SetFault(idptest.EndpointJWKS, idptest.FaultNone)
			cfg := tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{api}}
			tc.setup(t, &cfg)
			v, err := tokenvalidator.NewJWKS(context.Background(), cfg)
			if err != nil {
				t.Fatalf("NewJWKS: %v; it must start while the provider is down or wrong", err)
			}
			defer v.Close()
			err = v.Ready(context.Background())
			if tc.says == nil {
				if err != nil {
					t.Fatalf("Ready: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Ready: nil")
			}
			if errors.Is(err, claims.ErrUnavailable) != tc.unavailable {
				t.Errorf("Ready: %v; matches ErrUnavailable: %v, want %v", err, !tc.unavailable, tc.unavailable)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("Ready: %v; want %v", err, tc.sentinel)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Ready: %v; does not say %q", err, s)
				}
			}
		})
	}
}

// TestReadyWaitsForTheFetch: Ready waits, within its context, for the first
// fetch still in flight after NewJWKS gave up waiting.
func TestReadyWaitsForTheFetch(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultHang)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{api}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.Ready(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ready while the fetch hangs: %v, want the context's error", err)
	}
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultNone) // the hung fetch now gets its answer
	if err := v.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

// TestKeyWithoutAlg: a published key that names no alg verifies one
// algorithm (RFC 8725 §3.1): RSAKeyAlgorithm for RSA (default RS256), the
// curve's for EC, EdDSA for Ed25519. A key that names its alg verifies that.
func TestKeyWithoutAlg(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	rsaPriv, p256, p384 := rsaKey(t, 2048), ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384())
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	psPriv := rsaKey(t, 2048)
	url := serveJWKS(t,
		publishedKey{"rsa", "", rsaPriv}, publishedKey{"p256", "", p256}, publishedKey{"p384", "", p384},
		publishedKey{"ed", "", edPriv}, publishedKey{"ps384", "PS384", psPriv})
	good := aliceClaims(t, idp)
	for _, tc := range []struct {
		rsaAlg string // JWKSConfig.RSAKeyAlgorithm
		kid    string
		alg    string
		priv   any
		accept bool
	}{
		{"", "rsa", "RS256", rsaPriv, true},
		{"", "rsa", "RS384", rsaPriv, false},
		{"", "rsa", "RS512", rsaPriv, false},
		{"", "rsa", "PS256", rsaPriv, false},
		{"PS256", "rsa", "PS256", rsaPriv, true},
		{"PS256", "rsa", "RS256", rsaPriv, false},
		{"", "p256", "ES256", p256, true},
		{"", "p384", "ES384", p384, true},
		{"", "ed", "EdDSA", edPriv, true},
		{"", "ps384", "PS384", psPriv, true},
		{"", "ps384", "PS256", psPriv, false},
		{"", "ps384", "RS256", psPriv, false},
	} {
		t.Run(tc.rsaAlg+"/"+tc.kid+"/"+tc.alg, func(t *testing.T) {
			v := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) {
				c.JWKSURL, c.RSAKeyAlgorithm = url, tc.rsaAlg
			})
			_, err := v.Validate(context.Background(), mint(t, idp, good, idptest.WithSigner(tc.alg, tc.priv), idptest.WithHeader("kid", tc.kid)))
			if tc.accept {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantReason(t, err, claims.ReasonAlgorithm)
		})
	}
	if _, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{
		Issuer: idp.Issuer(), Audiences: []string{api}, RSAKeyAlgorithm: "ES256",
	}); err == nil {
		t.Error("RSAKeyAlgorithm ES256 accepted")
	}
}

// TestTooLarge: every validator answers an oversized token the same way —
// ReasonTooLarge, an invalid token — without a call to the provider.
func TestTooLarge(t *testing.T) {
	idp, jwks := newJWKS(t)
	issuers, err := tokenvalidator.NewIssuers(newValidator(t, idp))
	if err != nil {
		t.Fatal(err)
	}
	introspection := newIntrospection(t, idp)
	userinfo := newUserInfo(t, idp, nil)
	bigJWT := mint(t, idp, with(aliceClaims(t, idp), "https://venue.example/pad", strings.Repeat("x", tokenvalidator.DefaultMaxTokenBytes)))
	bigOpaque := strings.Repeat("a", tokenvalidator.DefaultMaxTokenBytes+1)
	idp.ResetCalls()
	for _, tc := range []struct {
		name  string
		v     tokenvalidator.Validator
		token string
	}{
		{"JWKS", jwks, bigJWT},
		{"Issuers", issuers, bigJWT},
		{"Introspection", introspection, bigOpaque},
		{"UserInfo", userinfo, bigOpaque},
		{"Auto, JWT", tokenvalidator.Auto{JWT: jwks, Opaque: userinfo}, bigJWT},
		{"Auto, opaque", tokenvalidator.Auto{JWT: jwks, Opaque: userinfo}, bigOpaque},
		{"Auto without an opaque validator", tokenvalidator.Auto{JWT: jwks}, bigOpaque},
		{"Auto without a JWT validator", tokenvalidator.Auto{Opaque: userinfo}, bigJWT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Validate(context.Background(), tc.token)
			wantReason(t, err, claims.ReasonTooLarge)
		})
	}
	for _, e := range []idptest.Endpoint{idptest.EndpointJWKS, idptest.EndpointIntrospect, idptest.EndpointUserinfo, idptest.EndpointDiscovery} {
		if n := idp.Calls(e); n != 0 {
			t.Errorf("%d calls to %s for oversized tokens", n, e)
		}
	}
}
