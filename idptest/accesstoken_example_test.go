package idptest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/idptest"
)

// testListVenues tests a handler behind authgate: the provider stands in
// for the tenant, the service under test is set up with idp.Issuer() as
// its issuer, and each case gets its token in one line.
func testListVenues(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gate.Close() })
	listVenues := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`[]`)) })
	h := gate.Middleware.Handler(gate.Middleware.RequireScopes("read:venues")(listVenues))

	for _, tc := range []struct {
		name string
		req  idptest.ClaimsRequest
		want int
	}{
		{"a user with read:venues", idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app",
			Audience: idptest.DemoAPI, Organization: "org_acme", Scopes: []string{"read:venues"}}, http.StatusOK},
		{"a user without it", idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app",
			Audience: idptest.DemoAPI}, http.StatusForbidden},
		{"a machine", idptest.ClaimsRequest{ClientID: "venue-worker"}, http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/venues", nil)
		req.Header.Set("Authorization", "Bearer "+idp.AccessToken(t, tc.req))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.want)
		}
	}
}

// A test of a handler, written as testListVenues above: go test runs it
// (as TestAccessTokenAsDocumented).
func ExampleServer_AccessToken() {}
