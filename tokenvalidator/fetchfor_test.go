package tokenvalidator

import (
	"context"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// TestNoFetchForAKidJustPublished forces the interleaving that made two
// key-set fetches for one rotation: a caller's lookup misses a kid, a fetch
// then publishes it and ends, and only then does the caller ask fetchFor
// for a fetch (key does it right after its lookup). It gets an ended fetch
// and none starts; a kid still unknown does start one.
func TestNoFetchForAKidJustPublished(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	v, _ := withSharedSecret(t, idp)
	calls := idp.Calls(idptest.EndpointJWKS)
	ended := func(done <-chan struct{}) bool {
		select {
		case <-done:
			return true
		case <-time.After(5 * time.Second):
			return false
		}
	}
	if done, _ := v.keys.fetchFor(context.Background(), triggerIssued, idp.SigningKeyID()); done == nil || !ended(done) {
		t.Fatal("a published kid: no ended fetch")
	}
	if n := idp.Calls(idptest.EndpointJWKS) - calls; n != 0 {
		t.Errorf("a published kid fetched the key set %d times", n)
	}
	if done, _ := v.keys.fetchFor(context.Background(), triggerIssued, "not-published"); done == nil || !ended(done) {
		t.Fatal("an unknown kid: no fetch")
	}
	if n := idp.Calls(idptest.EndpointJWKS) - calls; n != 1 {
		t.Errorf("an unknown kid fetched the key set %d times, want 1", n)
	}
}
