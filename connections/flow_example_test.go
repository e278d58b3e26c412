package connections_test

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/idptest"
)

// The service's own login by authorization code with PKCE — what RFC 9700
// recommends in place of the password grant: a Flow with the service's
// provider as its Party sends the browser to the provider, and its
// callback's code goes to the refresh service, which keeps the refresh
// token on the server. The binding ties the callback to the browser that
// started the login (a random value in a cookie).
func ExampleNewFlow() {
	idp, _ := idptest.New(idptest.Demo()) // stands in for https://tenant.auth0.com/
	defer idp.Close()
	ctx := context.Background()
	gate, err := authn.Setup(ctx, authn.SetupConfig{
		Issuer: idp.Issuer(), Audience: idptest.DemoAPI,
		ClientID: "venue-app", ClientSecret: "venue-app-secret",
		Secret: []byte("32 bytes or more, the same on every instance"),
	})
	if err != nil {
		panic(err)
	}
	defer gate.Close()
	md, err := gate.Discovery(ctx, idp.Issuer())
	if err != nil {
		panic(err)
	}
	login, err := connections.NewFlow(connections.NewMemoryCache(nil), connections.Party{
		Name: "login", AuthURL: md.AuthorizationEndpoint, ClientID: "venue-app",
		RedirectURL: "https://venue.example/auth/callback", Audience: idptest.DemoAPI,
		Scopes: []string{"openid", "offline_access", "read:venues"},
	}, connections.FlowConfig{
		Namespace:      "prod/venue-api",
		HashKey:        []byte("32 bytes or more, from a secret store"),
		EncryptionKeys: []connections.Key{{ID: 1, Secret: []byte("a 32-byte key from secret store.")}},
	})
	if err != nil {
		panic(err)
	}

	// GET /auth/authorize: set the binding cookie, redirect to the provider.
	binding := rand.Text()
	u, err := login.Start(ctx, binding, connections.AuthRequest{Organization: "org_acme", LoginHint: "alice"})
	if err != nil {
		panic(err)
	}
	// The user logs in at the provider, which redirects to the callback.
	back := redirect(u)
	// GET /auth/callback: the binding from the cookie, the code to the
	// refresh service.
	cb, err := connections.ParseCallback(back.Query())
	if err != nil {
		panic(err)
	}
	a, err := login.Finish(ctx, binding, cb)
	if err != nil {
		panic(err)
	}
	tokens, err := gate.Refresh.ExchangeCode(ctx, a.Code, a.RedirectURI, a.CodeVerifier)
	if err != nil {
		panic(err)
	}
	p, err := gate.Authenticator.Authenticate(ctx, tokens.AccessToken)
	fmt.Println(p.Subject, p.OrgID, p.Scopes, err)
	_, err = login.Finish(ctx, binding, cb) // a callback works once
	fmt.Println(err != nil)
	// Output:
	// auth0|alice org_acme offline_access openid read:venues <nil>
	// true
}
