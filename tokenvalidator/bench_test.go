package tokenvalidator_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/authgate/authgate/idptest"
)

// BenchmarkValidate compares Validate with a bare jwx parse-and-verify
// (jwt.Parse with the key, validating exp/iat/nbf) of the same Auth0-shaped
// token, per algorithm, and for RS256 with the floor (see benchmarkFloor),
// in one run:
//
//	go test -run '^$' -bench Validate -benchmem -count 6 ./tokenvalidator
func BenchmarkValidate(b *testing.B) {
	idp := idptest.Start(b, idptest.Demo())
	v := newValidator(b, idp)
	ctx := context.Background()
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api,
		Scopes: []string{"openid", "profile", "offline_access", "read:venues", "book:venues", "read:datasets"}, Organization: "org_acme"})
	if err != nil {
		b.Fatal(err)
	}
	algs := []string{"RS256", "ES256", "EdDSA"}
	kids := map[string]string{}
	for _, alg := range algs { // published before use, as a provider does
		if kids[alg], err = idp.AddKey(alg); err != nil {
			b.Fatal(err)
		}
	}
	for _, alg := range algs {
		kid := kids[alg]
		tok := mint(b, idp, c, idptest.WithKeyID(kid))
		pub, _ := idp.PublicKey(kid)
		if _, err := v.Validate(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.Run(alg+"/authgate", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tok)))
			for b.Loop() {
				if _, err := v.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/jwx", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tok)))
			for b.Loop() {
				if _, err := jwt.Parse([]byte(tok), jwt.WithKey(jwa.SignatureAlgorithm(alg), pub), jwt.WithClock(jwt.ClockFunc(idp.Now))); err != nil {
					b.Fatal(err)
				}
			}
		})
		if alg == "RS256" {
			b.Run(alg+"/floor", func(b *testing.B) { benchmarkFloor(b, tok, pub.(*rsa.PublicKey)) })
		}
	}
}

// benchmarkFloor is the least work any validation of tok does, with
// nothing of a library's: the SHA-256 of the token (a cache key), the
// base64url decoding of its three segments into reused buffers, the
// RSA-2048 PKCS #1 v1.5 verification of the signature (with the SHA-256 of
// the signing input) and an encoding/json decode of the claims into a
// struct of the fields a Principal holds. It parses no header and checks
// no claim, so a full validation costs more.
func benchmarkFloor(b *testing.B, tok string, pub *rsa.PublicKey) {
	raw := []byte(tok)
	h, rest, _ := bytes.Cut(raw, []byte("."))
	p, s, _ := bytes.Cut(rest, []byte("."))
	enc := base64.RawURLEncoding
	hb, pb, sb := make([]byte, enc.DecodedLen(len(h))), make([]byte, enc.DecodedLen(len(p))), make([]byte, enc.DecodedLen(len(s)))
	signed := raw[:len(h)+1+len(p)]
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		_ = sha256.Sum256(raw)
		if _, err := enc.Decode(hb, h); err != nil {
			b.Fatal(err)
		}
		n, err := enc.Decode(pb, p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := enc.Decode(sb, s); err != nil {
			b.Fatal(err)
		}
		digest := sha256.Sum256(signed)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sb); err != nil {
			b.Fatal(err)
		}
		var c floorClaims
		if err := json.Unmarshal(pb[:n], &c); err != nil {
			b.Fatal(err)
		}
	}
}

// floorClaims are the claims benchmarkFloor decodes: those of the
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
