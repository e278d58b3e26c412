package authn_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

// gated is a validator whose first validation stops before returning its
// verdict until the test opens the gate: a validation in flight, held
// there, as a slow introspection or enricher would hold it.
type gated struct {
	tokenvalidator.Validator
	once    sync.Once
	entered chan struct{} // closed when the first validation is held
	gate    chan struct{} // closed by the test to let it go on
}

func newGated(v tokenvalidator.Validator) *gated {
	return &gated{Validator: v, entered: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gated) Validate(ctx context.Context, token string) (tokenvalidator.Result, error) {
	res, err := g.Validator.Validate(ctx, token)
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.gate
	}
	return res, err
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestInvalidateWinsOverValidationInFlight: a token invalidated while its
// validation is in flight stays refused — on the instance that invalidated
// it and on every other — whenever the validation lands: nothing the
// validation computed is written after the revocation, in memory or in
// memcached. Run it with -race -count=200.
func TestInvalidateWinsOverValidationInFlight(t *testing.T) {
	for _, where := range []string{"same instance", "another instance"} {
		t.Run(where, func(t *testing.T) {
			e := newEnv(t)
			g := newGated(e.jwks())
			flying := e.instance(g, true, authn.Config{})
			revoker := flying
			if where == "another instance" {
				revoker = e.instance(e.jwks(), true, authn.Config{})
			}
			tok := e.token()
			result := make(chan error, 1)
			go func() {
				_, err := flying.a.Authenticate(context.Background(), tok)
				result <- err
			}()
			waitClosed(t, g.entered, "the validation to be held")
			if err := revoker.a.Invalidate(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
			close(g.gate)
			err := <-result
			if where == "same instance" && !errors.Is(err, claims.ErrInvalidToken) {
				t.Errorf("the request whose validation the logout overtook: %v, want invalid", err)
			}
			mustRefuse(t, revoker.a, tok, "the revoking instance")
			fresh := e.instance(e.jwks(), true, authn.Config{})
			mustRefuse(t, fresh.a, tok, "an instance that never saw the token (memcached)")
			if where == "same instance" {
				mustRefuse(t, flying.a, tok, "the instance whose validation was in flight")
			}
		})
	}
}

// TestInvalidateWinsOverEnricherInFlight: the same with the window held open
// by the enricher instead of the validator.
func TestInvalidateWinsOverEnricherInFlight(t *testing.T) {
	e := newEnv(t)
	entered, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	enrich := authn.EnricherFunc(func(context.Context, *claims.Principal) (map[string][]string, error) {
		once.Do(func() { close(entered); <-gate })
		return map[string][]string{"datasets": {"d"}}, nil
	})
	in := e.instance(e.jwks(), true, authn.Config{}, authn.WithEnricher("datasets-v1", enrich))
	tok := e.token()
	result := make(chan error, 1)
	go func() {
		_, err := in.a.Authenticate(context.Background(), tok)
		result <- err
	}()
	waitClosed(t, entered, "the enricher to be held")
	if err := in.a.Invalidate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if err := <-result; !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("the request in flight: %v, want invalid", err)
	}
	mustRefuse(t, in.a, tok, "the instance")
	other := e.instance(e.jwks(), true, authn.Config{}, authn.WithEnricher("datasets-v1", enrich))
	mustRefuse(t, other.a, tok, "another instance of the service")
}

// TestRevocationOutlivesLeeway: a token invalidated 2 s before its exp stays
// refused on every instance until exp + leeway has passed — also past exp,
// where the validator would still accept it.
func TestRevocationOutlivesLeeway(t *testing.T) {
	e := newEnv(t)
	e.idp.SetNow(time.Now())
	cached := e.instance(e.jwks(), true, authn.Config{})
	revoker := e.instance(e.jwks(), true, authn.Config{})
	exp := e.idp.Now().Add(2 * time.Second)
	tok := e.token(func(c map[string]any) { c["exp"] = exp.Unix() })
	mustAuth(t, cached.a, tok)
	if err := revoker.a.Invalidate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, 3 * time.Second, 15 * time.Second, 29 * time.Second} {
		e.idp.SetNow(exp.Add(at))
		for name, in := range map[string]*instance{
			"the revoking instance":      revoker,
			"an instance that cached it": cached,
			"a new instance":             e.instance(e.jwks(), true, authn.Config{}),
		} {
			mustRefuse(t, in.a, tok, name+" at exp+"+at.String())
		}
	}
	// And a token within its leeway when it is invalidated (refresh marks
	// old tokens it replaces that are already past exp).
	late := e.token(func(c map[string]any) { c["exp"] = e.idp.Now().Add(-time.Second).Unix() })
	other := e.instance(e.jwks(), true, authn.Config{})
	mustAuth(t, other.a, late) // within the 30 s leeway
	if err := revoker.a.Invalidate(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	e.idp.Advance(10 * time.Second)
	mustRefuse(t, e.instance(e.jwks(), true, authn.Config{}).a, late, "an instance asked after a token in its leeway was invalidated")
}

// TestLeaderLeavesOnItsOwnContext: the request that starts a validation
// leaves at its own deadline like any other; the validation goes on for
// those still waiting, and is not repeated.
func TestLeaderLeavesOnItsOwnContext(t *testing.T) {
	e := newEnv(t)
	in := e.instance(e.introspection(), false, authn.Config{})
	tok := e.opaque()
	e.idp.ResetCalls()
	e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultHang)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := in.a.Authenticate(ctx, tok); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the leader: %v, want its own deadline", err)
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := in.a.Authenticate(context.Background(), tok)
		waiter <- err
	}()
	// The waiter has joined the flight still in flight when the provider
	// answers (it cannot have started another: there is one introspection).
	deadline := time.Now().Add(5 * time.Second)
	for metricValue(in.reg, "authgate_authn_shared_validation_waits_total", nil) < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultNone)
	if err := <-waiter; err != nil {
		t.Fatalf("the waiter: %v", err)
	}
	if c := e.idp.Calls(idptest.EndpointIntrospect); c != 1 {
		t.Errorf("%d introspection calls, want 1", c)
	}
}
