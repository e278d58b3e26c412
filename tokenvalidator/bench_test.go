package tokenvalidator_test

import (
	"context"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/authgate/authgate/idptest"
)

// BenchmarkValidate compares Validate with a bare jwx parse-and-verify
// (jwt.Parse with the key, validating exp/iat/nbf) of the same Auth0-shaped
// token, per algorithm, in one run:
//
//	go test -run '^$' -bench Validate -benchmem -count 5 ./tokenvalidator
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
	}
}
