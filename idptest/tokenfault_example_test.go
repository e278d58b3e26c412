package idptest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/authgate/authgate/idptest"
)

// SetTokenError makes the token endpoint refuse, as a provider would that
// asks for MFA or rate-limits the client, until the zero TokenError clears
// it.
func ExampleServer_SetTokenError() {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()
	login := func() {
		resp, err := http.PostForm(idp.TokenURL(), url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"},
			"client_id": {"venue-app"}, "client_secret": {"venue-app-secret"}, "audience": {idptest.DemoAPI},
		})
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		fmt.Printf("%d %q Retry-After=%q\n", resp.StatusCode, body.Error, resp.Header.Get("Retry-After"))
	}

	idp.SetTokenError(idptest.TokenError{Status: 403, Code: "mfa_required"})
	login()
	idp.SetTokenError(idptest.TokenError{Status: 429, Code: "too_many_requests", RetryAfter: 30 * time.Second})
	login()
	idp.SetTokenError(idptest.TokenError{})
	login()
	// Output:
	// 403 "mfa_required" Retry-After=""
	// 429 "too_many_requests" Retry-After="30"
	// 200 "" Retry-After=""
}
