package refresh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/refresh"
	"github.com/authgate/authgate/tokenvalidator"
)

// The service's own login, refresh and logout, with the refresh token kept
// on the server. (authn.Setup builds this Service when its issuer has a
// client: gate.Refresh.)
func ExampleNew() {
	idp, _ := idptest.New(idptest.Demo()) // stands in for https://tenant.auth0.com/
	defer idp.Close()
	ctx := context.Background()
	keys, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI}})
	if err != nil {
		panic(err)
	}
	defer keys.Close()

	svc, err := refresh.New(refresh.NewMemoryStore(nil), keys, refresh.Config{ // refresh.NewMemcacheStore(cluster) for a fleet
		TokenURL: idp.TokenURL(), RevocationURL: idp.RevocationURL(),
		ClientID: "venue-app", ClientSecret: "venue-app-secret",
		Audience:  idptest.DemoAPI,
		Scopes:    []string{"openid", "offline_access", "read:venues"},
		Namespace: "prod/venue-api",
		HashKey:   []byte("32 bytes or more, from a secret store"),
		EncryptionKeys: []refresh.Key{
			{ID: 2, Secret: []byte("the newest 32-byte key seals....")},
			{ID: 1, Secret: []byte("older 32-byte keys still open...")},
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /auth/login", svc.LoginHandler())
	mux.Handle("POST /auth/refresh", svc.RefreshHandler())
	mux.Handle("POST /auth/logout", svc.LogoutHandler())

	status, body := send(mux, "/auth/login", "", url.Values{"username": {"alice"}, "password": {"alice-password"}})
	fmt.Println("login:", status, keysOf(body))
	first := body["access_token"].(string)
	status, body = send(mux, "/auth/refresh", first, nil)
	fmt.Println("refresh:", status, body["access_token"] != first)
	second := body["access_token"].(string)
	status, _ = send(mux, "/auth/logout", second, nil)
	fmt.Println("logout:", status)
	status, body = send(mux, "/auth/refresh", second, nil)
	fmt.Println("refresh after logout:", status, body["error"])
	// Output:
	// login: 200 [access_token expires_in token_type]
	// refresh: 200 true
	// logout: 204
	// refresh after logout: 401 invalid_token
}

// A login takes a form or a JSON object; wrong credentials are 401
// invalid_grant, a provider that cannot be reached 503 with Retry-After.
func ExampleService_LoginHandler() {
	idp, svc, done := venueService()
	defer done()
	h := svc.LoginHandler()

	status, body := send(h, "/", "", url.Values{"username": {"alice"}, "password": {"wrong"}})
	fmt.Println(status, body["error"])
	idp.SetFault(idptest.EndpointToken, idptest.FaultUnavailable)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username": "alice", "password": "alice-password"}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Retry-After") != "")
	// Output:
	// 401 invalid_grant
	// 503 true
}

// A refresh presents the access token, expired or not. A repeat within
// GraceWindow — a client retrying after a lost answer — gets the same new
// token without a second call to the provider; the old token is refused
// from then on.
func ExampleService_RefreshHandler() {
	idp, svc, done := venueService()
	defer done()
	login := logIn(svc)

	_, first := send(svc.RefreshHandler(), "/", login, nil)
	calls := idp.Calls(idptest.EndpointToken)
	_, again := send(svc.RefreshHandler(), "/", login, nil)
	fmt.Println(first["access_token"] == again["access_token"], idp.Calls(idptest.EndpointToken)-calls)
	// Output: true 0
}

// A logout revokes the refresh token at the provider and forgets it; the
// session cannot be refreshed any more.
func ExampleService_LogoutHandler() {
	idp, svc, done := venueService()
	defer done()
	token := logIn(svc)

	status, _ := send(svc.LogoutHandler(), "/", token, nil)
	fmt.Println(status, idp.Calls(idptest.EndpointRevoke))
	status, _ = send(svc.RefreshHandler(), "/", token, nil)
	fmt.Println(status)
	// Output:
	// 204 1
	// 401
}

// venueService returns the demo provider, a refresh Service for its
// venue-app client in this process's memory, and a function that closes
// them.
func venueService() (*idptest.Server, *refresh.Service, func()) {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	keys, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI}})
	if err != nil {
		panic(err)
	}
	svc, err := refresh.New(refresh.NewMemoryStore(nil), keys, refresh.Config{
		TokenURL: idp.TokenURL(), RevocationURL: idp.RevocationURL(),
		ClientID: "venue-app", ClientSecret: "venue-app-secret", Audience: idptest.DemoAPI,
		Namespace: "test", HashKey: make([]byte, 32), EncryptionKeys: []refresh.Key{{ID: 1, Secret: make([]byte, 32)}},
	})
	if err != nil {
		panic(err)
	}
	return idp, svc, func() { keys.Close(); idp.Close() }
}

// logIn logs alice in through svc and returns her access token.
func logIn(svc *refresh.Service) string {
	status, body := send(svc.LoginHandler(), "/", "", url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if status != http.StatusOK {
		panic(fmt.Sprint("login: ", status, body))
	}
	return body["access_token"].(string)
}

// send sends a POST to h — a form when form is not nil, a bearer token
// when token is not empty — and returns the status and the JSON body.
func send(h http.Handler, target, token string, form url.Values) (int, map[string]any) {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

// keysOf returns the names of m's members, sorted.
func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
