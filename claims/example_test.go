package claims_test

import (
	"context"
	"fmt"

	"github.com/authgate/authgate/claims"
)

func ExampleMapping_Decode() {
	m := claims.Mapping{FirstPartyClients: []string{"venue-app"}}
	p, err := m.Decode([]byte(`{"sub":"auth0|alice","azp":"partner-app","scope":"read:venues book:venues","org_id":"org_acme"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Subject, p.Kind, p.OrgID, p.HasScope("book:venues"))

	_, err = m.Decode([]byte(`{"sub":"auth0|alice","exp":"tomorrow"}`))
	r, _ := claims.ReasonOf(err)
	fmt.Println(r)
	// Output:
	// auth0|alice delegated org_acme true
	// malformed
}

func ExampleFromContext() {
	ctx := claims.NewContext(context.Background(), &claims.Principal{Subject: "auth0|alice", Scopes: claims.ParseScope("read:venues")})
	if p, ok := claims.FromContext(ctx); ok && p.HasScope("read:venues") {
		fmt.Println("hello", p.Subject)
	}
	// Output: hello auth0|alice
}
