package idptest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/idptest"
)

// A client with a DPoP key gets a bound access token by sending a proof
// with its token request, then sends a fresh proof, with the token's hash,
// on every request to the API.
func ExampleDPoPKey_Proof() {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()
	key, err := idptest.NewDPoPKey("ES256")
	if err != nil {
		panic(err)
	}

	proof, _ := key.Proof(http.MethodPost, idp.TokenURL(), "", "")
	req, _ := http.NewRequest(http.MethodPost, idp.TokenURL(), strings.NewReader(url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"venue-worker"}, "client_secret": {"venue-worker-secret"},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	fmt.Println(answer.TokenType)

	// The request to the API: the token under the DPoP scheme, and a proof
	// for this method and URL that carries the token's hash.
	api, _ := http.NewRequest(http.MethodGet, "https://api.venue.example/v1/venues", nil)
	proof, _ = key.Proof(api.Method, api.URL.String(), answer.AccessToken, "")
	api.Header.Set("Authorization", "DPoP "+answer.AccessToken)
	api.Header.Set("DPoP", proof)
	fmt.Println(api.Header.Get("Authorization")[:5])
	// Output:
	// DPoP
	// DPoP
}
