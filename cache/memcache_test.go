package cache_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/memcachedtest"
)

var (
	hashKey = []byte("0123456789abcdef0123456789abcdef")
	key1    = cache.MACKey{ID: 1, Secret: []byte("key-one-key-one-key-one-key-one-")}
	key2    = cache.MACKey{ID: 2, Secret: []byte("key-two-key-two-key-two-key-two-")}
	// payload is about the size of an encoded Principal.
	payload = bytes.Repeat([]byte("principal "), 60)
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a real memcached, a settable clock and a raw client on it.
type env struct {
	s   *memcachedtest.Server
	clk *clock
	// raw is plain gomemcache, for reading and writing what an attacker or
	// another program could.
	raw *memcache.Client
}

func newEnv(tb testing.TB) env {
	tb.Helper()
	s := memcachedtest.Start(tb)
	return env{s: s, clk: &clock{t: time.Now()}, raw: memcache.New(s.Addr())}
}

// cluster returns a Cluster on the env's memcached, closed when the test
// ends, with a short cooldown so that tests of a node's return are quick.
func (e env) cluster(tb testing.TB, cfg cache.ClusterConfig, opts ...cache.Option) *cache.Cluster {
	tb.Helper()
	if cfg.BreakerCooldown == 0 {
		cfg.BreakerCooldown = 50 * time.Millisecond
	}
	c, err := cache.NewCluster([]string{e.s.Addr()}, cfg, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// tier is a Memcache with what the tests look at.
type tier struct {
	*cache.Memcache
	cache.Counts
	reg  *prometheus.Registry
	logs *observer.ObservedLogs
}

// tier returns a Memcache on the env's memcached and clock for cfg, whose
// blank required fields are filled with the test's namespace and keys.
func (e env) tier(tb testing.TB, cfg cache.MemcacheConfig) tier {
	return e.tierOn(tb, cfg, cache.ClusterConfig{})
}

// tierOn is tier on a cluster configured with ccfg.
func (e env) tierOn(tb testing.TB, cfg cache.MemcacheConfig, ccfg cache.ClusterConfig) tier {
	tb.Helper()
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
	core, logs := observer.New(zapcore.DebugLevel)
	opts := []cache.Option{cache.WithRegisterer(reg), cache.WithClock(e.clk.now), cache.WithLogger(zap.New(core))}
	m, err := cache.NewMemcache(e.cluster(tb, ccfg, opts...), cfg, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return tier{m, cache.CountsOf(reg), reg, logs}
}

// stored sets entry for d through tr and returns the bytes memcached holds.
func (e env) stored(tb testing.TB, tr tier, d cache.Digest, entry cache.Entry) []byte {
	tb.Helper()
	if err := tr.Set(context.Background(), d, entry); err != nil {
		tb.Fatal(err)
	}
	it, err := e.raw.Get(tr.KeyName(d))
	if err != nil {
		tb.Fatal(err)
	}
	return it.Value
}

func TestRoundTripAndSharing(t *testing.T) {
	e := newEnv(t)
	clk := e.clk
	// Two instances of a service: same namespace and keys, their own clients.
	a, b := e.tier(t, cache.MemcacheConfig{}), e.tier(t, cache.MemcacheConfig{})
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	exp := clk.now().Add(time.Hour)
	if _, err := a.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("before Set: %v, want ErrMiss", err)
	}
	if err := a.Set(ctx, d, cache.Entry{Value: payload, Expires: exp}); err != nil {
		t.Fatal(err)
	}
	for name, tr := range map[string]tier{"same instance": a, "other instance": b} {
		e, err := tr.Get(ctx, d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(e.Value, payload) || !e.Expires.Equal(exp.Truncate(time.Second)) {
			t.Errorf("%s: got %d bytes until %v, want %d until %v", name, len(e.Value), e.Expires, len(payload), exp.Truncate(time.Second))
		}
	}
	if err := b.Set(ctx, d, cache.Entry{Value: []byte("updated"), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	if e, err := a.Get(ctx, d); err != nil || string(e.Value) != "updated" {
		t.Errorf("after the other instance's Set: %q, %v", e.Value, err)
	}
	if err := b.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("after the other instance's Delete: %v, want ErrMiss", err)
	}
	if err := b.Delete(ctx, d); err != nil {
		t.Errorf("deleting an absent entry: %v", err)
	}
	if err := a.Set(ctx, d, cache.Entry{Expires: exp}); err != nil {
		t.Fatal(err)
	}
	if e, err := b.Get(ctx, d); err != nil || len(e.Value) != 0 {
		t.Errorf("empty value: %q, %v", e.Value, err)
	}
	if a.RejectedTotal()+b.RejectedTotal() != 0 || a.logs.Len()+b.logs.Len() != 0 {
		t.Errorf("entries refused in a clean round trip: %v", a.logs.All())
	}
}

// TestKeyName: key names follow memcached's rules for any valid namespace,
// and hide the digest.
func TestKeyName(t *testing.T) {
	e := newEnv(t)
	clk := e.clk
	longest := strings.Repeat("~", 64)
	tr := e.tier(t, cache.MemcacheConfig{Namespace: longest})
	d := cache.DigestOf("token-1")
	name := tr.KeyName(d)
	if !strings.HasPrefix(name, "ag1:"+longest+":") || len(name) != 4+64+1+43 || len(name) > 250 {
		t.Fatalf("key name %q (%d bytes)", name, len(name))
	}
	for i := range len(name) {
		if name[i] <= ' ' || name[i] >= 0x7f {
			t.Fatalf("key name %q has byte %#x", name, name[i])
		}
	}
	if strings.Contains(name, string(d[:])) || tr.KeyName(d) != name || tr.KeyName(cache.DigestOf("token-2")) == name {
		t.Fatal("key name is not a stable keyed hash of the digest")
	}
	// memcached accepts it.
	ctx := context.Background()
	if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.raw.Get(name); err != nil {
		t.Fatalf("the entry is not under KeyName: %v", err)
	}
}

// TestSeparation: another namespace or another hash key names other
// entries.
func TestSeparation(t *testing.T) {
	e := newEnv(t)
	clk := e.clk
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	a := e.tier(t, cache.MemcacheConfig{Namespace: "prod/venue"})
	if err := a.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  cache.MemcacheConfig
	}{
		{"another namespace", cache.MemcacheConfig{Namespace: "dev/venue"}},
		{"another hash key", cache.MemcacheConfig{Namespace: "prod/venue", HashKey: []byte("another hash key, 32 bytes long.")}},
	} {
		b := e.tier(t, tc.cfg)
		if _, err := b.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
			t.Errorf("%s sees the entry: %v", tc.name, err)
		}
		if b.KeyName(d) == a.KeyName(d) {
			t.Errorf("%s: same key name", tc.name)
		}
	}
}

// forge builds a value in the documented format, MACed with secret under
// name: what someone holding that secret could write.
func forge(name string, version, id byte, expires time.Time, value, secret []byte) []byte {
	v := []byte{version, id}
	v = binary.BigEndian.AppendUint64(v, uint64(expires.Unix()))
	v = append(v, value...)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(name))
	mac.Write(v)
	return mac.Sum(v)
}

// TestRejectsWhatItDidNotWrite: entries written into memcached without the
// MAC key, or changed in any way, are misses counted by reason and logged
// without the key name's hash.
func TestRejectsWhatItDidNotWrite(t *testing.T) {
	e := newEnv(t)
	clk := e.clk
	tr := e.tier(t, cache.MemcacheConfig{})
	raw := e.raw
	ctx := context.Background()
	d, other := cache.DigestOf("token-1"), cache.DigestOf("token-2")
	exp := clk.now().Add(time.Hour)
	good := e.stored(t, tr, d, cache.Entry{Value: payload, Expires: exp})
	name := tr.KeyName(other)
	if !bytes.Equal(forge(tr.KeyName(d), 1, key1.ID, exp, payload, key1.Secret), good) {
		t.Fatal("the stored format is not the documented one")
	}
	with := func(f func(v []byte) []byte) []byte { return f(bytes.Clone(good)) }

	for _, tc := range []struct {
		name   string
		value  []byte
		reason string
	}{
		{"MACed with another secret", forge(name, 1, key1.ID, exp, payload, []byte("the attacker's own key, 32 bytes")), "bad_mac"},
		{"no MAC at all", forge(name, 1, key1.ID, exp, payload, nil)[:10+len(payload)], "bad_mac"},
		{"zero MAC", append(forge(name, 1, key1.ID, exp, payload, nil)[:10+len(payload)], make([]byte, 32)...), "bad_mac"},
		{"moved from another key", good, "bad_mac"},
		{"truncated by one byte", good[:len(good)-1], "bad_mac"},
		{"payload truncated", with(func(v []byte) []byte { return append(v[:20], v[len(v)-32:]...) }), "bad_mac"},
		{"extended by one byte", append(bytes.Clone(good), 0), "bad_mac"},
		{"extended by a MAC", append(bytes.Clone(good), good[len(good)-32:]...), "bad_mac"},
		{"expiry moved", with(func(v []byte) []byte { v[9]++; return v }), "bad_mac"},
		{"header only", good[:10], "malformed"},
		{"one short of a MAC", good[:10+31], "malformed"},
		{"empty", []byte{}, "malformed"},
		{"version 0", with(func(v []byte) []byte { v[0] = 0; return v }), "malformed"},
		{"version 2", forge(name, 2, key1.ID, exp, payload, key1.Secret), "malformed"},
		{"unknown key id", forge(name, 1, 7, exp, payload, key1.Secret), "unknown_key"},
		{"expired, correctly MACed", forge(name, 1, key1.ID, clk.now().Add(-time.Second), payload, key1.Secret), "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr.logs.TakeAll()
			before, total := tr.Rejected(tc.reason), tr.RejectedTotal()
			if err := raw.Set(&memcache.Item{Key: name, Value: tc.value, Expiration: 60}); err != nil {
				t.Fatal(err)
			}
			if e, err := tr.Get(ctx, other); !errors.Is(err, cache.ErrMiss) {
				t.Fatalf("Get = %d bytes, %v; want ErrMiss", len(e.Value), err)
			}
			if tr.Rejected(tc.reason) != before+1 || tr.RejectedTotal() != total+1 {
				t.Errorf("not counted (only) as %s", tc.reason)
			}
			logs := tr.logs.TakeAll()
			if len(logs) != 1 {
				t.Fatalf("%d log lines, want 1", len(logs))
			}
			wantLevel := zapcore.WarnLevel
			if tc.reason == "expired" {
				wantLevel = zapcore.DebugLevel
			}
			fields := logs[0].ContextMap()
			shown, _ := fields["key"].(string)
			if logs[0].Level != wantLevel || fields["reason"] != tc.reason ||
				!strings.HasPrefix(name, shown) || len(shown) != len("ag1:test/venue:")+8 {
				t.Errorf("log line %v %q %v", logs[0].Level, logs[0].Message, fields)
			}
		})
	}
	if t.Failed() {
		return
	}
	// A good entry forged with the right secret under the right name is
	// accepted: the checks above refuse for the reason they name.
	if err := raw.Set(&memcache.Item{Key: name, Value: forge(name, 1, key1.ID, exp, payload, key1.Secret)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Get(ctx, other); err != nil {
		t.Fatalf("a well-formed entry: %v", err)
	}
}

// TestBitFlips: flipping any bit of any byte of a real entry makes it a
// miss, counted by the part of the entry the byte is in.
func TestBitFlips(t *testing.T) {
	e := newEnv(t)
	tr := e.tier(t, cache.MemcacheConfig{})
	raw := e.raw
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	name := tr.KeyName(d)
	good := e.stored(t, tr, d, cache.Entry{Value: payload[:100], Expires: e.clk.now().Add(time.Hour)})
	for i := range good {
		want := "bad_mac"
		switch i {
		case 0:
			want = "malformed" // version
		case 1:
			want = "unknown_key" // key id
		}
		for bit := range 8 {
			flipped := bytes.Clone(good)
			flipped[i] ^= 1 << bit
			if err := raw.Set(&memcache.Item{Key: name, Value: flipped}); err != nil {
				t.Fatal(err)
			}
			before := tr.Rejected(want)
			if _, err := tr.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
				t.Fatalf("byte %d bit %d flipped: %v, want ErrMiss", i, bit, err)
			}
			if tr.Rejected(want) != before+1 {
				t.Fatalf("byte %d bit %d flipped: not counted as %s", i, bit, want)
			}
		}
	}
	if n := tr.RejectedTotal(); n != float64(8*len(good)) {
		t.Errorf("%v refusals counted, want %d", n, 8*len(good))
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	clk := e.clk
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	entry := cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}
	old := e.tier(t, cache.MemcacheConfig{MACKeys: []cache.MACKey{key1}})
	rotating := e.tier(t, cache.MemcacheConfig{MACKeys: []cache.MACKey{key2, key1}})
	rotated := e.tier(t, cache.MemcacheConfig{MACKeys: []cache.MACKey{key2}})

	if err := old.Set(ctx, d, entry); err != nil {
		t.Fatal(err)
	}
	if _, err := rotating.Get(ctx, d); err != nil {
		t.Fatalf("[key2, key1] reading an entry under key1: %v", err)
	}
	if _, err := rotated.Get(ctx, d); !errors.Is(err, cache.ErrMiss) || rotated.Rejected("unknown_key") != 1 {
		t.Fatalf("[key2] reading an entry under key1: %v, %v unknown_key", err, rotated.Rejected("unknown_key"))
	}
	// New entries are signed with the first key.
	if err := rotating.Set(ctx, d, entry); err != nil {
		t.Fatal(err)
	}
	for name, tr := range map[string]tier{"[key2]": rotated, "[key2, key1]": rotating} {
		if _, err := tr.Get(ctx, d); err != nil {
			t.Errorf("%s reading an entry under key2: %v", name, err)
		}
	}
	if _, err := old.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("[key1] reading an entry under key2: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	clk := e.clk
	tr := e.tier(t, cache.MemcacheConfig{})
	raw := e.raw
	ctx := context.Background()

	// memcached still holds an entry the tier's clock says has expired.
	d := cache.DigestOf("token-1")
	if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Minute)
	if _, err := raw.Get(tr.KeyName(d)); err != nil {
		t.Fatalf("memcached dropped the entry already: %v", err)
	}
	if _, err := tr.Get(ctx, d); !errors.Is(err, cache.ErrMiss) || tr.Rejected("expired") != 1 {
		t.Fatalf("expired entry: %v, %v counted", err, tr.Rejected("expired"))
	}

	// Entries that have expired, or would within the second they are
	// rounded down to, are not stored.
	for name, exp := range map[string]time.Time{
		"past":        clk.now().Add(-time.Second),
		"now":         clk.now(),
		"zero":        {},
		"same second": clk.now().Truncate(time.Second).Add(time.Second - time.Nanosecond),
	} {
		gone := cache.DigestOf("token-" + name)
		if err := tr.Set(ctx, gone, cache.Entry{Value: payload, Expires: exp}); err != nil {
			t.Errorf("%s: Set = %v, want nil", name, err)
		}
		if _, err := raw.Get(tr.KeyName(gone)); !errors.Is(err, memcache.ErrCacheMiss) {
			t.Errorf("%s: an expired entry was stored (%v)", name, err)
		}
	}

	// Past memcached's 30 days, the expiration is an absolute time (a
	// relative 45 days would be read as 1970 and the entry dropped).
	long := cache.DigestOf("token-long")
	if err := tr.Set(ctx, long, cache.Entry{Value: payload, Expires: clk.now().Add(45 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if e, err := tr.Get(ctx, long); err != nil || !bytes.Equal(e.Value, payload) {
		t.Fatalf("45-day entry: %v", err)
	}
}

// TestMemcachedDown: with memcached stopped, calls fail with errors that
// are not misses, counted by operation; the node is taken out, then calls
// fail fast without being counted; a background probe finds it back.
func TestMemcachedDown(t *testing.T) {
	e := newEnv(t)
	clk := e.clk
	const threshold = 4
	tr := e.tierOn(t, cache.MemcacheConfig{}, cache.ClusterConfig{BreakerThreshold: threshold})
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	entry := cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}

	e.s.Stop()
	for op, call := range map[string]func() error{
		"get":    func() error { _, err := tr.Get(ctx, d); return err },
		"set":    func() error { return tr.Set(ctx, d, entry) },
		"delete": func() error { return tr.Delete(ctx, d) },
	} {
		if err := call(); err == nil || errors.Is(err, cache.ErrMiss) || !strings.HasPrefix(err.Error(), "cache: memcached: "+op+" ") {
			t.Errorf("%s with memcached down: %v, want an error that is not a miss", op, err)
		}
		if tr.Errors(op) != 1 {
			t.Errorf("%s errors counted: %v, want 1", op, tr.Errors(op))
		}
	}
	if tr.NodeUp(e.s.Addr()) != 1 {
		t.Fatal("node out below the threshold")
	}
	if _, err := tr.Get(ctx, d); err == nil {
		t.Fatal("no error")
	}
	if tr.NodeUp(e.s.Addr()) != 0 {
		t.Fatalf("node_up = %v after %d failures, want 0", tr.NodeUp(e.s.Addr()), threshold)
	}
	logs := tr.logs.FilterMessageSnippet("memcached node out").All()
	if len(logs) != 1 || logs[0].Level != zapcore.WarnLevel {
		t.Fatalf("the node going out logged as %v", logs)
	}
	if _, err := tr.Get(ctx, d); err == nil || errors.Is(err, cache.ErrMiss) || tr.Errors("get") != 2 {
		t.Fatalf("with the node out: %v, %v get errors (calls not made are not counted)", err, tr.Errors("get"))
	}

	e.s.Restart()
	// The background probe (every 50 ms here) finds it; bounded, not timed.
	deadline := time.Now().Add(10 * time.Second)
	for tr.NodeUp(e.s.Addr()) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := tr.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("after the restart: %v, want a plain miss", err)
	}
	logs = tr.logs.FilterMessageSnippet("memcached node rejoined").All()
	if len(logs) != 1 || logs[0].Level != zapcore.InfoLevel {
		t.Fatalf("the node's return logged as %v", logs)
	}
	if err := tr.Set(ctx, d, entry); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Get(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// TestPausedMemcached: a memcached that accepts connections and never
// answers costs a Get about the cluster's 50 ms read timeout, once.
func TestPausedMemcached(t *testing.T) {
	e := newEnv(t)
	tr := e.tier(t, cache.MemcacheConfig{})
	e.s.Pause()
	defer e.s.Resume()
	start := time.Now()
	if _, err := tr.Get(context.Background(), cache.DigestOf("t")); err == nil || errors.Is(err, cache.ErrMiss) {
		t.Fatalf("a frozen memcached: %v, want an error", err)
	}
	// Not a timing assertion: a bound far above the 100 ms timeout only
	// tells "bounded by the timeout" from "hung".
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Get took %v against a frozen memcached", d)
	}
}

// TestCanceledContext: a Get on an ended context asks nothing and counts
// no memcached error.
func TestCanceledContext(t *testing.T) {
	e := newEnv(t)
	tr := e.tier(t, cache.MemcacheConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Get(ctx, cache.DigestOf("t")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get = %v, want context.Canceled", err)
	}
	if tr.Errors("get") != 0 {
		t.Errorf("a canceled call was counted as a memcached error")
	}
}

// TestMetricsRegistered: every series exists from the start, and two
// tiers on one registry share them.
func TestMetricsRegistered(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	cluster := e.cluster(t, cache.ClusterConfig{}, cache.WithRegisterer(reg))
	cfg := cache.MemcacheConfig{Namespace: "n", HashKey: hashKey, MACKeys: []cache.MACKey{key1}}
	a, err := cache.NewMemcache(cluster, cfg, cache.WithRegisterer(reg), cache.WithClock(e.clk.now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.NewMemcache(cluster, cfg, cache.WithRegisterer(reg)); err != nil {
		t.Fatalf("second tier on the registry: %v", err)
	}
	want := `
# HELP authgate_cache_memcache_errors_total Calls to memcached nodes that failed, by operation: get, set, add, cas, delete, version (a probe), flush_all. Calls not made because the node was out are not counted.
# TYPE authgate_cache_memcache_errors_total counter
authgate_cache_memcache_errors_total{op="add"} 0
authgate_cache_memcache_errors_total{op="cas"} 0
authgate_cache_memcache_errors_total{op="delete"} 0
authgate_cache_memcache_errors_total{op="flush_all"} 0
authgate_cache_memcache_errors_total{op="get"} 0
authgate_cache_memcache_errors_total{op="set"} 0
authgate_cache_memcache_errors_total{op="version"} 0
# HELP authgate_cache_memcache_hints_lost_total Outages of a memcached node that outlasted the replay queue: the node was emptied before it rejoined.
# TYPE authgate_cache_memcache_hints_lost_total counter
authgate_cache_memcache_hints_lost_total 0
# HELP authgate_cache_memcache_node_up 1 while a memcached node serves its keys, 0 while it is out (its keys go to the next node).
# TYPE authgate_cache_memcache_node_up gauge
authgate_cache_memcache_node_up{node="` + e.s.Addr() + `"} 1
# HELP authgate_cache_rejected_entries_total Entries read from memcached and refused, by reason: malformed, unknown_key, bad_mac, expired.
# TYPE authgate_cache_rejected_entries_total counter
authgate_cache_rejected_entries_total{reason="bad_mac"} 0
authgate_cache_rejected_entries_total{reason="expired"} 0
authgate_cache_rejected_entries_total{reason="malformed"} 0
authgate_cache_rejected_entries_total{reason="unknown_key"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if err := e.raw.Set(&memcache.Item{Key: a.KeyName(cache.DigestOf("t")), Value: []byte("junk")}); err != nil {
		t.Fatal(err)
	}
	_, _ = a.Get(context.Background(), cache.DigestOf("t"))
	if n := cache.CountsOf(reg).Rejected("malformed"); n != 1 {
		t.Fatalf("malformed = %v", n)
	}
}

func TestNewMemcacheRejectsBadConfig(t *testing.T) {
	client, err := cache.NewCluster([]string{"127.0.0.1:1"}, cache.ClusterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	good := cache.MemcacheConfig{Namespace: "prod/venue-api", HashKey: hashKey, MACKeys: []cache.MACKey{key1}}
	for _, tc := range []struct {
		name   string
		client *cache.Cluster
		change func(*cache.MemcacheConfig)
		want   string // in the error; "" for none
	}{
		{"valid", client, func(*cache.MemcacheConfig) {}, ""},
		{"longest namespace", client, func(c *cache.MemcacheConfig) { c.Namespace = strings.Repeat("n", 64) }, ""},
		{"no cluster", nil, func(*cache.MemcacheConfig) {}, "Cluster"},
		{"no namespace", client, func(c *cache.MemcacheConfig) { c.Namespace = "" }, "Namespace"},
		{"long namespace", client, func(c *cache.MemcacheConfig) { c.Namespace = strings.Repeat("n", 65) }, "Namespace"},
		{"space in namespace", client, func(c *cache.MemcacheConfig) { c.Namespace = "prod venue" }, "Namespace"},
		{"newline in namespace", client, func(c *cache.MemcacheConfig) { c.Namespace = "prod\nvenue" }, "Namespace"},
		{"DEL in namespace", client, func(c *cache.MemcacheConfig) { c.Namespace = "prod\x7f" }, "Namespace"},
		{"non-ASCII namespace", client, func(c *cache.MemcacheConfig) { c.Namespace = "prod/vénue" }, "Namespace"},
		{"no hash key", client, func(c *cache.MemcacheConfig) { c.HashKey = nil }, "HashKey"},
		{"short hash key", client, func(c *cache.MemcacheConfig) { c.HashKey = hashKey[:31] }, "HashKey"},
		{"no MAC key", client, func(c *cache.MemcacheConfig) { c.MACKeys = nil }, "MACKeys"},
		{"short MAC key", client, func(c *cache.MemcacheConfig) { c.MACKeys = []cache.MACKey{{ID: 1, Secret: key1.Secret[:31]}} }, "MACKeys"},
		{"short second MAC key", client, func(c *cache.MemcacheConfig) { c.MACKeys = []cache.MACKey{key1, {ID: 2}} }, "MACKeys"},
		{"duplicate key id", client, func(c *cache.MemcacheConfig) { c.MACKeys = []cache.MACKey{key1, {ID: 1, Secret: key2.Secret}} }, "MACKeys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.change(&cfg)
			_, err := cache.NewMemcache(tc.client, cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatal("accepted")
			case tc.want != "" && (!strings.HasPrefix(err.Error(), "cache: ") || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

// TestSecretsAreCopied: changing the caller's key slices afterwards
// changes nothing.
func TestSecretsAreCopied(t *testing.T) {
	e := newEnv(t)
	clk := e.clk
	hk, mk := bytes.Clone(hashKey), bytes.Clone(key1.Secret)
	tr := e.tier(t, cache.MemcacheConfig{HashKey: hk, MACKeys: []cache.MACKey{{ID: 1, Secret: mk}}})
	d := cache.DigestOf("token-1")
	name := tr.KeyName(d)
	ctx := context.Background()
	if err := tr.Set(ctx, d, cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	clear(hk)
	clear(mk)
	if tr.KeyName(d) != name {
		t.Fatal("key name changed with the caller's slice")
	}
	if _, err := tr.Get(ctx, d); err != nil {
		t.Fatalf("entry unreadable after the caller's slices changed: %v", err)
	}
}

// BenchmarkMemcacheGet sets the shared tier's Get (key name, memcached
// round trip, checks) beside a raw gomemcache Get of a value of the same
// size on the same memcached, and times Set.
//
//	go test -run '^$' -bench 'Memcache' -benchmem -count 6 ./cache
func BenchmarkMemcacheGet(b *testing.B) {
	e := newEnv(b)
	clk := e.clk
	tr := e.tier(b, cache.MemcacheConfig{})
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	entry := cache.Entry{Value: payload, Expires: clk.now().Add(time.Hour)}
	stored := e.stored(b, tr, d, entry)
	raw := e.raw
	rawKey := tr.KeyName(cache.DigestOf("raw")) // a key name of the same length
	if err := raw.Set(&memcache.Item{Key: rawKey, Value: stored}); err != nil {
		b.Fatal(err)
	}
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tr.Get(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-gomemcache-get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.Get(rawKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tr.Set(ctx, d, entry); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-gomemcache-set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := raw.Set(&memcache.Item{Key: rawKey, Value: stored, Expiration: 3600}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAddKeepsWhatIsThere: Add never replaces an entry, whatever it holds.
func TestAddKeepsWhatIsThere(t *testing.T) {
	e := newEnv(t)
	tr := e.tier(t, cache.MemcacheConfig{})
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	exp := e.clk.now().Add(time.Hour)
	if err := tr.Add(ctx, d, cache.Entry{Value: []byte("first"), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(ctx, d, cache.Entry{Value: []byte("second"), Expires: exp}); !errors.Is(err, cache.ErrNotStored) {
		t.Fatalf("Add over an entry: %v, want ErrNotStored", err)
	}
	if got, err := tr.Get(ctx, d); err != nil || string(got.Value) != "first" {
		t.Fatalf("after the refused Add: %q, %v", got.Value, err)
	}
	// Even an entry the tier refuses (written without the MAC key) stays.
	d2 := cache.DigestOf("token-2")
	if err := e.raw.Set(&memcache.Item{Key: tr.KeyName(d2), Value: []byte("junk")}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(ctx, d2, cache.Entry{Value: []byte("mine"), Expires: exp}); !errors.Is(err, cache.ErrNotStored) {
		t.Fatalf("Add over junk: %v, want ErrNotStored", err)
	}
	if tr.Errors("add") != 0 {
		t.Error("a refused add was counted as a failure")
	}
}

// TestReplicatedEntries: an entry written with SetReplicated is read back
// by GetCopies from either of its two nodes, one of them hung or killed; an
// entry written with Add on the key's node is among the copies too.
func TestReplicatedEntries(t *testing.T) {
	nodes := memcachedtest.StartCluster(t, 3)
	clk := &clock{t: time.Now()}
	cluster, err := cache.NewCluster(nodes.Addrs(), cache.ClusterConfig{BreakerCooldown: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	tr, err := cache.NewMemcache(cluster, cache.MemcacheConfig{Namespace: "t", HashKey: hashKey, MACKeys: []cache.MACKey{key1}},
		cache.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exp := clk.now().Add(time.Hour)
	for _, fault := range []string{"hung", "killed"} {
		t.Run(fault, func(t *testing.T) {
			// Every node back from the previous fault (probes every 50 ms).
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if !slices.ContainsFunc(cluster.Status(), func(n memcached.NodeStatus) bool { return !n.Up }) {
					break
				}
			}
			d := cache.DigestOf("token-" + fault)
			if err := tr.Add(ctx, d, cache.Entry{Value: []byte("principal"), Expires: exp}); err != nil {
				t.Fatal(err)
			}
			if err := tr.SetReplicated(ctx, d, cache.Entry{Value: []byte("mark"), Expires: exp}); err != nil {
				t.Fatal(err)
			}
			primary, _ := cluster.Placement(tr.KeyName(d))
			s := nodes.Server(primary)
			if fault == "hung" {
				s.Pause()
				defer s.Resume()
			} else {
				s.Stop()
				defer s.Restart()
			}
			var entries []cache.Entry
			var err error
			for range 3 { // the first read may meet the fault and take the node out
				if entries, err = tr.GetCopies(ctx, d); err == nil && len(entries) == 1 {
					break
				}
			}
			if err != nil || len(entries) != 1 || string(entries[0].Value) != "mark" {
				t.Fatalf("with the key's node %s: %v, %v; want the mark from the other node", fault, entries, err)
			}
		})
	}
}

// TestLease: one holder at a time; only the holder's release frees it.
func TestLease(t *testing.T) {
	e := newEnv(t)
	tr := e.tier(t, cache.MemcacheConfig{})
	ctx := context.Background()
	d := cache.DigestOf("token-1")
	release, err := tr.Lease(ctx, d, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Lease(ctx, d, 5*time.Second); !errors.Is(err, cache.ErrLeased) {
		t.Fatalf("second lease: %v, want ErrLeased", err)
	}
	if _, err := tr.Get(ctx, d); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("the lease is visible as the entry: %v", err)
	}
	release(ctx)
	again, err := tr.Lease(ctx, d, 5*time.Second)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release(ctx) // a stale release leaves the new holder's lease alone
	if _, err := tr.Lease(ctx, d, 5*time.Second); !errors.Is(err, cache.ErrLeased) {
		t.Fatalf("a stale release freed the new holder's lease: %v", err)
	}
	again(ctx)
}
