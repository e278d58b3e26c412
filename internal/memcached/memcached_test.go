package memcached

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcachedtest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClient(t *testing.T, addr string, clk *clock, changes *[]bool) *Client {
	t.Helper()
	mc, err := NewClient([]string{addr}, 200*time.Millisecond, 8)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	return New(mc, Config{BreakerThreshold: 3, BreakerCooldown: time.Second, Now: clk.now, OnBreakerChange: func(open bool) {
		mu.Lock()
		*changes = append(*changes, open)
		mu.Unlock()
	}})
}

func TestOperations(t *testing.T) {
	s := memcachedtest.Start(t)
	var changes []bool
	c := newClient(t, s.Addr(), &clock{t: time.Now()}, &changes)
	ctx := context.Background()
	if err := c.Set(ctx, &memcache.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	it, err := c.Get(ctx, "k")
	if err != nil || string(it.Value) != "v" {
		t.Fatalf("Get = %v, %v", it, err)
	}
	if err := c.Add(ctx, &memcache.Item{Key: "k", Value: []byte("w")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Errorf("Add on a present key: %v, want ErrNotStored", err)
	}
	it.Value = []byte("x")
	if err := c.CompareAndSwap(ctx, it); err != nil {
		t.Errorf("CompareAndSwap: %v", err)
	}
	if err := c.CompareAndSwap(ctx, it); !errors.Is(err, memcache.ErrCASConflict) {
		t.Errorf("second CompareAndSwap: %v, want ErrCASConflict", err)
	}
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Errorf("Get after Delete: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Get(canceled, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a done context: %v", err)
	}
	if len(changes) != 0 || c.BreakerOpen() {
		t.Error("misses and lost races opened the breaker")
	}
}

// TestBreaker: memcached stopped → failures open the breaker after the
// threshold; calls then fail fast; after the cooldown one probe goes
// through, and once memcached is back its success closes the breaker.
func TestBreaker(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	var changes []bool
	c := newClient(t, s.Addr(), clk, &changes)
	ctx := context.Background()

	s.Stop()
	for i := range 3 {
		if _, err := c.Get(ctx, "k"); err == nil || errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("call %d with memcached down: %v", i, err)
		}
	}
	if !c.BreakerOpen() || len(changes) != 1 || !changes[0] {
		t.Fatalf("breaker open = %v, changes = %v", c.BreakerOpen(), changes)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("open breaker: %v, want ErrBreakerOpen", err)
	}

	clk.advance(2 * time.Second)
	if _, err := c.Get(ctx, "k"); err == nil || errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("the probe should reach the stopped memcached: %v", err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("after a failed probe: %v, want ErrBreakerOpen", err)
	}

	s.Restart()
	clk.advance(2 * time.Second)
	if _, err := c.Get(ctx, "k"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("probe after restart: %v, want a miss", err)
	}
	if c.BreakerOpen() || len(changes) != 2 || changes[1] {
		t.Fatalf("breaker open = %v, changes = %v", c.BreakerOpen(), changes)
	}
}

// TestPausedServer: a memcached that accepts but never answers costs a
// call no more than the client's timeout.
func TestPausedServer(t *testing.T) {
	s := memcachedtest.Start(t)
	var changes []bool
	c := newClient(t, s.Addr(), &clock{t: time.Now()}, &changes)
	s.Pause()
	defer s.Resume()
	start := time.Now()
	if _, err := c.Get(context.Background(), "k"); err == nil {
		t.Fatal("a paused memcached answered")
	}
	if d := time.Since(start); d > 5*time.Second { // "bounded by the timeout", not "hung"
		t.Errorf("the call hung for %v with a 200ms timeout", d)
	}
}

func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		ttl  time.Duration
		want int32
		ok   bool
	}{
		{0, 0, false},
		{-time.Second, 0, false},
		{time.Nanosecond, 1, true},
		{time.Second, 1, true},
		{1500 * time.Millisecond, 2, true},
		{30 * 24 * time.Hour, 2_592_000, true},
		{30*24*time.Hour + time.Second, 1_800_000_000 + 2_592_001, true},
		{100 * 365 * 24 * time.Hour, 1<<31 - 1, true},
	} {
		got, ok := Expiration(tc.ttl, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Expiration(%v) = %d, %v; want %d, %v", tc.ttl, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewClientRejectsBadServers(t *testing.T) {
	for _, servers := range [][]string{nil, {"no-port"}, {"host.invalid.:11211"}} {
		if _, err := NewClient(servers, time.Second, 2); err == nil {
			t.Errorf("NewClient(%q) accepted", servers)
		}
	}
}
