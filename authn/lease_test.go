package authn_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
)

// TestOneProviderCallFleetWide: five instances × 200 concurrent requests
// for one new opaque token cause one introspection call: one instance takes
// the lease, the others read its answer from memcached.
func TestOneProviderCallFleetWide(t *testing.T) {
	e := newEnv(t)
	var fleet []*instance
	for range 5 {
		fleet = append(fleet, e.instance(e.introspection(), true, authn.Config{}))
	}
	tok := e.opaque()
	e.idp.ResetCalls()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 5*200)
	for _, in := range fleet {
		for range 200 {
			wg.Go(func() {
				<-start
				_, err := in.a.Authenticate(context.Background(), tok)
				errs <- err
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := e.idp.Calls(idptest.EndpointIntrospect); c != 1 {
		t.Errorf("%d introspection calls for one token across five instances, want 1", c)
	}
}

// TestStalledLeaseHolder: when the instance holding the lease stalls, the
// others ask the provider themselves after LeaseWait — bounded, never a
// hang.
func TestStalledLeaseHolder(t *testing.T) {
	e := newEnv(t)
	g := newGated(e.introspection())
	holder := e.instance(g, true, authn.Config{})
	cfg := authn.Config{LeaseWait: 200 * time.Millisecond}
	others := []*instance{e.instance(e.introspection(), true, cfg), e.instance(e.introspection(), true, cfg)}
	tok := e.opaque()
	go func() { _, _ = holder.a.Authenticate(context.Background(), tok) }()
	waitClosed(t, g.entered, "the lease holder to stall")
	defer close(g.gate)
	for i, in := range others {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // "bounded", not a timing claim
		p, err := in.a.Authenticate(ctx, tok)
		cancel()
		if err != nil || p.Subject != "auth0|alice" {
			t.Fatalf("instance %d with the lease holder stalled: %v, %v", i, p, err)
		}
		// The first waits for the holder, then asks the provider itself;
		// the second finds that answer in memcached.
		if i == 0 && metricValue(in.reg, "authgate_authn_provider_leases_total", map[string]string{"outcome": "timed_out"}) != 1 {
			t.Error("the first instance did not wait for the holder before asking the provider")
		}
		if i == 1 && lookups(in.reg, "memcache", "hit") != 1 {
			t.Error("the second instance did not find the first's answer in memcached")
		}
	}
}

// TestOpaqueFloodWithinBudget: a thousand distinct random opaque tokens —
// an unauthenticated flood — cost at most the outbound budget's provider
// calls, each beyond it answered 503 with Retry-After, never 401 and never
// an unbounded queue; a valid token validated before is served throughout.
func TestOpaqueFloodWithinBudget(t *testing.T) {
	e := newEnv(t)
	e.idp.SetNow(time.Now()) // the validator's budget reads this clock: no refill during the flood
	in := e.instance(e.introspection(), true, authn.Config{})
	good := e.opaque()
	mustAuth(t, in.a, good)
	e.idp.ResetCalls()
	retried := 0
	for i := range 1000 {
		_, err := in.a.Authenticate(context.Background(), fmt.Sprintf("random-opaque-token-%04d-%s", i, rand.Text()))
		switch {
		case errors.Is(err, claims.ErrInvalidToken):
		case errors.Is(err, claims.ErrUnavailable):
			if _, ok := claims.RetryAfterOf(err); !ok {
				t.Fatalf("token %d: unavailable without a retry hint: %v", i, err)
			}
			retried++
		default:
			t.Fatalf("token %d: %v", i, err)
		}
		if i%100 == 0 {
			mustAuth(t, in.a, good)
		}
	}
	// The default budget: a burst of 10 (the good token spent one), and the
	// clock stands still.
	if c := e.idp.Calls(idptest.EndpointIntrospect); c > 10 {
		t.Errorf("%d introspection calls for a flood of random tokens, want at most the budget's burst", c)
	}
	if retried < 900 {
		t.Errorf("%d of 1000 refused by the budget, want most", retried)
	}
}
