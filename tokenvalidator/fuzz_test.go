package tokenvalidator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
)

// FuzzValidate feeds arbitrary strings, seeded with a real token and its
// mutations, to the JWKS validator: it must never panic, and whatever it
// rejects it rejects as an invalid token — never as an unavailable provider
// — except a well-signed-looking token whose kid is unknown and whose iat
// is recent, which is by design a 503 that says when to retry (a rotation
// this instance may not have seen).
func FuzzValidate(f *testing.F) {
	idp := idptest.Start(f, idptest.Demo())
	v := newValidator(f, idp)
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api, Organization: "org_acme"})
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := idp.Mint(c)
	f.Add(tok)
	f.Add(strings.Replace(tok, ".", "..", 1))
	none, _ := idp.Mint(c, idptest.WithoutSignature())
	f.Add(none)
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.")
	unknown, _ := idp.Mint(c, idptest.WithUnpublishedKey())
	f.Add(unknown)
	f.Fuzz(func(t *testing.T, token string) {
		res, err := v.Validate(context.Background(), token)
		if err == nil {
			if token != tok {
				t.Fatalf("accepted a token the provider never signed: %q", token)
			}
			if res.Principal == nil {
				t.Fatal("no principal")
			}
			return
		}
		if _, ok := claims.ReasonOf(err); ok {
			return
		}
		if _, retry := claims.RetryAfterOf(err); !retry || !strings.Contains(err.Error(), "unknown kid") {
			t.Fatalf("rejected without a reason: %v", err)
		}
	})
}
