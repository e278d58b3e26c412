package authn_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
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
