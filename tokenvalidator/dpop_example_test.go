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

// A resource server checks the proof that comes with a DPoP-bound token:
// once, and never again.
func ExampleDPoP_VerifyProof() {
	proofs, err := tokenvalidator.NewDPoP(cache.NewReplay(cache.ReplayConfig{}), tokenvalidator.DPoPConfig{
		Algorithms: []string{"ES256", "EdDSA"},
	})
	if err != nil {
		panic(err)
	}
	// The client's side: its key, and the proof it sends with its token.
	key, _ := idptest.NewDPoPKey("ES256")
	const token = "the-access-token" // its Principal's Confirmation.JKT is key.Thumbprint()
	proof, _ := key.Proof(http.MethodGet, "https://api.venue.example/v1/venues", token, "")

	ctx := context.Background()
	_, err = proofs.VerifyProof(ctx, proof, token, key.Thumbprint(), http.MethodGet, "https://api.venue.example/v1/venues")
	fmt.Println(err)
	_, err = proofs.VerifyProof(ctx, proof, token, key.Thumbprint(), http.MethodGet, "https://api.venue.example/v1/venues")
	check, _ := claims.ProofCheckOf(err)
	fmt.Println(errors.Is(err, claims.ErrInvalidProof), check)
	// Output:
	// <nil>
	// true replay
}
