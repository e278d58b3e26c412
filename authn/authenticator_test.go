package authn_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/tokenvalidator"
)

const api = "https://api.venue.example"

// counting passes validations through to a real validator and counts them.
type counting struct {
	tokenvalidator.Validator
	n atomic.Int64
}

func (c *counting) Validate(ctx context.Context, token string) (tokenvalidator.Result, error) {
	c.n.Add(1)
	return c.Validator.Validate(ctx, token)
}

// env is one identity provider, a memcached, and the means to build
// Authenticators that behave like instances of one service.
type env struct {
	t     testing.TB
	idp   *idptest.Server
	mc    *memcachedtest.Server
	nodes *memcachedtest.Cluster // when set, the shared tier is on these instead of mc
}

func newEnv(t *testing.T) *env {
	return &env{t: t, idp: idptest.Start(t, idptest.Demo()), mc: memcachedtest.Start(t)}
}

// instance is one service instance: its own validator, memory and metrics,
// the shared memcached.
type instance struct {
	a   *authn.Authenticator
	v   *counting
	reg *prometheus.Registry
}

func (e *env) jwks() tokenvalidator.Validator {
	v, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{Issuer: e.idp.Issuer(), Audiences: []string{api}},
		tokenvalidator.WithClock(e.idp.Now))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { v.Close() })
	return v
}

func (e *env) introspection() tokenvalidator.Validator {
	v, err := tokenvalidator.NewIntrospection(tokenvalidator.IntrospectionConfig{
		URL: e.idp.IntrospectionURL(), ClientID: "venue-app", ClientSecret: "venue-app-secret", Timeout: time.Second,
	}, tokenvalidator.WithClock(e.idp.Now))
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) instance(v tokenvalidator.Validator, shared bool, cfg authn.Config, opts ...authn.Option) *instance {
	e.t.Helper()
	in := &instance{v: &counting{Validator: v}, reg: prometheus.NewRegistry()}
	opts = append(opts, authn.WithClock(e.idp.Now), authn.WithRegisterer(in.reg))
	if shared {
		opts = append(opts, authn.WithMemcache(e.memcache(in.reg)))
	}
	a, err := authn.NewAuthenticator(in.v, cfg, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	in.a = a
	return in
}

func (e *env) memcache(reg prometheus.Registerer) *cache.Memcache {
	// Timeouts of a second, not the defaults' 50 and 100 ms: these tests
	// assert that writes land, on a machine that may be busy.
	addrs := []string{e.mc.Addr()}
	if e.nodes != nil {
		addrs = e.nodes.Addrs()
	}
	cluster, err := cache.NewCluster(addrs, cache.ClusterConfig{
		ReadTimeout: time.Second, WriteTimeout: time.Second, BreakerThreshold: 2, BreakerCooldown: 100 * time.Millisecond,
	}, cache.WithRegisterer(reg))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cluster.Close() })
	m, err := cache.NewMemcache(cluster, cache.MemcacheConfig{
		Namespace: "test/venue",
		HashKey:   []byte("0123456789abcdef0123456789abcdef"),
		MACKeys:   []cache.MACKey{{ID: 1, Secret: []byte("fedcba9876543210fedcba9876543210")}},
	}, cache.WithClock(e.idp.Now), cache.WithRegisterer(reg))
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// token mints a JWT for alice through venue-app in org_acme.
func (e *env) token(mutate ...func(map[string]any)) string {
	e.t.Helper()
	return e.tokenOf("alice", "venue-app", "org_acme", mutate...)
}

func (e *env) opaque() string {
	e.t.Helper()
	c, err := e.idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api,
		Scopes: []string{"read:venues"}, Organization: "org_acme"})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.idp.OpaqueToken(c)
}

func lookups(reg *prometheus.Registry, tier, result string) float64 {
	return metricValue(reg, "authgate_authn_cache_lookups_total", map[string]string{"tier": tier, "result": result})
}

func metricValue(reg *prometheus.Registry, name string, labels map[string]string) float64 {
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func mustAuth(t *testing.T, a *authn.Authenticator, tok string) *claims.Principal {
	t.Helper()
	p, err := a.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// TestTwoInstancesShareMemcached: a token validated by one instance is an L2
// hit for the other, with no new provider call.
func TestTwoInstancesShareMemcached(t *testing.T) {
	e := newEnv(t)
	for name, newValidator := range map[string]func() tokenvalidator.Validator{"jwt": e.jwks, "opaque": e.introspection} {
		t.Run(name, func(t *testing.T) {
			first := e.instance(newValidator(), true, authn.Config{})
			second := e.instance(newValidator(), true, authn.Config{})
			tok := e.token()
			if name == "opaque" {
				tok = e.opaque()
			}
			p1 := mustAuth(t, first.a, tok)
			e.idp.ResetCalls()
			p2 := mustAuth(t, second.a, tok)
			if p2.Subject != p1.Subject || !p2.HasScope("read:venues") || p2.OrgID != "org_acme" {
				t.Errorf("second instance got %+v", p2)
			}
			if n := second.v.n.Load(); n != 0 {
				t.Errorf("second instance validated %d times, want 0 (an L2 hit)", n)
			}
			for _, ep := range []idptest.Endpoint{idptest.EndpointJWKS, idptest.EndpointIntrospect, idptest.EndpointUserinfo} {
				if c := e.idp.Calls(ep); c != 0 {
					t.Errorf("%d calls to %s, want 0", c, ep)
				}
			}
			if lookups(second.reg, "memcache", "hit") != 1 {
				t.Errorf("memcache hits = %v, want 1", lookups(second.reg, "memcache", "hit"))
			}
			mustAuth(t, second.a, tok)
			if lookups(second.reg, "memory", "hit") != 1 {
				t.Error("the L2 hit did not fill the in-process tier")
			}
		})
	}
}

// TestMemcachedDown: with memcached stopped every valid token still passes
// (by validation), the node is taken out; after a restart the tier is used
// again.
func TestMemcachedDown(t *testing.T) {
	e := newEnv(t)
	in := e.instance(e.jwks(), true, authn.Config{MemoryTTL: time.Nanosecond})
	tok := e.token()
	mustAuth(t, in.a, tok)
	up := func() float64 {
		return metricValue(in.reg, "authgate_cache_memcache_node_up", map[string]string{"node": e.mc.Addr()})
	}

	e.mc.Stop()
	for range 10 {
		mustAuth(t, in.a, e.token())
	}
	if up() != 0 {
		t.Error("node not out with memcached down")
	}

	e.mc.Restart()
	deadline := time.Now().Add(10 * time.Second) // the background probe runs every 100 ms here
	for up() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fresh := e.token()
	for range 3 {
		mustAuth(t, in.a, fresh)
	}
	if up() != 1 {
		t.Error("node still out after memcached came back")
	}
	hits := lookups(in.reg, "memcache", "hit")
	e.idp.Advance(time.Millisecond) // past the in-process entry's MemoryTTL
	mustAuth(t, in.a, fresh)
	if lookups(in.reg, "memcache", "hit") != hits+1 {
		t.Error("the memcached tier is not used after the restart")
	}
}

// TestForgedEntries: whatever sits in memcached under a token's key without
// our MAC is a miss, and the token is validated instead.
func TestForgedEntries(t *testing.T) {
	e := newEnv(t)
	shared := e.memcache(nil)
	in := e.instance(e.jwks(), true, authn.Config{MemoryTTL: time.Nanosecond})
	raw := memcache.New(e.mc.Addr())
	good := e.token()
	forged := e.token(func(c map[string]any) { c["sub"] = "auth0|mallory" })

	mustAuth(t, in.a, good)
	item, err := raw.Get(shared.KeyName(authn.SharedDigest(in.a, good)))
	if err != nil {
		t.Fatalf("reading the real entry: %v", err)
	}
	real := item.Value
	key := shared.KeyName(authn.SharedDigest(in.a, forged))
	for name, value := range map[string][]byte{
		"another token's entry": real,
		"truncated":             real[:len(real)-1],
		"bit flipped":           flip(real, len(real)/2),
		"garbage":               []byte("garbage"),
	} {
		if err := raw.Set(&memcache.Item{Key: key, Value: value}); err != nil {
			t.Fatal(err)
		}
		before := in.v.n.Load()
		p := mustAuth(t, in.a, forged)
		if p.Subject != "auth0|mallory" {
			t.Errorf("%s: served %q from memcached", name, p.Subject)
		}
		if in.v.n.Load() != before+1 {
			t.Errorf("%s: not validated", name)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

// TestOneValidationForManyWaiters: 1,000 goroutines presenting one new token
// cause exactly one validation.
func TestOneValidationForManyWaiters(t *testing.T) {
	e := newEnv(t)
	in := e.instance(e.introspection(), true, authn.Config{})
	tok := e.opaque()
	e.idp.ResetCalls()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 1000)
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := in.a.Authenticate(context.Background(), tok)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := in.v.n.Load(); n != 1 {
		t.Errorf("%d validations, want 1", n)
	}
	if c := e.idp.Calls(idptest.EndpointIntrospect); c != 1 {
		t.Errorf("%d introspection calls, want 1", c)
	}
}

// TestExpiredNeverServed: past its exp, a token is never served from a
// tier, even though both still hold it: within the validator's leeway it is
// validated afresh, beyond it refused.
func TestExpiredNeverServed(t *testing.T) {
	e := newEnv(t)
	in := e.instance(e.jwks(), true, authn.Config{MemoryTTL: time.Hour})
	other := e.instance(e.jwks(), true, authn.Config{})
	exp := e.idp.Now().Add(2 * time.Minute)
	tok := e.token(func(c map[string]any) { c["exp"] = exp.Unix() })
	mustAuth(t, in.a, tok)

	e.idp.SetNow(exp.Add(time.Second)) // expired, within the 30s leeway
	for name, i := range map[string]*instance{"memory": in, "memcached": other} {
		before := i.v.n.Load()
		mustAuth(t, i.a, tok)
		if i.v.n.Load() != before+1 {
			t.Errorf("%s tier served an expired token", name)
		}
	}
	e.idp.SetNow(exp.Add(time.Minute)) // beyond the leeway
	for name, i := range map[string]*instance{"memory": in, "memcached": other} {
		if _, err := i.a.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
			t.Errorf("%s tier: %v, want invalid", name, err)
		}
	}
}

// TestInvalidate: logout on one instance is seen by the others once their
// in-process entry expires (MemoryTTL), and at once by the instance itself.
func TestInvalidate(t *testing.T) {
	e := newEnv(t)
	cfg := authn.Config{MemoryTTL: 10 * time.Second}
	a, b, c := e.instance(e.jwks(), true, cfg), e.instance(e.jwks(), true, cfg), e.instance(e.jwks(), true, cfg)
	tok := e.token()
	mustAuth(t, a.a, tok)
	mustAuth(t, b.a, tok)
	if err := a.a.Invalidate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if _, err := a.a.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("the invalidating instance: %v", err)
	}
	if _, err := c.a.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("an instance that never saw the token: %v", err)
	}
	mustAuth(t, b.a, tok) // still in b's memory: the documented bound
	e.idp.Advance(11 * time.Second)
	if _, err := b.a.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("after MemoryTTL: %v, want invalid", err)
	}
}

func TestNegativeCacheAndUnavailable(t *testing.T) {
	e := newEnv(t)
	in := e.instance(e.introspection(), false, authn.Config{})
	ctx := context.Background()
	for range 3 {
		if _, err := in.a.Authenticate(ctx, "no-such-token"); !errors.Is(err, claims.ErrInvalidToken) {
			t.Fatalf("unknown token: %v", err)
		}
	}
	if n := in.v.n.Load(); n != 1 {
		t.Errorf("an invalid token validated %d times within NegativeTTL, want 1", n)
	}

	tok := e.opaque()
	e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultUnavailable)
	if _, err := in.a.Authenticate(ctx, tok); !errors.Is(err, claims.ErrUnavailable) {
		t.Fatalf("provider down: %v, want unavailable", err)
	}
	e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultNone)
	if _, err := in.a.Authenticate(ctx, tok); err != nil {
		t.Fatalf("after the provider came back: %v (an unavailable answer was cached)", err)
	}
	if metricValue(in.reg, "authgate_authn_requests_total", map[string]string{"outcome": "unavailable"}) != 1 {
		t.Error("unavailable outcome not counted")
	}
}

// TestWaitersGiveUpOnTheirOwnContext: a caller whose context ends stops
// waiting; the validation goes on for the others.
func TestWaitersGiveUpOnTheirOwnContext(t *testing.T) {
	e := newEnv(t)
	in := e.instance(e.introspection(), false, authn.Config{})
	tok := e.opaque()
	e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultHang)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := in.a.Authenticate(ctx, tok)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second { // "left at its deadline", not "hung"
		t.Errorf("the caller waited %v", d)
	}
	e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultNone)
}

func TestEnricher(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int64
	fail := atomic.Bool{}
	enrich := authn.EnricherFunc(func(_ context.Context, p *claims.Principal) (map[string][]string, error) {
		calls.Add(1)
		if fail.Load() {
			return nil, errors.New("database down")
		}
		return map[string][]string{"datasets": {"d-" + p.OrgID}}, nil
	})
	first := e.instance(e.jwks(), true, authn.Config{}, authn.WithEnricher("datasets-v1", enrich))
	second := e.instance(e.jwks(), true, authn.Config{}, authn.WithEnricher("datasets-v1", enrich))
	tok := e.token()
	if p := mustAuth(t, first.a, tok); p.Enrichment["datasets"][0] != "d-org_acme" {
		t.Fatalf("enrichment = %v", p.Enrichment)
	}
	if p := mustAuth(t, second.a, tok); p.Enrichment["datasets"][0] != "d-org_acme" {
		t.Fatalf("enrichment from memcached = %v", p.Enrichment)
	}
	if calls.Load() != 1 {
		t.Errorf("enricher ran %d times, want 1", calls.Load())
	}
	fail.Store(true)
	other := e.token(func(c map[string]any) { c["jti"] = "another" })
	if _, err := first.a.Authenticate(context.Background(), other); !errors.Is(err, claims.ErrUnavailable) {
		t.Fatalf("enricher failing: %v, want unavailable", err)
	}
	fail.Store(false)
	mustAuth(t, first.a, other)
}

func TestNewAuthenticatorRejectsBadConfig(t *testing.T) {
	if _, err := authn.NewAuthenticator(nil, authn.Config{}); err == nil {
		t.Error("nil validator accepted")
	}
	e := newEnv(t)
	if _, err := authn.NewAuthenticator(e.jwks(), authn.Config{MaxTTL: -1}); err == nil {
		t.Error("negative MaxTTL accepted")
	}
}

// TestLocalJWTs: with LocalJWTs, each instance verifies JWTs itself and
// memcached only serves opaque tokens.
func TestLocalJWTs(t *testing.T) {
	e := newEnv(t)
	cfg := authn.Config{LocalJWTs: true}
	first, second := e.instance(e.jwks(), true, cfg), e.instance(e.jwks(), true, cfg)
	tok := e.token()
	mustAuth(t, first.a, tok)
	mustAuth(t, second.a, tok)
	if second.v.n.Load() != 1 || lookups(second.reg, "memcache", "hit")+lookups(second.reg, "memcache", "miss") != 0 {
		t.Errorf("a JWT went to memcached: %d validations, %v lookups", second.v.n.Load(), lookups(second.reg, "memcache", "miss"))
	}
	opaqueFirst, opaqueSecond := e.instance(e.introspection(), true, cfg), e.instance(e.introspection(), true, cfg)
	op := e.opaque()
	mustAuth(t, opaqueFirst.a, op)
	mustAuth(t, opaqueSecond.a, op)
	if opaqueSecond.v.n.Load() != 0 {
		t.Error("an opaque token was not shared through memcached")
	}
}
