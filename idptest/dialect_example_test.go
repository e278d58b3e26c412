package idptest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/idptest"
)

// A provider that behaves like Dex: its issuer has no trailing slash, it
// refuses scopes it does not know, and its access tokens name the client
// in aud and carry no scope claim.
func ExampleDialect() {
	cfg := idptest.Demo()
	cfg.Dialect = idptest.DialectDex
	idp, err := idptest.New(cfg)
	if err != nil {
		panic(err)
	}
	defer idp.Close()
	fmt.Println(strings.TrimPrefix(idp.Issuer(), idp.URL()))

	login := url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"},
		"client_id": {"venue-app"}, "client_secret": {"venue-app-secret"},
		"scope": {"openid offline_access read:venues"},
	}
	var answer map[string]any
	post := func() {
		resp, err := http.PostForm(idp.TokenURL(), login)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		answer = nil
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		fmt.Println(resp.StatusCode, answer["error"], answer["error_description"])
	}
	post()
	login.Set("scope", "openid offline_access groups")
	post()

	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(answer["access_token"].(string), ".")[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	fmt.Println(claims["aud"], claims["azp"], claims["scope"], claims["groups"])
	// Output:
	// /dex
	// 400 invalid_request Unrecognized scope(s) ["read:venues"]
	// 200 <nil> <nil>
	// venue-app <nil> <nil> [venue-booker venue-viewer]
}
