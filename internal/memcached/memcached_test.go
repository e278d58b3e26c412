package memcached_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// clock is a settable clock for the breaker's cooldown.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// changes records the breaker's transitions.
type changes struct {
	mu  sync.Mutex // guards log
	log []bool
}

func (c *changes) record(open bool) { c.mu.Lock(); c.log = append(c.log, open); c.mu.Unlock() }
func (c *changes) get() []bool      { c.mu.Lock(); defer c.mu.Unlock(); return slices.Clone(c.log) }

const (
	timeout   = 200 * time.Millisecond
	threshold = 3
	cooldown  = time.Second
)

// newClient returns a Client on addr with a 200 ms timeout, a breaker that
// opens after 3 failures for 1 s of clk's time, and its transitions.
func newClient(t *testing.T, addr string, clk *clock) (*memcached.Client, *changes) {
	t.Helper()
	mc, err := memcached.NewClient([]string{addr}, timeout, 8)
	if err != nil {
		t.Fatal(err)
	}
	ch := &changes{}
	return memcached.New(mc, memcached.Config{
		BreakerThreshold: threshold,
		BreakerCooldown:  cooldown,
		Now:              clk.now,
		OnBreakerChange:  ch.record,
	}), ch
}

// TestOperations runs each operation against a real memcached, answers
// that are not failures included; none of them may open the breaker.
func TestOperations(t *testing.T) {
	s := memcachedtest.Start(t)
	c, ch := newClient(t, s.Addr(), &clock{t: time.Now()})
	ctx := context.Background()
	item := func(v string) *memcache.Item { return &memcache.Item{Key: "k", Value: []byte(v)} }
	// read returns k as Get returns it, for compare-and-swap.
	read := func() *memcache.Item {
		it, err := c.Get(ctx, "k")
		if err != nil {
			t.Fatalf("reading k: %v", err)
		}
		return it
	}
	for _, step := range []struct {
		name string
		call func() error
		want error // nil, or what errors.Is must find
		// k: k's value afterwards; "" for absent.
		k string
	}{
		{"set", func() error { return c.Set(ctx, item("v")) }, nil, "v"},
		{"add present", func() error { return c.Add(ctx, item("w")) }, memcache.ErrNotStored, "v"},
		{"cas unchanged", func() error { it := read(); it.Value = []byte("x"); return c.CompareAndSwap(ctx, it) }, nil, "x"},
		{"cas changed", func() error {
			it := read()
			if err := c.Set(ctx, item("y")); err != nil {
				return err
			}
			it.Value = []byte("z")
			return c.CompareAndSwap(ctx, it)
		}, memcache.ErrCASConflict, "y"},
		{"cas gone", func() error {
			it := read()
			if err := c.Delete(ctx, "k"); err != nil {
				return err
			}
			return c.CompareAndSwap(ctx, it)
		}, memcache.ErrCacheMiss, ""},
		{"delete absent", func() error { return c.Delete(ctx, "k") }, memcache.ErrCacheMiss, ""},
		{"add absent", func() error { return c.Add(ctx, item("a")) }, nil, "a"},
		{"delete", func() error { return c.Delete(ctx, "k") }, nil, ""},
		{"malformed key", func() error { _, err := c.Get(ctx, "a key"); return err }, memcache.ErrMalformedKey, ""},
		{"too long key", func() error { _, err := c.Get(ctx, strings.Repeat("k", 251)); return err }, memcache.ErrMalformedKey, ""},
	} {
		err := step.call()
		if !errors.Is(err, step.want) {
			t.Fatalf("%s: %v, want %v", step.name, err, step.want)
		}
		it, err := c.Get(ctx, "k")
		switch {
		case step.k == "" && !errors.Is(err, memcache.ErrCacheMiss):
			t.Fatalf("after %s: get k = %v, want a miss", step.name, err)
		case step.k != "" && (err != nil || string(it.Value) != step.k):
			t.Fatalf("after %s: get k = %v, want %q", step.name, err, step.k)
		}
	}
	if c.BreakerOpen() || len(ch.get()) != 0 {
		t.Errorf("answers opened the breaker: transitions %v", ch.get())
	}
}

// TestAnswersAreNotFailures: with a threshold of 1, misses, lost races and
// bad keys still leave the breaker closed.
func TestAnswersAreNotFailures(t *testing.T) {
	s := memcachedtest.Start(t)
	mc, err := memcached.NewClient([]string{s.Addr()}, timeout, 2)
	if err != nil {
		t.Fatal(err)
	}
	c := memcached.New(mc, memcached.Config{BreakerThreshold: 1})
	ctx := context.Background()
	if err := c.Set(ctx, &memcache.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"miss":          func() error { _, err := c.Get(ctx, "absent"); return err },
		"not stored":    func() error { return c.Add(ctx, &memcache.Item{Key: "k", Value: []byte("v")}) },
		"delete absent": func() error { return c.Delete(ctx, "absent") },
		"malformed key": func() error { _, err := c.Get(ctx, "bad\nkey"); return err },
	} {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
		if c.BreakerOpen() {
			t.Fatalf("%s opened the breaker", name)
		}
	}
}

// TestBreaker: with memcached stopped, failures open the breaker at the
// threshold; calls then fail fast; after the cooldown one probe reaches
// memcached and its failure opens the breaker again; once memcached is back
// the next probe closes it.
func TestBreaker(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	c, ch := newClient(t, s.Addr(), clk)
	ctx := context.Background()

	s.Stop()
	for i := range threshold {
		if c.BreakerOpen() {
			t.Fatalf("breaker open after %d failures", i)
		}
		if _, err := c.Get(ctx, "k"); err == nil || errors.Is(err, memcached.ErrBreakerOpen) {
			t.Fatalf("call %d with memcached down: %v, want a network error", i, err)
		}
	}
	if !c.BreakerOpen() || !slices.Equal(ch.get(), []bool{true}) {
		t.Fatalf("after %d failures: open = %v, transitions %v", threshold, c.BreakerOpen(), ch.get())
	}
	for name, call := range map[string]func() error{
		"get":    func() error { _, err := c.Get(ctx, "k"); return err },
		"set":    func() error { return c.Set(ctx, &memcache.Item{Key: "k"}) },
		"add":    func() error { return c.Add(ctx, &memcache.Item{Key: "k"}) },
		"cas":    func() error { return c.CompareAndSwap(ctx, &memcache.Item{Key: "k"}) },
		"delete": func() error { return c.Delete(ctx, "k") },
	} {
		if err := call(); !errors.Is(err, memcached.ErrBreakerOpen) || err.Error() != "memcached: "+name+": "+memcached.ErrBreakerOpen.Error() {
			t.Errorf("%s with the breaker open: %v", name, err)
		}
	}

	clk.advance(cooldown - time.Nanosecond)
	if _, err := c.Get(ctx, "k"); !errors.Is(err, memcached.ErrBreakerOpen) {
		t.Fatalf("before the cooldown ends: %v, want ErrBreakerOpen", err)
	}
	clk.advance(time.Nanosecond)
	if _, err := c.Get(ctx, "k"); err == nil || errors.Is(err, memcached.ErrBreakerOpen) {
		t.Fatalf("the probe should reach the stopped memcached: %v", err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, memcached.ErrBreakerOpen) {
		t.Fatalf("after a failed probe: %v, want ErrBreakerOpen", err)
	}

	s.Restart()
	clk.advance(cooldown)
	if _, err := c.Get(ctx, "k"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("probe after restart: %v, want a miss", err)
	}
	if c.BreakerOpen() || !slices.Equal(ch.get(), []bool{true, false}) {
		t.Fatalf("after a good probe: open = %v, transitions %v", c.BreakerOpen(), ch.get())
	}
	if err := c.Set(ctx, &memcache.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatalf("set after recovery: %v", err)
	}
}

// TestFailuresMustBeConsecutive: a success between failures starts the
// count again.
func TestFailuresMustBeConsecutive(t *testing.T) {
	s := memcachedtest.Start(t)
	c, ch := newClient(t, s.Addr(), &clock{t: time.Now()})
	ctx := context.Background()
	for range 2 {
		s.Stop()
		for range threshold - 1 {
			if _, err := c.Get(ctx, "k"); err == nil {
				t.Fatal("memcached down, no error")
			}
		}
		s.Restart()
		if _, err := c.Get(ctx, "k"); !errors.Is(err, memcache.ErrCacheMiss) {
			t.Fatalf("after restart: %v", err)
		}
	}
	if c.BreakerOpen() || len(ch.get()) != 0 {
		t.Fatalf("%d failures at a time opened the breaker: %v", threshold-1, ch.get())
	}
}

// TestDoneContext: a call on a context that has ended is not made, and
// neither counts as a failure nor uses up the probe.
func TestDoneContext(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	c, _ := newClient(t, s.Addr(), clk)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for range threshold + 1 {
		if _, err := c.Get(done, "k"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get on a canceled context: %v", err)
		}
	}
	if c.BreakerOpen() {
		t.Fatal("canceled calls opened the breaker")
	}

	s.Stop()
	for range threshold {
		_, _ = c.Get(context.Background(), "k")
	}
	s.Restart()
	clk.advance(cooldown)
	if _, err := c.Get(done, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get on a canceled context, breaker half-open: %v", err)
	}
	if _, err := c.Get(context.Background(), "k"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("the probe after a canceled call: %v, want a miss", err)
	}
	if c.BreakerOpen() {
		t.Fatal("the probe did not close the breaker")
	}
}

// TestPausedServer: a memcached that accepts connections but never answers
// costs a call about the client's timeout, and counts as a failure.
func TestPausedServer(t *testing.T) {
	s := memcachedtest.Start(t)
	c, ch := newClient(t, s.Addr(), &clock{t: time.Now()})
	s.Pause()
	defer s.Resume()
	for i := range threshold {
		start := time.Now()
		if _, err := c.Get(context.Background(), "k"); err == nil {
			t.Fatal("a paused memcached answered")
		}
		// A bound far above the 200 ms timeout: it tells "bounded by the
		// timeout" from "hung", without being a timing assertion.
		if d := time.Since(start); d > 10*timeout {
			t.Errorf("call %d took %v with a %v timeout", i, d, timeout)
		}
	}
	if !slices.Equal(ch.get(), []bool{true}) {
		t.Fatalf("timeouts did not open the breaker: %v", ch.get())
	}
}

func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const month = 30 * 24 * time.Hour
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want int32
		ok   bool
	}{
		{"zero", 0, 0, false},
		{"negative", -time.Second, 0, false},
		{"most negative", math.MinInt64, 0, false},
		{"1ns rounds up", time.Nanosecond, 1, true},
		{"1s", time.Second, 1, true},
		{"1.5s rounds up", 1500 * time.Millisecond, 2, true},
		{"30 days is relative", month, 2_592_000, true},
		{"30 days + 1ns rounds up past it", month + time.Nanosecond, 1_800_000_000 + 2_592_001, true},
		{"30 days + 1s is absolute", month + time.Second, 1_800_000_000 + 2_592_001, true},
		{"beyond 2038 is cut", 100 * 365 * 24 * time.Hour, math.MaxInt32, true},
		{"largest duration", math.MaxInt64, math.MaxInt32, true},
	} {
		got, ok := memcached.Expiration(tc.ttl, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Expiration(%v) = %d, %v; want %d, %v", tc.name, tc.ttl, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		servers []string
		ok      bool
	}{
		{"none", nil, false},
		{"no port", []string{"no-port"}, false},
		{"unresolvable", []string{"host.invalid.:11211"}, false},
		{"one bad of two", []string{"127.0.0.1:11211", "host.invalid.:11211"}, false},
		{"loopback", []string{"127.0.0.1:11211"}, true},
		{"two", []string{"127.0.0.1:11211", "127.0.0.1:11212"}, true},
	} {
		c, err := memcached.NewClient(tc.servers, 150*time.Millisecond, 64)
		if (err == nil) != tc.ok {
			t.Errorf("%s: NewClient(%q) error %v", tc.name, tc.servers, err)
			continue
		}
		if err == nil && (c.Timeout != 150*time.Millisecond || c.MaxIdleConns != 64) {
			t.Errorf("%s: Timeout %v, MaxIdleConns %d", tc.name, c.Timeout, c.MaxIdleConns)
		}
	}
}
