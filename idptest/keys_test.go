package idptest_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"reflect"
	"testing"

	"github.com/authgate/authgate/idptest"
)

// jwks fetches the published keys over HTTP, by kid.
func jwks(t *testing.T, idp *idptest.Server) map[string]map[string]any {
	t.Helper()
	a := get(t, idp.JWKSURL(), "")
	if a.status != 200 {
		t.Fatalf("JWKS: %d %s", a.status, a.raw)
	}
	keys := map[string]map[string]any{}
	list, _ := a.body["keys"].([]any)
	for _, k := range list {
		m := k.(map[string]any)
		keys[m["kid"].(string)] = m
	}
	return keys
}

func TestJWKSLikeAuth0(t *testing.T) {
	idp := start(t)
	a := get(t, idp.JWKSURL(), "")
	if got := a.header.Get("Cache-Control"); got != "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400" {
		t.Errorf("Cache-Control = %q", got)
	}
	keys := jwks(t, idp)
	k, ok := keys[idp.SigningKeyID()]
	if len(keys) != 1 || !ok {
		t.Fatalf("keys = %v, want the signing key alone", keys)
	}
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["n"] == nil || k["e"] != "AQAB" {
		t.Errorf("key = %v", k)
	}
	// x5c holds a certificate of the same public key; x5t is its SHA-1.
	der, err := base64.StdEncoding.DecodeString(k["x5c"].([]any)[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := idp.PublicKey(idp.SigningKeyID())
	if !pub.(*rsa.PublicKey).Equal(cert.PublicKey) {
		t.Error("x5c certifies another key")
	}
	if sum := sha1.Sum(der); k["x5t"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Error("x5t is not the certificate's thumbprint")
	}
}

func TestKeyRotation(t *testing.T) {
	idp := start(t)
	old := idp.SigningKeyID()
	before := grant(t, idp, aliceLogin).str("access_token")

	next, err := idp.AddKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	if keys := jwks(t, idp); len(keys) != 2 || keys[next] == nil {
		t.Fatalf("after AddKey the JWKS has %d keys", len(keys))
	}
	if idp.SigningKeyID() != old {
		t.Fatal("AddKey changed the signer")
	}

	if err := idp.UseKey(next); err != nil {
		t.Fatal(err)
	}
	after := grant(t, idp, aliceLogin).str("access_token")
	if h, _ := decode(t, after); h["kid"] != next {
		t.Fatalf("new tokens are signed by %v, want %s", h["kid"], next)
	}
	verify(t, idp, after)
	verify(t, idp, before) // the old key is still published

	if err := idp.RetireKey(next); err == nil {
		t.Error("RetireKey retired the signing key")
	}
	if err := idp.RetireKey(old); err != nil {
		t.Fatal(err)
	}
	if keys := jwks(t, idp); len(keys) != 1 || keys[next] == nil {
		t.Fatalf("after RetireKey the JWKS is %v", keys)
	}
	if _, ok := idp.PublicKey(old); ok {
		t.Error("PublicKey still knows the retired key")
	}
	if a := introspect(t, idp, before); a.body["active"] != false {
		t.Error("a token of the retired key is still active")
	}

	rotated, err := idp.RotateKey("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	if keys := jwks(t, idp); len(keys) != 2 || keys[rotated]["kty"] != "OKP" || idp.SigningKeyID() != rotated {
		t.Fatalf("after RotateKey: JWKS %v, signer %s", keys, idp.SigningKeyID())
	}
	verify(t, idp, grant(t, idp, aliceLogin).str("access_token"))
}

func TestEveryKeyAlgorithm(t *testing.T) {
	idp := start(t)
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api, Organization: "org_acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alg, kty, crv string
		pub           any
	}{
		{"RS256", "RSA", "", &rsa.PublicKey{}},
		{"RS384", "RSA", "", &rsa.PublicKey{}},
		{"RS512", "RSA", "", &rsa.PublicKey{}},
		{"PS256", "RSA", "", &rsa.PublicKey{}},
		{"PS384", "RSA", "", &rsa.PublicKey{}},
		{"PS512", "RSA", "", &rsa.PublicKey{}},
		{"ES256", "EC", "P-256", &ecdsa.PublicKey{}},
		{"ES384", "EC", "P-384", &ecdsa.PublicKey{}},
		{"ES512", "EC", "P-521", &ecdsa.PublicKey{}},
		{"EdDSA", "OKP", "Ed25519", ed25519.PublicKey{}},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			kid, err := idp.AddKey(tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			k := jwks(t, idp)[kid]
			if k["kty"] != tc.kty || k["alg"] != tc.alg || (tc.crv != "" && k["crv"] != tc.crv) {
				t.Errorf("JWK = %v", k)
			}
			if pub, ok := idp.PublicKey(kid); !ok || reflect.TypeOf(pub) != reflect.TypeOf(tc.pub) {
				t.Errorf("PublicKey = %T", pub)
			}
			tok, err := idp.Mint(c, idptest.WithKeyID(kid))
			if err != nil {
				t.Fatal(err)
			}
			verify(t, idp, tok)
			if a := introspect(t, idp, tok); a.body["active"] != true {
				t.Errorf("introspection: %s", a.raw)
			}
		})
	}
}

func TestKeyErrors(t *testing.T) {
	idp := start(t)
	if _, err := idp.AddKey("HS256"); err == nil {
		t.Error("AddKey(HS256) made a key")
	}
	for name, err := range map[string]error{
		"UseKey":    idp.UseKey("nope"),
		"RetireKey": idp.RetireKey("nope"),
	} {
		if !errors.Is(err, idptest.ErrUnknownKey) {
			t.Errorf("%s of an unknown kid: %v", name, err)
		}
	}
	if _, ok := idp.PublicKey("nope"); ok {
		t.Error("PublicKey of an unknown kid")
	}
}
