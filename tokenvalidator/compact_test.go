package tokenvalidator

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
)

// withSharedSecret is a JWKS validator of idp's keys that also takes
// HS256 with the secret it returns.
func withSharedSecret(tb testing.TB, idp *idptest.Server) (*JWKS, []byte) {
	tb.Helper()
	secret := bytes.Repeat([]byte("k"), 32)
	v, err := NewJWKS(context.Background(), JWKSConfig{
		Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI},
		Algorithms: append([]string{"HS256"}, defaultAlgorithms...), SharedSecret: secret,
	}, WithClock(idp.Now))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	return v, secret
}

// FuzzCompact holds the compact path (parseHeader, verifyCompact) to jwx's
// (jws.Parse, jws.Verify with the key provider) on every token whose header
// parseHeader reads: jwx must read the same header — alg, kid and typ, and
// nothing else — and both paths must return the same payload, or errors of
// the same reason (or both a retry). Seeded with tokens of every algorithm
// family, HMAC included, and with each header check failing.
//
//	go test -run '^$' -fuzz FuzzCompact ./tokenvalidator
func FuzzCompact(f *testing.F) {
	idp := idptest.Start(f, idptest.Demo())
	var kids []string
	for _, alg := range []string{"PS256", "ES256", "ES384", "EdDSA", "RS512"} {
		kid, err := idp.AddKey(alg)
		if err != nil {
			f.Fatal(err)
		}
		kids = append(kids, kid)
	}
	v, secret := withSharedSecret(f, idp)
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI, Organization: "org_acme"})
	if err != nil {
		f.Fatal(err)
	}
	mint := func(opts ...idptest.MintOption) string {
		tok, err := idp.Mint(c, opts...)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	rs := mint()
	f.Add(rs)
	for _, kid := range kids {
		f.Add(mint(idptest.WithKeyID(kid)))
	}
	f.Add(mint(idptest.WithSigner("HS256", secret)))
	f.Add(mint(idptest.WithSigner("HS256", secret), idptest.WithHeader("kid", "x")))
	f.Add(mint(idptest.WithSigner("HS384", secret)))
	f.Add(mint(idptest.WithHeader("typ", "at+jwt")))
	f.Add(mint(idptest.WithHeader("typ", "dpop+jwt")))
	f.Add(mint(idptest.WithHeader("typ", nil)))
	f.Add(mint(idptest.WithHeader("kid", nil)))
	f.Add(mint(idptest.WithHeader("kid", "")))
	f.Add(mint(idptest.WithHeader("alg", "RS384")))
	f.Add(mint(idptest.WithHeader("alg", "none")))
	f.Add(mint(idptest.WithHeader("cty", "JWT")))
	f.Add(mint(idptest.WithUnpublishedKey()))
	f.Add(mint(idptest.WithoutSignature()))
	f.Add(rs[:strings.LastIndexByte(rs, '.')+1])
	f.Add(rs[:len(rs)-4] + "AAAA")
	_, rest, _ := strings.Cut(rs, ".")
	for _, h := range []string{
		` { "alg" : "RS256" ,	"kid":"` + idp.SigningKeyID() + "\"\r\n}\n",
		`{}`, `{"alg":"RS256","alg":"RS256"}`, `{"alg":"RS256"}x`, `{"alg":"RS\u0032"}`, `[]`, `{"alg":1}`,
	} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + rest)
	}
	f.Fuzz(func(t *testing.T, token string) {
		header, payload, signature, err := splitCompact(token)
		if err != nil {
			return
		}
		h, ok := parseHeader(header)
		if !ok {
			return
		}
		msg, err := jws.Parse([]byte(token))
		if err != nil {
			t.Fatalf("parseHeader read a header jwx does not parse: %v", err)
		}
		jh := msg.Signatures()[0].ProtectedHeaders()
		m, _ := jh.AsMap(context.Background())
		if jh.Algorithm() != h.alg || jh.KeyID() != h.kid || jh.Type() != h.typ {
			t.Fatalf("parseHeader read %+v, jwx %v", h, m)
		}
		for name := range m {
			if name != "alg" && name != "kid" && name != "typ" {
				t.Fatalf("parseHeader read %+v, jwx %v", h, m)
			}
		}
		ctx := context.Background()
		viaJWX, jwxErr := v.verifyJWS(ctx, token, verifyValidate)
		compact, compactErr := v.verifyCompact(ctx, token, h, payload, signature, verifyValidate)
		if !bytes.Equal(viaJWX, compact) {
			t.Fatalf("payloads differ: jwx %q, compact %q", viaJWX, compact)
		}
		if (jwxErr == nil) != (compactErr == nil) {
			t.Fatalf("verdicts differ: jwx %v, compact %v", jwxErr, compactErr)
		}
		jr, _ := claims.ReasonOf(jwxErr)
		cr, _ := claims.ReasonOf(compactErr)
		_, jretry := claims.RetryAfterOf(jwxErr)
		_, cretry := claims.RetryAfterOf(compactErr)
		if jr != cr || jretry != cretry {
			t.Fatalf("errors differ: jwx %v, compact %v", jwxErr, compactErr)
		}
	})
}
