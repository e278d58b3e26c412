package integrations_test

import (
	"context"
	"fmt"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/integrations"
)

// bob turns partner-app on, then off: the partner's calls for him pass the
// integration check only in between, and once he turns it off its tokens
// for him are refused everywhere (and, with authn.WithProviderGrants, its
// refresh tokens revoked at the provider).
func ExampleService_Disable() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	ctx := context.Background()
	gate, err := authn.Setup(ctx, authn.SetupConfig{
		Issuer: idp.Issuer(), Audience: idptest.DemoAPI, FirstPartyClients: []string{"venue-app"},
	})
	if err != nil {
		panic(err)
	}
	defer gate.Close()
	svc, err := integrations.New(&integrations.MemoryStore{}, gate, integrations.Config{}) // integrations.OpenSQLite(…) to keep them
	if err != nil {
		panic(err)
	}
	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "bob", ClientID: "partner-app", Audience: idptest.DemoAPI, Organization: "org_globex"})
	partner, _ := idp.Mint(c)

	enabled := func() {
		on, err := svc.IntegrationEnabled(ctx, "auth0|bob", "partner-app", "org_globex")
		_, aerr := gate.Authenticator.Authenticate(ctx, partner)
		fmt.Println(on, err, aerr == nil)
	}
	enabled()
	in, err := svc.Enable(ctx, "auth0|bob", "partner-app", "org_globex")
	fmt.Println(in.ClientID, in.OrgID, err)
	enabled()
	fmt.Println(svc.Disable(ctx, "auth0|bob", "partner-app", "org_globex"))
	enabled()
	// Output:
	// false <nil> true
	// partner-app org_globex <nil>
	// true <nil> true
	// <nil>
	// false <nil> false
}
