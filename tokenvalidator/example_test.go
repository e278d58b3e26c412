package tokenvalidator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

// One budget caps the calls to one provider, shared by its userinfo and
// introspection validators. Beyond it, a validation is refused at once and
// says when to retry.
func ExampleNewBudget() {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()

	// Two calls at once, then one a minute.
	budget, err := tokenvalidator.NewBudget(tokenvalidator.BudgetConfig{Rate: 1.0 / 60, Burst: 2})
	if err != nil {
		panic(err)
	}
	userinfo, err := tokenvalidator.NewUserInfo(tokenvalidator.UserInfoConfig{
		URL: idp.UserinfoURL(), Issuer: idp.Issuer(), Budget: budget,
	})
	if err != nil {
		panic(err)
	}
	introspection, err := tokenvalidator.NewIntrospection(tokenvalidator.IntrospectionConfig{
		URL: idp.IntrospectionURL(), ClientID: "venue-app", ClientSecret: "venue-app-secret",
		Issuer: idp.Issuer(), Budget: budget,
	})
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	for _, v := range []tokenvalidator.Validator{userinfo, introspection, userinfo} {
		_, err := v.Validate(ctx, "a-random-opaque-token")
		after, retry := claims.RetryAfterOf(err)
		fmt.Println(errors.Is(err, claims.ErrInvalidToken), retry, after > 0)
	}
	// Output:
	// true false false
	// true false false
	// false true true
}

// A login's token goes through VerifyIssued: even right after the provider
// rotated its signing key, the new key is fetched at once, and Validate
// accepts the token from then on.
func ExampleJWKS_VerifyIssued() {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()
	ctx := context.Background()
	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{
		Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI},
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	if _, err := idp.RotateKey("RS256"); err != nil {
		panic(err)
	}
	resp, err := http.PostForm(idp.TokenURL(), url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"},
		"client_id": {"venue-app"}, "client_secret": {"venue-app-secret"}, "audience": {idptest.DemoAPI},
	})
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		panic(err)
	}

	p, err := v.VerifyIssued(ctx, answer.AccessToken)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Subject)
	_, err = v.Validate(ctx, answer.AccessToken)
	fmt.Println(err)
	// Output:
	// auth0|alice
	// <nil>
}

// Ready names what keeps a validator from verifying tokens — here the
// classic: the issuer configured without the trailing slash the provider
// puts in its tokens.
func ExampleJWKS_Ready() {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()
	ctx := context.Background()
	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{
		Issuer:    strings.TrimSuffix(idp.Issuer(), "/"),
		Audiences: []string{idptest.DemoAPI},
	})
	if err != nil {
		panic(err) // only configuration mistakes: NewJWKS starts while the provider is down
	}
	defer v.Close()

	err = v.Ready(ctx)
	fmt.Println(errors.Is(err, tokenvalidator.ErrIssuerMismatch), errors.Is(err, claims.ErrUnavailable))
	fmt.Println(strings.Contains(err.Error(), "differ only in the trailing slash"))
	// Output:
	// true false
	// true
}

// The validators' metrics on a registry of the service's own.
func ExampleWithRegisterer() {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()
	reg := prometheus.NewRegistry()
	v, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{
		Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI},
	}, tokenvalidator.WithRegisterer(reg))
	if err != nil {
		panic(err)
	}
	defer v.Close()

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		fmt.Println(f.GetName())
	}
	// Output:
	// authgate_tokenvalidator_jwks_age_seconds
	// authgate_tokenvalidator_jwks_fetches_total
	// authgate_tokenvalidator_unknown_kid_total
}
