package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// A service that takes bearer and DPoP-bound tokens, behind a gateway
// that clients reach at https://api.venue.example.
func ExampleWithProofVerifier() {
	// One instance; with several, cache.NewSharedReplay on the shared tier.
	proofs, err := tokenvalidator.NewDPoP(cache.NewReplay(cache.ReplayConfig{}), tokenvalidator.DPoPConfig{Algorithms: []string{"ES256", "EdDSA"}})
	if err != nil {
		panic(err)
	}
	mw, err := middleware.New(auth, middleware.Config{
		DPoP:      middleware.DPoPAllowed,
		PublicURL: "https://api.venue.example",
	}, middleware.WithProofVerifier(proofs))
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	mw.Handler(whoami).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/venues", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA"
}
