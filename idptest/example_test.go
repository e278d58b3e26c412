package idptest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// In a test, Start runs the demo provider until the test ends. The service
// under test trusts idp.Issuer() and fetches keys from idp.JWKSURL().
func ExampleStart() {
	testLogin := func(t *testing.T) {
		idp := idptest.Start(t, idptest.Demo())
		resp, err := http.PostForm(idp.TokenURL(), url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"},
			"client_id": {"venue-app"}, "client_secret": {"venue-app-secret"},
			"audience": {idptest.DemoAPI}, "organization": {"org_acme"}, "scope": {"read:venues"},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// … hand the access token to the handler under test.
	}
	_ = testLogin
}

// A password grant against a provider started with New, as the example
// program examples/idp does.
func ExampleNew() {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()

	resp, err := http.PostForm(idp.TokenURL(), url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"},
		"client_id": {"venue-app"}, "client_secret": {"venue-app-secret"},
		"audience": {idptest.DemoAPI}, "organization": {"org_acme"},
		"scope": {"openid offline_access read:venues manage:venues"},
	})
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
		ExpiresIn    int    `json:"expires_in"`
		TokenType    string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, answer.TokenType, answer.ExpiresIn)
	fmt.Println("scope:", answer.Scope) // alice may not manage venues
	fmt.Println("refresh token:", answer.RefreshToken != "")
	// Output:
	// 200 Bearer 86400
	// scope: openid offline_access read:venues
	// refresh token: true
}

// Mint signs claims built like the token endpoint's, changed for a
// negative test: here an expired token whose header lies about its
// algorithm.
func ExampleServer_Mint() {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()

	claims, err := idp.UserClaims(idptest.ClaimsRequest{
		Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Organization: "org_acme", Scopes: []string{"read:venues"},
	})
	if err != nil {
		panic(err)
	}
	claims["exp"] = idp.Now().Add(-time.Minute).Unix()
	tok, err := idp.Mint(claims, idptest.WithHeader("alg", "RS512"))
	if err != nil {
		panic(err)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]any
	_ = json.Unmarshal(header, &h)
	fmt.Println(h["alg"], h["typ"], h["kid"] == idp.SigningKeyID())
	// Output: RS512 JWT true
}
