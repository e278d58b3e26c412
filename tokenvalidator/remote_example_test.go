package tokenvalidator_test

import (
	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/tokenvalidator"
)

// A service that delegates validation to authgate's token service keeps its
// own cache tiers: the Authenticator asks the token service only on a miss,
// and keeps each answer until the token expires.
func ExampleRemote() {
	remote, err := tokenvalidator.NewRemote(tokenvalidator.RemoteConfig{
		URL:          "http://tokenservice:8081/introspect",
		ClientID:     "venue-api",
		ClientSecret: "its secret",
		Issuers:      []string{"https://tenant.auth0.com/"},
		Audiences:    []string{"https://api.venue.example"},
	})
	if err != nil {
		panic(err)
	}
	auth, err := authn.NewAuthenticator(remote, authn.Config{})
	if err != nil {
		panic(err)
	}
	_ = auth // hand it to middleware.New
}
