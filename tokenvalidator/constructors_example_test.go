package tokenvalidator_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

// JWT access tokens verified locally against the issuer's keys, found by
// OpenID discovery (or JWKSConfig.JWKSURL) and refreshed in the
// background. The result is cacheable until CacheUntil.
func ExampleNewJWKS() {
	idp, _ := idptest.New(idptest.Demo()) // stands in for https://tenant.auth0.com/
	defer idp.Close()
	ctx := context.Background()

	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{
		Issuer:    idp.Issuer(),
		Audiences: []string{idptest.DemoAPI},
		Mapping:   claims.Mapping{FirstPartyClients: []string{"venue-app"}},
	})
	if err != nil {
		panic(err) // a configuration mistake; an unreachable provider is Ready's to report
	}
	defer v.Close()
	if err := v.Ready(ctx); err != nil {
		panic(err)
	}

	res, err := v.Validate(ctx, signed(idp, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Organization: "org_acme", Scopes: []string{"read:venues"}}))
	fmt.Println(res.Principal.Subject, res.Principal.Kind, res.Principal.Scopes, err)
	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI})
	c["aud"] = "https://api.tickets.example" // another API's token
	other, _ := idp.Mint(c)
	_, err = v.Validate(ctx, other)
	reason, _ := claims.ReasonOf(err)
	fmt.Println(errors.Is(err, claims.ErrInvalidToken), reason)
	// Output:
	// auth0|alice user read:venues <nil>
	// true audience
}

// Several tenants — dev and prod here — or several providers: each JWT
// goes to the validator of the issuer it names.
func ExampleNewIssuers() {
	dev, _ := idptest.New(idptest.Demo())
	defer dev.Close()
	prod, _ := idptest.New(idptest.Demo())
	defer prod.Close()
	ctx := context.Background()
	var keySets []*tokenvalidator.JWKS
	for _, idp := range []*idptest.Server{dev, prod} {
		v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI}})
		if err != nil {
			panic(err)
		}
		keySets = append(keySets, v)
	}
	issuers, err := tokenvalidator.NewIssuers(keySets...)
	if err != nil {
		panic(err)
	}
	defer issuers.Close() // closes the key sets too

	for _, idp := range []*idptest.Server{dev, prod} {
		res, err := issuers.Validate(ctx, signed(idp, idptest.ClaimsRequest{Username: "bob", ClientID: "venue-app", Audience: idptest.DemoAPI}))
		fmt.Println(res.Principal.Issuer == idp.Issuer(), err)
	}
	// Output:
	// true <nil>
	// true <nil>
}

// Opaque tokens at the provider's RFC 7662 introspection endpoint, with
// the service's client credentials. An answer is reused for CacheTTL (1m)
// at most, so that a revocation at the provider is seen that soon.
func ExampleNewIntrospection() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	v, err := tokenvalidator.NewIntrospection(tokenvalidator.IntrospectionConfig{
		URL:      idp.IntrospectionURL(),
		ClientID: "venue-app", ClientSecret: "venue-app-secret",
		Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI})
	res, err := v.Validate(ctx, idp.OpaqueToken(c))
	fmt.Println(res.Principal.Subject, err)
	_, err = v.Validate(ctx, "a-token-the-provider-never-issued")
	fmt.Println(errors.Is(err, claims.ErrInvalidToken))
	// Output:
	// auth0|alice <nil>
	// true
}

// Auth0 has no introspection: its opaque tokens (issued when no audience
// is asked) are good only at /userinfo, which proves who the user is but
// nothing about audience or scopes.
func ExampleNewUserInfo() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	v, err := tokenvalidator.NewUserInfo(tokenvalidator.UserInfoConfig{URL: idp.UserinfoURL(), Issuer: idp.Issuer()})
	if err != nil {
		panic(err)
	}
	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "carol", ClientID: "venue-app", Scopes: []string{"openid"}})
	res, err := v.Validate(context.Background(), idp.OpaqueToken(c))
	fmt.Println(res.Principal.Subject, res.Principal.Audience, err)
	// Output: auth0|carol [] <nil>
}

// Auto routes by shape: JWTs to the key sets, anything else to the
// opaque-token validator (here, introspection).
func ExampleAuto() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	ctx := context.Background()
	keys, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI}})
	if err != nil {
		panic(err)
	}
	defer keys.Close()
	opaque, err := tokenvalidator.NewIntrospection(tokenvalidator.IntrospectionConfig{
		URL: idp.IntrospectionURL(), ClientID: "venue-app", ClientSecret: "venue-app-secret", Issuer: idp.Issuer(),
	})
	if err != nil {
		panic(err)
	}
	v := tokenvalidator.Auto{JWT: keys, Opaque: opaque}

	req := idptest.ClaimsRequest{Username: "bob", ClientID: "venue-app", Audience: idptest.DemoAPI}
	c, _ := idp.UserClaims(req)
	for _, token := range []string{signed(idp, req), idp.OpaqueToken(c)} {
		res, err := v.Validate(ctx, token)
		fmt.Println(tokenvalidator.LooksLikeJWT(token), res.Principal.Subject, err)
	}
	fmt.Println("introspections:", idp.Calls(idptest.EndpointIntrospect))
	// Output:
	// true auth0|bob <nil>
	// false auth0|bob <nil>
	// introspections: 1
}

// A service that delegates validation: Remote asks an RFC 7662 endpoint —
// authgate's token service, or, as here, the provider's own — and reads
// the token service's members (kind, organization, permissions,
// enrichment) when they are there.
func ExampleNewRemote() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	remote, err := tokenvalidator.NewRemote(tokenvalidator.RemoteConfig{
		URL:      idp.IntrospectionURL(), // "http://tokenservice:8081/introspect"
		ClientID: "venue-app", ClientSecret: "venue-app-secret",
		Issuers: []string{idp.Issuer()}, Audiences: []string{idptest.DemoAPI},
	})
	if err != nil {
		panic(err)
	}
	res, err := remote.Validate(context.Background(), signed(idp, idptest.ClaimsRequest{ClientID: "venue-worker"}))
	fmt.Println(res.Principal.Subject, res.Principal.Kind, err)
	// Output: venue-worker@clients machine <nil>
}

// With server nonces (RFC 9449 §9), a proof without a current nonce is
// refused with one the client retries with. Every instance configured
// with the same NonceSecret accepts the others' nonces.
func ExampleNewDPoP() {
	proofs, err := tokenvalidator.NewDPoP(cache.NewReplay(cache.ReplayConfig{}), tokenvalidator.DPoPConfig{
		NonceSecret: []byte("32 bytes or more, the same on every instance"),
	})
	if err != nil {
		panic(err)
	}
	key, _ := idptest.NewDPoPKey("EdDSA")
	const token, uri = "the-access-token", "https://api.venue.example/v1/venues"
	ctx := context.Background()

	proof, _ := key.Proof(http.MethodGet, uri, token, "")
	nonce, err := proofs.VerifyProof(ctx, proof, token, key.Thumbprint(), http.MethodGet, uri)
	check, _ := claims.ProofCheckOf(err)
	fmt.Println(check, nonce != "") // answered 401 use_dpop_nonce, with the nonce in DPoP-Nonce

	proof, _ = key.Proof(http.MethodGet, uri, token, nonce)
	_, err = proofs.VerifyProof(ctx, proof, token, key.Thumbprint(), http.MethodGet, uri)
	fmt.Println(err)
	// Output:
	// nonce true
	// <nil>
}

// signed is idp's signed access token for req (in a test,
// idp.AccessToken(t, req) is the one-line form).
func signed(idp *idptest.Server, req idptest.ClaimsRequest) string {
	c, err := idp.UserClaims(req)
	if req.Username == "" {
		c, err = idp.MachineClaims(req.ClientID, req.Audience)
	}
	if err != nil {
		panic(err)
	}
	tok, err := idp.Mint(c)
	if err != nil {
		panic(err)
	}
	return tok
}
