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

// A Dex access token names no authorized party and no scopes: the Dex
// preset takes the party from its single audience, the client id, so the
// service's own app makes users, not partners.
func ExampleMapping_Decode_preset() {
	m := claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: []string{"venue-app"}}
	p, err := m.Decode([]byte(`{"iss":"https://dex.example/dex","sub":"CgVhbGljZRIFbG9jYWw","aud":"venue-app","groups":["bookers"],"exp":1763942400}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.AuthorizedParty, p.Kind, p.HasPermission("bookers"))
	// Output: venue-app user true
}

func ExampleParsePreset() {
	preset, err := claims.ParsePreset("keycloak") // e.g. from CLAIMS_PRESET
	if err != nil {
		fmt.Println(err)
		return
	}
	m := claims.Mapping{Preset: preset, RolesClient: "venue-api", FirstPartyClients: []string{"venue-app"}}
	fmt.Println(m.Preset, m.Check())
	// Output: keycloak <nil>
}

// A service for any Microsoft Entra tenant accepts the issuer of the
// token's own tenant, and only that one.
func ExampleMatchIssuerTemplate() {
	const template = "https://login.microsoftonline.com/{tenantid}/v2.0"
	p, _ := claims.Mapping{Preset: claims.PresetEntra}.Decode([]byte(`{
		"iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
		"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "azp": "app", "sub": "s", "scp": "read"}`))
	fmt.Println(claims.MatchIssuerTemplate(template, p.Issuer, p.OrgID))
	fmt.Println(claims.MatchIssuerTemplate(template, p.Issuer, "0e3e2a4f-1b2c-4d5e-8f9a-0b1c2d3e4f5a"))
	// Output:
	// true
	// false
}
