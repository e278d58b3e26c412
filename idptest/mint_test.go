package idptest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

func TestMint(t *testing.T) {
	idp := start(t)
	signer := idp.SigningKeyID()
	signerPub, _ := idp.PublicKey(signer)
	esKid, err := idp.AddKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(signerPub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	claims := map[string]any{"iss": idp.Issuer(), "sub": "auth0|alice", "aud": api, "exp": 2000000000}

	rs256 := func(pub crypto.PublicKey) func(input, sig []byte) bool {
		return func(input, sig []byte) bool {
			sum := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, sum[:], sig) == nil
		}
	}
	for _, tc := range []struct {
		name   string
		opts   []idptest.MintOption
		header map[string]any // nil value: must be absent
		valid  func(input, sig []byte) bool
	}{
		{"default", nil, map[string]any{"alg": "RS256", "typ": "JWT", "kid": signer}, rs256(signerPub)},
		{"WithKeyID", []idptest.MintOption{idptest.WithKeyID(esKid)}, map[string]any{"alg": "ES256", "kid": esKid},
			func(input, sig []byte) bool {
				pub, _ := idp.PublicKey(esKid)
				sum := sha256.Sum256(input)
				return len(sig) == 64 && ecdsa.Verify(pub.(*ecdsa.PublicKey), sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
			}},
		{"alg says RS512, signed RS256", []idptest.MintOption{idptest.WithHeader("alg", "RS512")},
			map[string]any{"alg": "RS512", "kid": signer}, rs256(signerPub)},
		{"crit, cty, jku, typ", []idptest.MintOption{idptest.WithHeader("crit", []string{"exp"}), idptest.WithHeader("cty", "JWT"),
			idptest.WithHeader("jku", "https://attacker.example/jwks"), idptest.WithHeader("typ", "at+jwt")},
			map[string]any{"crit": []any{"exp"}, "cty": "JWT", "jku": "https://attacker.example/jwks", "typ": "at+jwt"}, rs256(signerPub)},
		{"kid deleted", []idptest.MintOption{idptest.WithHeader("kid", nil)}, map[string]any{"kid": nil, "alg": "RS256"}, rs256(signerPub)},
		{"HS256 with the public key's PEM", []idptest.MintOption{idptest.WithSigner("HS256", pubPEM)},
			map[string]any{"alg": "HS256", "kid": nil}, func(input, sig []byte) bool {
				m := hmac.New(sha256.New, pubPEM)
				m.Write(input)
				return hmac.Equal(m.Sum(nil), sig)
			}},
		{"HS512 with the signer's kid", []idptest.MintOption{idptest.WithSigner("HS512", der), idptest.WithHeader("kid", signer)},
			map[string]any{"alg": "HS512", "kid": signer}, func(input, sig []byte) bool {
				m := hmac.New(sha512.New, der)
				m.Write(input)
				return hmac.Equal(m.Sum(nil), sig)
			}},
		{"an attacker's RSA key", []idptest.MintOption{idptest.WithSigner("RS256", attacker), idptest.WithHeader("kid", "attacker")},
			map[string]any{"alg": "RS256", "kid": "attacker"}, rs256(&attacker.PublicKey)},
		{"PS256", []idptest.MintOption{idptest.WithSigner("PS256", attacker)}, map[string]any{"alg": "PS256"},
			func(input, sig []byte) bool {
				sum := sha256.Sum256(input)
				return rsa.VerifyPSS(&attacker.PublicKey, crypto.SHA256, sum[:], sig, nil) == nil
			}},
		{"ES384", []idptest.MintOption{idptest.WithSigner("ES384", ecKey)}, map[string]any{"alg": "ES384"},
			func(input, sig []byte) bool {
				sum := sha512.Sum384(input)
				return len(sig) == 96 && ecdsa.Verify(&ecKey.PublicKey, sum[:], new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:]))
			}},
		{"EdDSA", []idptest.MintOption{idptest.WithSigner("EdDSA", edKey)}, map[string]any{"alg": "EdDSA"},
			func(input, sig []byte) bool { return ed25519.Verify(edKey.Public().(ed25519.PublicKey), input, sig) }},
		{"unpublished key", []idptest.MintOption{idptest.WithUnpublishedKey()}, map[string]any{"alg": "RS256"},
			func(input, sig []byte) bool { return !rs256(signerPub)(input, sig) && len(sig) == 256 }},
		{"no signature", []idptest.MintOption{idptest.WithoutSignature()}, map[string]any{"alg": "none", "kid": signer},
			func(_, sig []byte) bool { return len(sig) == 0 }},
		{"no signature, alg says RS256", []idptest.MintOption{idptest.WithoutSignature(), idptest.WithHeader("alg", "RS256")},
			map[string]any{"alg": "RS256"}, func(_, sig []byte) bool { return len(sig) == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := idp.Mint(claims, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			header, payload := decode(t, tok)
			for name, want := range tc.header {
				got, present := header[name]
				if want == nil && present || want != nil && !equalJSON(got, want) {
					t.Errorf("header %s = %v, want %v (header %v)", name, got, want, header)
				}
			}
			if payload["sub"] != "auth0|alice" || payload["exp"] != 2e9 {
				t.Errorf("payload = %v", payload)
			}
			i := strings.LastIndexByte(tok, '.')
			sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
			if err != nil || !tc.valid([]byte(tok[:i]), sig) {
				t.Errorf("the signature is not what was asked (%v)", err)
			}
		})
	}
	t.Run("unpublished kid", func(t *testing.T) {
		tok, _ := idp.Mint(claims, idptest.WithUnpublishedKey())
		header, _ := decode(t, tok)
		kid, _ := header["kid"].(string)
		if _, published := idp.PublicKey(kid); kid == "" || kid == signer || published {
			t.Errorf("kid %q: want a new, unpublished one", kid)
		}
	})
}

// equalJSON compares a decoded JSON value with a Go one.
func equalJSON(got, want any) bool {
	if w, ok := want.([]any); ok {
		g, ok := got.([]any)
		return ok && slices.Equal(g, w)
	}
	return got == want
}

func TestMintMarshalsClaimsAsGiven(t *testing.T) {
	idp := start(t)
	tok, err := idp.Mint(map[string]any{"exp": "123", "aud": 5, "nested": map[string]any{"a": []int{1}}})
	if err != nil {
		t.Fatal(err)
	}
	_, payload := decode(t, tok)
	if payload["exp"] != "123" || payload["aud"] != 5.0 || payload["nested"].(map[string]any)["a"].([]any)[0] != 1.0 {
		t.Errorf("payload = %v", payload)
	}
}

func TestMintErrors(t *testing.T) {
	idp := start(t)
	c := map[string]any{"sub": "x"}
	if _, err := idp.Mint(c, idptest.WithKeyID("nope")); !errors.Is(err, idptest.ErrUnknownKey) {
		t.Errorf("unknown kid: %v", err)
	}
	for name, opt := range map[string]idptest.MintOption{
		"HS256 with a string":   idptest.WithSigner("HS256", "secret"),
		"RS256 with an EC key":  idptest.WithSigner("RS256", &ecdsa.PrivateKey{}),
		"unsupported algorithm": idptest.WithSigner("XS256", []byte("k")),
		"EdDSA with an RSA key": idptest.WithSigner("EdDSA", &rsa.PrivateKey{}),
		"unmarshallable header": idptest.WithHeader("x", func() {}),
	} {
		if _, err := idp.Mint(c, opt); err == nil || !strings.HasPrefix(err.Error(), "idptest: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestClaimsMatchTheTokenEndpoint: UserClaims and MachineClaims give the
// claims the token endpoint puts in its tokens.
func TestClaimsMatchTheTokenEndpoint(t *testing.T) {
	idp := start(t)
	user, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api, Organization: "org_acme",
		Scopes: strings.Fields(aliceLogin.Get("scope")), GrantType: "password"})
	if err != nil {
		t.Fatal(err)
	}
	machine, err := idp.MachineClaims("venue-worker", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		form   []string
	}{
		{"user", user, nil},
		{"machine", machine, []string{"grant_type", "client_credentials", "username", "", "password", "", "organization", "", "scope", "",
			"audience", "", "client_id", "venue-worker", "client_secret", "venue-worker-secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, issued := decode(t, grant(t, idp, with(aliceLogin, tc.form...)).str("access_token"))
			minted, err := idp.Mint(tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			_, got := decode(t, minted)
			if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(issued))) {
				t.Fatalf("claims %v, want those of %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(issued)))
			}
			for name, v := range issued {
				if name != "jti" && !equalJSON(got[name], v) {
					t.Errorf("%s = %v, want %v", name, got[name], v)
				}
			}
		})
	}
	for name, err := range map[string]error{
		"unknown client":     second(idp.MachineClaims("nope", "")),
		"not a machine":      second(idp.MachineClaims("venue-app", "")),
		"unknown API":        second(idp.MachineClaims("venue-worker", "https://nope.example")),
		"unknown user":       second(idp.UserClaims(idptest.ClaimsRequest{Username: "mallory", ClientID: "venue-app"})),
		"unknown user's app": second(idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "nope"})),
		"not a member":       second(idp.UserClaims(idptest.ClaimsRequest{Username: "bob", ClientID: "venue-app", Organization: "acme"})),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "idptest: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestOpaqueToken(t *testing.T) {
	idp := start(t)
	tok := idp.OpaqueToken(map[string]any{"sub": "auth0|bob", "azp": "venue-app", "scope": "openid"})
	if strings.Contains(tok, ".") {
		t.Fatalf("opaque token %q looks like a JWT", tok)
	}
	a := introspect(t, idp, tok)
	if a.body["active"] != true || a.body["exp"] != float64(idp.Now().Add(24*time.Hour).Unix()) || a.str("username") != "bob" {
		t.Errorf("introspection: %s", a.raw)
	}
	if info := get(t, idp.UserinfoURL(), tok); info.status != 200 || info.str("email") != "bob@globex.example" {
		t.Errorf("userinfo: %d %s", info.status, info.raw)
	}

	short := idp.OpaqueToken(map[string]any{"sub": "auth0|bob", "exp": idp.Now().Add(time.Minute).Unix()})
	idp.Advance(time.Minute)
	if a := introspect(t, idp, short); a.body["active"] != false {
		t.Errorf("expired opaque token: %s", a.raw)
	}
	odd := idp.OpaqueToken(map[string]any{"sub": "auth0|bob", "exp": "soon"})
	if a := introspect(t, idp, odd); a.body["active"] != true || a.body["exp"] != "soon" {
		t.Errorf("opaque token with a string exp: %s", a.raw)
	}
}
