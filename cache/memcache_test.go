package cache_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/internal/memcachedtest"
)

var (
	hashKey = []byte("0123456789abcdef0123456789abcdef")
	key1    = cache.MACKey{ID: 1, Secret: []byte("key-one-key-one-key-one-key-one-")}
	key2    = cache.MACKey{ID: 2, Secret: []byte("key-two-key-two-key-two-key-two-")}
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type tier struct {
	*cache.Memcache
	reg *prometheus.Registry
	clk *clock
}

func newTier(t testing.TB, addr string, cfg cache.MemcacheConfig, clk *clock) tier {
	t.Helper()
	client, err := cache.NewMemcacheClient([]string{addr})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "test/venue"
	}
	if cfg.HashKey == nil {
		cfg.HashKey = hashKey
	}
	if cfg.MACKeys == nil {
		cfg.MACKeys = []cache.MACKey{key1}
	}
	reg := prometheus.NewRegistry()
	m, err := cache.NewMemcache(client, cfg, cache.WithRegisterer(reg), cache.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	return tier{m, reg, clk}
}

func (tr tier) rejected(reason string) float64 {
	return metric(tr.reg, "authgate_cache_rejected_entries_total", reason)
}

// metric reads a counter or gauge from reg: the series whose only label has
// value label, or the unlabelled one when label is "".
func metric(reg *prometheus.Registry, name, label string) float64 {
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label != "" && m.GetLabel()[0].GetValue() != label {
				continue
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

var payload = bytes.Repeat([]byte("principal "), 60)

func TestRoundTripAndSharing(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	a, b := newTier(t, s.Addr(), cache.MemcacheConfig{}, clk), newTier(t, s.Addr(), cache.MemcacheConfig{}, clk)
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	exp := clk.now().Add(time.Hour).Truncate(time.Second)
	if err := a.Set(ctx, d, cache.Entry{Value: payload, Expires: exp}); err != nil {
		t.Fatal(err)
	}
	e, err := b.Get(ctx, d)
	if err != nil || !bytes.Equal(e.Value, payload) || !e.Expires.Equal(exp) {
		t.Fatalf("second instance: %v %v (%v)", e.Expires, err, len(e.Value))
	}
	if err := b.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("after Delete: %v", err)
	}
	if err := b.Delete(ctx, d); err != nil {
		t.Errorf("deleting an absent entry: %v", err)
	}

	name := a.KeyName(d)
	if !strings.HasPrefix(name, "ag1:test/venue:") || len(name) > 250 || strings.ContainsAny(name, " \n\r\t") {
		t.Errorf("key name %q breaks memcached's rules", name)
	}
}

func TestSeparation(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	a := newTier(t, s.Addr(), cache.MemcacheConfig{Namespace: "prod/venue"}, clk)
	if err := a.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]cache.MemcacheConfig{
		"another namespace": {Namespace: "dev/venue"},
		"another hash key":  {Namespace: "prod/venue", HashKey: []byte("another hash key, 32 bytes long.")},
	} {
		if _, err := newTier(t, s.Addr(), cfg, clk).Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
			t.Errorf("%s sees the entry: %v", name, err)
		}
	}
}

// TestRejectsWhatItDidNotWrite: entries written into memcached by anyone
// without the MAC key, or changed in any way, are misses counted by reason.
func TestRejectsWhatItDidNotWrite(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	tr := newTier(t, s.Addr(), cache.MemcacheConfig{}, clk)
	raw := memcache.New(s.Addr())
	ctx := context.Background()
	d, other := cache.DigestOf("token-1"), cache.DigestOf("token-2")
	if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	it, err := raw.Get(tr.KeyName(d))
	if err != nil {
		t.Fatal(err)
	}
	good := it.Value
	attacker := newTier(t, s.Addr(), cache.MemcacheConfig{MACKeys: []cache.MACKey{{ID: 1, Secret: []byte("the attacker's own key, 32 bytes")}}}, clk)

	put := func(v []byte) {
		t.Helper()
		if err := raw.Set(&memcache.Item{Key: tr.KeyName(other), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		write  func()
		reason string
	}{
		{"moved from another key", func() { put(good) }, "bad_mac"},
		{"written without our key", func() {
			_ = attacker.Set(ctx, other, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)})
		}, "bad_mac"},
		{"truncated", func() { put(good[:len(good)-1]) }, "bad_mac"},
		{"extended", func() { put(append(append([]byte{}, good...), 0)) }, "bad_mac"},
		{"too short", func() { put(good[:20]) }, "malformed"},
		{"empty", func() { put(nil) }, "malformed"},
		{"another version", func() { put(append([]byte{9}, good[1:]...)) }, "malformed"},
		{"unknown key id", func() { put(append([]byte{good[0], 7}, good[2:]...)) }, "unknown_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tr.rejected(tc.reason)
			tc.write()
			if _, err := tr.Get(ctx, other); !errors.Is(err, cache.ErrMiss) {
				t.Fatalf("Get = %v, want ErrMiss", err)
			}
			if tr.rejected(tc.reason) != before+1 {
				t.Errorf("not counted as %s", tc.reason)
			}
		})
	}
	// Every single bit flip anywhere in a real entry is refused.
	for i := range good {
		flipped := append([]byte{}, good...)
		flipped[i] ^= 0x40
		if err := raw.Set(&memcache.Item{Key: tr.KeyName(d), Value: flipped}); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	old := newTier(t, s.Addr(), cache.MemcacheConfig{MACKeys: []cache.MACKey{key1}}, clk)
	if err := old.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rotated := newTier(t, s.Addr(), cache.MemcacheConfig{MACKeys: []cache.MACKey{key2, key1}}, clk)
	if _, err := rotated.Get(ctx, d); err != nil {
		t.Fatalf("entry under the previous key: %v", err)
	}
	dropped := newTier(t, s.Addr(), cache.MemcacheConfig{MACKeys: []cache.MACKey{key2}}, clk)
	if _, err := dropped.Get(ctx, d); !errors.Is(err, cache.ErrMiss) || dropped.rejected("unknown_key") != 1 {
		t.Fatalf("entry under a dropped key: %v", err)
	}
	// New entries are signed with the first key.
	if err := rotated.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := dropped.Get(ctx, d); err != nil {
		t.Fatalf("entry under the new key: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	tr := newTier(t, s.Addr(), cache.MemcacheConfig{}, clk)
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Minute) // memcached still holds it; its own clock has not moved
	if _, err := tr.Get(ctx, d); !errors.Is(err, cache.ErrMiss) || tr.rejected("expired") != 1 {
		t.Fatalf("expired entry: %v", err)
	}
	if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	long := cache.DigestOf("token-long")
	if err := tr.Set(ctx, long, cache.Entry{Value: payload, Expires: clk.now().Add(45 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Get(ctx, long); err != nil {
		t.Fatalf("45-day entry (absolute expiration): %v", err)
	}
}

func TestMemcachedDown(t *testing.T) {
	s := memcachedtest.Start(t)
	clk := &clock{t: time.Now()}
	tr := newTier(t, s.Addr(), cache.MemcacheConfig{BreakerThreshold: 2, BreakerCooldown: time.Second}, clk)
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	s.Stop()
	for range 3 {
		if _, err := tr.Get(ctx, d); err == nil || errors.Is(err, cache.ErrMiss) {
			t.Fatalf("Get with memcached down: %v, want an error that is not a miss", err)
		}
	}
	if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err == nil {
		t.Fatal("Set with memcached down succeeded")
	}
	if g := metric(tr.reg, "authgate_cache_memcache_breaker_open", ""); g != 1 {
		t.Fatalf("breaker gauge = %v, want 1", g)
	}
	s.Restart()
	clk.advance(2 * time.Second)
	if _, err := tr.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("after restart: %v, want a plain miss", err)
	}
	if g := metric(tr.reg, "authgate_cache_memcache_breaker_open", ""); g != 0 {
		t.Fatalf("breaker gauge = %v after recovery, want 0", g)
	}
}

func TestPausedMemcached(t *testing.T) {
	s := memcachedtest.Start(t)
	tr := newTier(t, s.Addr(), cache.MemcacheConfig{}, &clock{t: time.Now()})
	s.Pause()
	defer s.Resume()
	start := time.Now()
	if _, err := tr.Get(context.Background(), cache.DigestOf("t")); err == nil {
		t.Fatal("a frozen memcached answered")
	}
	// Not a timing assertion: a bound far above the 100 ms timeout only
	// tells "bounded by the timeout" from "hung".
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Get hung for %v against a frozen memcached", d)
	}
}

func TestNewMemcacheRejectsBadConfig(t *testing.T) {
	client, _ := cache.NewMemcacheClient([]string{"127.0.0.1:1"})
	for name, cfg := range map[string]cache.MemcacheConfig{
		"no namespace":       {HashKey: hashKey, MACKeys: []cache.MACKey{key1}},
		"space in namespace": {Namespace: "prod venue", HashKey: hashKey, MACKeys: []cache.MACKey{key1}},
		"long namespace":     {Namespace: strings.Repeat("n", 65), HashKey: hashKey, MACKeys: []cache.MACKey{key1}},
		"short hash key":     {Namespace: "n", HashKey: []byte("short"), MACKeys: []cache.MACKey{key1}},
		"no MAC key":         {Namespace: "n", HashKey: hashKey},
		"short MAC key":      {Namespace: "n", HashKey: hashKey, MACKeys: []cache.MACKey{{ID: 1, Secret: []byte("x")}}},
		"duplicate key id":   {Namespace: "n", HashKey: hashKey, MACKeys: []cache.MACKey{key1, key1}},
	} {
		if _, err := cache.NewMemcache(client, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkMemcacheGet sets the shared tier's Get beside a raw gomemcache
// Get of a value of the same size, on the same memcached.
//
//	go test -run '^$' -bench Memcache -benchmem -count 5 ./cache
func BenchmarkMemcacheGet(b *testing.B) {
	s := memcachedtest.Start(b)
	clk := &clock{t: time.Now()}
	tr := newTier(b, s.Addr(), cache.MemcacheConfig{}, clk)
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	raw, _ := cache.NewMemcacheClient([]string{s.Addr()})
	stored, err := raw.Get(tr.KeyName(d))
	if err != nil {
		b.Fatal(err)
	}
	if err := raw.Set(&memcache.Item{Key: "raw", Value: stored.Value}); err != nil {
		b.Fatal(err)
	}
	b.Run("authgate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tr.Get(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-gomemcache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.Get("raw"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
