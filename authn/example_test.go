package authn_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
)

// One issuer and one API: the common case. Setup discovers the provider's
// endpoints, fetches its keys and fails, naming the problem, when it
// cannot.
func ExampleSetup() {
	idp, err := idptest.New(idptest.Demo()) // stands in for https://tenant.auth0.com/
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuer:   idp.Issuer(),
		Audience: idptest.DemoAPI,
		// MemcacheServers: []string{"mc1:11211", "mc2:11211"}, Secret: secret,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	token := accessToken(idp, idp, "alice")
	p, err := gate.Authenticator.Authenticate(context.Background(), token)
	fmt.Println(p.Subject, p.Kind, err)
	// Output: auth0|alice user <nil>
}

// Several issuers — dev and int tenants here — behind one Setup: a JWT goes
// to the issuer its iss names, and logins to the first issuer with a
// client.
func ExampleSetup_severalIssuers() {
	dev, _ := idptest.New(idptest.Demo())
	defer dev.Close()
	intTenant, _ := idptest.New(idptest.Demo())
	defer intTenant.Close()

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuers: []authn.IssuerConfig{
			{Issuer: dev.Issuer(), Audiences: []string{idptest.DemoAPI}},
			{Issuer: intTenant.Issuer(), Audiences: []string{idptest.DemoAPI}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	for _, idp := range []*idptest.Server{dev, intTenant} {
		_, err := gate.Authenticator.Authenticate(context.Background(), accessToken(idp, idp, "alice"))
		fmt.Println(err == nil)
	}
	// A token naming dev but signed by int's key is refused.
	_, err = gate.Authenticator.Authenticate(context.Background(), accessToken(dev, intTenant, "alice"))
	fmt.Println(err)
	// Output:
	// true
	// true
	// tokenvalidator: invalid token: issuer: the token's kid is another issuer's
}

// A provider other than Auth0: its claim-mapping preset says where it puts
// the authorized party, scopes, roles, organization and the machine mark.
// Here a provider shaped like Dex (no azp, no scope claim, the client id
// as aud), whose users are users of the service's app.
func ExampleSetup_preset() {
	cfg := idptest.Demo()
	cfg.Dialect = idptest.DialectDex
	idp, _ := idptest.New(cfg)
	defer idp.Close()

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuers: []authn.IssuerConfig{{
			Issuer:    idp.Issuer(), // Dex's has no trailing slash
			Audiences: []string{"venue-app"},
			Mapping:   claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: []string{"venue-app"}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Scopes: []string{"openid"}})
	token, _ := idp.Mint(c)
	p, err := gate.Authenticator.Authenticate(context.Background(), token)
	fmt.Println(p.Kind, p.AuthorizedParty, strings.HasSuffix(idp.Issuer(), "/"), err)
	// Output: user venue-app false <nil>
}

// accessToken is alice's token as issuer would issue it, signed by signer.
func accessToken(issuer, signer *idptest.Server, user string) string {
	c, err := issuer.UserClaims(idptest.ClaimsRequest{Username: user, ClientID: "venue-app", Audience: idptest.DemoAPI})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := signer.Mint(c)
	if err != nil {
		log.Fatal(err)
	}
	return tok
}
