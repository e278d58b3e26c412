package memcached_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// events records a Cluster's callbacks.
type events struct {
	mu       sync.Mutex // guards the fields below
	down, up []string   // addresses, in order
	replayed []int      // OnNodeUp's counts
	failures []string   // "addr op"
	lost     []string
	onUp     func(addr string) // called first by OnNodeUp when set
}

func (e *events) config(cfg memcached.ClusterConfig) memcached.ClusterConfig {
	cfg.OnNodeDown = func(addr string, _ error) { e.mu.Lock(); e.down = append(e.down, addr); e.mu.Unlock() }
	cfg.OnNodeUp = func(addr string, n int) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.onUp != nil {
			e.onUp(addr)
		}
		e.up, e.replayed = append(e.up, addr), append(e.replayed, n)
	}
	cfg.OnFailure = func(addr, op string, _ error) {
		e.mu.Lock()
		e.failures = append(e.failures, addr+" "+op)
		e.mu.Unlock()
	}
	cfg.OnHintsLost = func(addr string) { e.mu.Lock(); e.lost = append(e.lost, addr); e.mu.Unlock() }
	return cfg
}

// requestFailures returns the failures of calls made by requests, leaving
// out the background probes.
func (e *events) requestFailures() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, f := range e.failures {
		if !strings.HasSuffix(f, " version") {
			out = append(out, f)
		}
	}
	return out
}

func (e *events) get() (down, up []string, replayed []int, lost []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.down), slices.Clone(e.up), slices.Clone(e.replayed), slices.Clone(e.lost)
}

// testConfig has a short cooldown, so that tests of failures run quickly,
// and timeouts long enough that a healthy node on a loaded machine (tests
// run with -race, beside other work) does not time out: a timeout takes a
// node out.
var testConfig = memcached.ClusterConfig{
	ReadTimeout:      time.Second,
	WriteTimeout:     time.Second,
	MaxIdleConns:     8,
	BreakerThreshold: 3,
	BreakerCooldown:  20 * time.Millisecond,
	GutterTTL:        15 * time.Second,
}

// newCluster starts n memcached servers and a Cluster on them.
func newCluster(t *testing.T, n int, cfg memcached.ClusterConfig) (*memcachedtest.Cluster, *memcached.Cluster, *events) {
	t.Helper()
	servers := memcachedtest.StartCluster(t, n)
	ev := &events{}
	c, err := memcached.NewCluster(nodes(servers.Addrs()...), ev.config(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return servers, c, ev
}

func nodes(addrs ...string) []memcached.Node {
	var ns []memcached.Node
	for _, a := range addrs {
		ns = append(ns, memcached.Node{Addr: a})
	}
	return ns
}

// keyOn returns a key whose own node is addr, the i-th such key.
func keyOn(t *testing.T, c *memcached.Cluster, addr string, i int) string {
	t.Helper()
	for k := range 100_000 {
		key := "key-" + strconv.Itoa(k)
		if p, _ := c.Placement(key); p == addr {
			if i == 0 {
				return key
			}
			i--
		}
	}
	t.Fatalf("no key on %s", addr)
	return ""
}

// raw is a plain gomemcache client on one server, to look at what the
// Cluster stored there.
func raw(addr string) *memcache.Client {
	mc := memcache.New(addr)
	mc.Timeout = 2 * time.Second
	return mc
}

// rawValue returns key's value on addr, or "" when it is absent.
func rawValue(t *testing.T, addr, key string) string {
	t.Helper()
	it, err := raw(addr).Get(key)
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return ""
	case err != nil:
		t.Fatalf("reading %s on %s: %v", key, addr, err)
	}
	return string(it.Value)
}

// ttlOn returns the remaining lifetime memcached reports for key on addr
// (meta get's t flag): -1 for none; it fails the test if key is absent.
func ttlOn(t *testing.T, addr, key string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(conn, "mg %s t\r\n", key); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	ttl, ok := strings.CutPrefix(strings.TrimSpace(line), "HD t")
	if !ok {
		t.Fatalf("mg %s on %s: %q", key, addr, line)
	}
	n, err := strconv.Atoi(ttl)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds; the 10 s bound only tells "soon" from
// "never", it is not a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func up(c *memcached.Cluster, addr string) bool { return status(c, addr).Up }

func status(c *memcached.Cluster, addr string) memcached.NodeStatus {
	for _, s := range c.Status() {
		if s.Addr == addr {
			return s
		}
	}
	return memcached.NodeStatus{}
}

func item(key, value string) *memcache.Item {
	return &memcache.Item{Key: key, Value: []byte(value), Expiration: 300}
}

func TestNewCluster(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []memcached.Node
		ok    bool
	}{
		{"none", nil, false},
		{"twice", []memcached.Node{{Addr: "127.0.0.1:11212"}, {Addr: "127.0.0.1:11212"}}, false},
		{"negative weight", []memcached.Node{{Addr: "127.0.0.1:11212", Weight: -1}}, false},
		{"no port", []memcached.Node{{Addr: "127.0.0.1"}}, false},
		{"bad port", []memcached.Node{{Addr: "127.0.0.1:0"}}, false},
		{"unresolvable", []memcached.Node{{Addr: "host.invalid.:11211"}}, false},
		{"one", []memcached.Node{{Addr: "127.0.0.1:11212"}}, true},
		{"weighted", []memcached.Node{{Addr: "127.0.0.1:11212", Weight: 3}, {Addr: "[::1]:11212"}}, true},
	} {
		c, err := memcached.NewCluster(tc.nodes, memcached.ClusterConfig{})
		if (err == nil) != tc.ok {
			t.Errorf("%s: NewCluster error %v", tc.name, err)
		}
		if err == nil {
			c.Close()
		}
	}
}

// placements returns, for keys key-0..key-9999, their own node and the
// next distinct one in a cluster of addrs (no server needed: placement
// connects to nothing).
func placements(t *testing.T, addrs []string) (primary, secondary []string) {
	t.Helper()
	c, err := memcached.NewCluster(nodes(addrs...), memcached.ClusterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 10_000 {
		p, s := c.Placement("key-" + strconv.Itoa(i))
		if p == s || s == "" {
			t.Fatalf("key-%d: copies on %q and %q", i, p, s)
		}
		primary, secondary = append(primary, p), append(secondary, s)
	}
	return primary, secondary
}

// TestPlacementMoves: with 3 nodes and 10,000 keys, adding a fourth node
// moves at most 30% of the keys, all of them to the new node; removing a
// node moves only its keys. Either way every key keeps one of its two
// copies' nodes, so a replicated record stays readable while instances
// with the old and the new node list run side by side.
func TestPlacementMoves(t *testing.T) {
	three := []string{"127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003"}
	four := append(slices.Clone(three), "127.0.0.1:21004")
	p3, s3 := placements(t, three)
	p4, s4 := placements(t, four)
	moved := 0
	for i := range p3 {
		if p3[i] != p4[i] {
			moved++
			if p4[i] != four[3] {
				t.Fatalf("key-%d moved from %s to %s, not to the new node", i, p3[i], p4[i])
			}
		}
		if p4[i] != p3[i] && p4[i] != s3[i] && s4[i] != p3[i] && s4[i] != s3[i] {
			t.Fatalf("key-%d: copies on %s,%s then %s,%s: none kept", i, p3[i], s3[i], p4[i], s4[i])
		}
	}
	t.Logf("adding a 4th node moved %d of 10000 keys", moved)
	if moved > 3000 || moved == 0 {
		t.Errorf("adding a 4th node moved %d of 10000 keys, want (0, 3000]", moved)
	}

	removed := three[1]
	two := []string{three[0], three[2]}
	p2, s2 := placements(t, two)
	for i := range p3 {
		if p3[i] != removed && p2[i] != p3[i] {
			t.Fatalf("key-%d moved from %s to %s though %s was removed", i, p3[i], p2[i], removed)
		}
		if p2[i] != p3[i] && p2[i] != s3[i] && s2[i] != p3[i] && s2[i] != s3[i] {
			t.Fatalf("key-%d: copies on %s,%s then %s,%s: none kept", i, p3[i], s3[i], p2[i], s2[i])
		}
	}
}

// TestPlacementWeights: a node's share of the keys follows its weight.
func TestPlacementWeights(t *testing.T) {
	c, err := memcached.NewCluster([]memcached.Node{
		{Addr: "127.0.0.1:21001", Weight: 1}, {Addr: "127.0.0.1:21002", Weight: 1}, {Addr: "127.0.0.1:21003", Weight: 2},
	}, memcached.ClusterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	per := map[string]int{}
	for i := range 10_000 {
		p, _ := c.Placement("key-" + strconv.Itoa(i))
		per[p]++
	}
	// Placement is deterministic; the bounds allow the continuum's
	// unevenness (160 points per unit of weight).
	if n := per["127.0.0.1:21003"]; n < 4000 || n > 6000 {
		t.Errorf("weight 2 of 4 holds %d of 10000 keys: %v", n, per)
	}
}

// TestClusterOperations: each key's single copy lives on its own node,
// and only there.
func TestClusterOperations(t *testing.T) {
	servers, c, ev := newCluster(t, 3, testConfig)
	ctx := context.Background()
	for i := range 30 {
		key := "op-" + strconv.Itoa(i)
		if err := c.Set(ctx, item(key, "v")); err != nil {
			t.Fatal(err)
		}
		own, _ := c.Placement(key)
		for _, addr := range servers.Addrs() {
			if got, want := rawValue(t, addr, key), map[bool]string{true: "v"}[addr == own]; got != want {
				t.Fatalf("%s on %s = %q, want %q (own node %s)", key, addr, got, want, own)
			}
		}
		if it, err := c.Get(ctx, key); err != nil || string(it.Value) != "v" {
			t.Fatalf("Get %s: %v", key, err)
		}
		if err := c.Add(ctx, item(key, "w")); !errors.Is(err, memcache.ErrNotStored) {
			t.Fatalf("Add over %s: %v, want ErrNotStored", key, err)
		}
		if err := c.Delete(ctx, key); err != nil {
			t.Fatalf("Delete %s: %v", key, err)
		}
		if err := c.Delete(ctx, key); !errors.Is(err, memcache.ErrCacheMiss) {
			t.Fatalf("Delete of the absent %s: %v, want a miss (who removed it is told)", key, err)
		}
		if _, err := c.Get(ctx, key); !errors.Is(err, memcache.ErrCacheMiss) {
			t.Fatalf("Get deleted %s: %v, want a miss", key, err)
		}
		if err := c.Add(ctx, item(key, "w")); err != nil {
			t.Fatalf("Add %s: %v", key, err)
		}
	}
	if f := ev.requestFailures(); len(f) != 0 {
		t.Errorf("failures reported: %v", f)
	}
}

// TestAnswersAreNotFailures: with a threshold of 1, a miss, a lost add, a
// delete of an absent key and keys gomemcache refuses to send leave the
// node in, and are not reported as failures.
func TestAnswersAreNotFailures(t *testing.T) {
	cfg := testConfig
	cfg.BreakerThreshold = 1
	servers, c, ev := newCluster(t, 2, cfg)
	ctx := context.Background()
	if err := c.Set(ctx, item("k", "v")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"miss", func() error { _, err := c.Get(ctx, "absent"); return err }, memcache.ErrCacheMiss},
		{"not stored", func() error { return c.Add(ctx, item("k", "w")) }, memcache.ErrNotStored},
		{"delete absent", func() error { return c.Delete(ctx, "absent") }, memcache.ErrCacheMiss},
		{"malformed key", func() error { _, err := c.Get(ctx, "bad key"); return err }, memcache.ErrMalformedKey},
		{"too long key", func() error { _, err := c.Get(ctx, strings.Repeat("k", 251)); return err }, memcache.ErrMalformedKey},
		{"locked", func() error {
			if _, err := c.Lock(ctx, "lock", time.Minute); err != nil {
				return err
			}
			_, err := c.Lock(ctx, "lock", time.Minute)
			return err
		}, memcached.ErrLocked},
	} {
		if err := tc.call(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, addr := range servers.Addrs() {
		if !up(c, addr) {
			t.Errorf("%s taken out by answers", addr)
		}
	}
	if f := ev.requestFailures(); len(f) != 0 {
		t.Errorf("answers reported as failures: %v", f)
	}
}

// TestOwnStallCostsOneProbe: a node taken out by a timeout that was not
// its own — here it answers again by the time the timeout is reported, as
// after a stall of this process — is probed at once and back in service,
// not out for the cooldown (an hour here). A node taken out again soon
// after it rejoined waits the cooldown: firstProbe, tested in
// breaker_test.go.
func TestOwnStallCostsOneProbe(t *testing.T) {
	cfg := testConfig
	cfg.BreakerCooldown = time.Hour
	servers := memcachedtest.StartCluster(t, 2)
	stalled := servers.Server(servers.Addrs()[0])
	ev := &events{}
	cfg = ev.config(cfg)
	down := cfg.OnNodeDown
	cfg.OnNodeDown = func(addr string, cause error) {
		stalled.Resume() // the node answers again before it is probed
		down(addr, cause)
	}
	c, err := memcached.NewCluster(nodes(servers.Addrs()...), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := keyOn(t, c, stalled.Addr(), 0)
	stalled.Pause()
	if _, err := c.Get(context.Background(), key); err == nil || errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get on the paused node: %v, want a timeout", err)
	}
	waitFor(t, "the node to be probed and back", func() bool { return up(c, stalled.Addr()) })
	if d, u, _, _ := ev.get(); !slices.Equal(d, []string{stalled.Addr()}) || !slices.Equal(u, []string{stalled.Addr()}) {
		t.Fatalf("down %v, up %v; want the node out once and back once", d, u)
	}
}

// TestHungNodeGutter: a node that hangs (SIGSTOP) costs one timeout, which
// takes it out; then its keys go to the gutter, the next node on the
// continuum, with short TTLs, at no cost from the hung node, while the
// other nodes serve as before; once it answers a background probe it
// serves its keys again.
func TestHungNodeGutter(t *testing.T) {
	servers, c, ev := newCluster(t, 3, testConfig)
	ctx := context.Background()
	hung := servers.Addrs()[0]
	key := keyOn(t, c, hung, 0)
	_, gutter := c.Placement(key)
	if err := c.Set(ctx, item(key, "before")); err != nil {
		t.Fatal(err)
	}

	servers.Server(hung).Pause()
	if _, err := c.Get(ctx, key); err == nil || errors.Is(err, memcached.ErrBreakerOpen) || errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("first Get on the hung node: %v, want a timeout", err)
	}
	if down, _, _, _ := ev.get(); !slices.Equal(down, []string{hung}) {
		t.Fatalf("one timeout did not take the node out: down %v", down)
	}
	for i := range 20 {
		if _, err := c.Get(ctx, key); !errors.Is(err, memcache.ErrCacheMiss) && i == 0 {
			t.Fatalf("Get from the gutter: %v, want a miss", err)
		}
		if err := c.Set(ctx, &memcache.Item{Key: key, Value: []byte("gutter"), Expiration: 3600}); err != nil {
			t.Fatalf("Set to the gutter: %v", err)
		}
		if it, err := c.Get(ctx, key); err != nil || string(it.Value) != "gutter" {
			t.Fatalf("Get from the gutter after Set: %v", err)
		}
	}
	if ttl := ttlOn(t, gutter, key); ttl < 1 || ttl > 15 {
		t.Errorf("TTL on the gutter = %d s, want capped at 15", ttl)
	}
	for _, addr := range servers.Addrs()[1:] {
		other := keyOn(t, c, addr, 0)
		if err := c.Set(ctx, item(other, "x")); err != nil {
			t.Fatalf("a healthy node's key: %v", err)
		}
		if rawValue(t, addr, other) != "x" {
			t.Fatalf("%s not on its own node %s", other, addr)
		}
	}
	if f := ev.requestFailures(); !slices.Equal(f, []string{hung + " get"}) {
		t.Fatalf("calls that failed while the node hung: %v, want the first get only", f)
	}
	if up(c, hung) {
		t.Fatal("the hung node is up")
	}

	servers.Server(hung).Resume()
	waitFor(t, "the resumed node to rejoin", func() bool { return up(c, hung) })
	if it, err := c.Get(ctx, key); err != nil || string(it.Value) != "before" {
		t.Fatalf("after the rejoin: %v, want the node's own copy", err)
	}
}

// TestKilledNode: a node that refuses connections is taken out after
// BreakerThreshold failures and its keys go to the gutter; restarted
// (empty), it rejoins.
func TestKilledNode(t *testing.T) {
	servers, c, ev := newCluster(t, 3, testConfig)
	ctx := context.Background()
	dead := servers.Addrs()[1]
	key := keyOn(t, c, dead, 0)
	servers.Server(dead).Stop()
	for i := range testConfig.BreakerThreshold {
		if _, err := c.Get(ctx, key); err == nil || errors.Is(err, memcache.ErrCacheMiss) {
			t.Fatalf("get %d on the dead node: %v", i, err)
		}
	}
	if down, _, _, _ := ev.get(); !slices.Equal(down, []string{dead}) {
		t.Fatalf("down %v after %d failures", down, testConfig.BreakerThreshold)
	}
	if err := c.Set(ctx, item(key, "g")); err != nil {
		t.Fatalf("Set while the node is dead: %v", err)
	}
	if _, gutter := c.Placement(key); rawValue(t, gutter, key) != "g" {
		t.Fatal("not written to the gutter")
	}
	servers.Server(dead).Restart()
	waitFor(t, "the restarted node to rejoin", func() bool { return up(c, dead) })
	if _, err := c.Get(ctx, key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get on the restarted node: %v, want a miss", err)
	}
	if err := c.Set(ctx, item(key, "own")); err != nil || rawValue(t, dead, key) != "own" {
		t.Fatalf("Set after the rejoin: %v", err)
	}
}

// TestRestartedNodeRejoinsAtOnce: a node that hung, was killed and
// restarted on its address rejoins at its next probe, whatever idle
// connections to its old process the Cluster kept: the probe does not try
// them one by one, a cooldown each.
func TestRestartedNodeRejoinsAtOnce(t *testing.T) {
	cfg := testConfig
	cfg.MaxIdleConns = 64
	cfg.BreakerCooldown = 3 * time.Second // a few dead connections would outlast waitFor's bound
	servers, c, ev := newCluster(t, 2, cfg)
	ctx := context.Background()
	node := servers.Server(servers.Addrs()[0])
	key := keyOn(t, c, node.Addr(), 0)
	// Idle connections, as concurrent requests leave them.
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 48 {
		wg.Go(func() {
			<-start
			_, _ = c.Get(ctx, key)
		})
	}
	close(start)
	wg.Wait()
	node.Pause()
	if _, err := c.Get(ctx, key); err == nil || errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get on the paused node: %v, want a timeout", err)
	}
	// The first probe, at once, meets the paused node too.
	waitFor(t, "the first probe to fail", func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return slices.Contains(ev.failures, node.Addr()+" version")
	})
	node.Stop()
	node.Restart()
	waitFor(t, "the restarted node to rejoin", func() bool { return up(c, node.Addr()) })
	if err := c.Set(ctx, item(key, "v")); err != nil || rawValue(t, node.Addr(), key) != "v" {
		t.Fatalf("Set after the rejoin: %v", err)
	}
}

// TestNoLiveNode: with every node out, calls fail at once with
// ErrBreakerOpen.
func TestNoLiveNode(t *testing.T) {
	servers, c, _ := newCluster(t, 2, testConfig)
	ctx := context.Background()
	for _, s := range servers.Servers() {
		s.Stop()
	}
	for i := range 4 * testConfig.BreakerThreshold {
		_, _ = c.Get(ctx, "key-"+strconv.Itoa(i))
	}
	for _, s := range c.Status() {
		if s.Up {
			t.Fatalf("%s up with every node stopped", s.Addr)
		}
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, memcached.ErrBreakerOpen) {
		t.Errorf("Get: %v, want ErrBreakerOpen", err)
	}
	if _, err := c.SetReplicated(ctx, item("k", "v")); !errors.Is(err, memcached.ErrBreakerOpen) {
		t.Errorf("SetReplicated: %v, want ErrBreakerOpen", err)
	}
	if _, err := c.Lock(ctx, "k", time.Second); !errors.Is(err, memcached.ErrBreakerOpen) {
		t.Errorf("Lock: %v, want ErrBreakerOpen", err)
	}
}

// TestDoneContextCluster: a call on an ended context asks no node and
// counts no failure.
func TestDoneContextCluster(t *testing.T) {
	_, c, ev := newCluster(t, 2, testConfig)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get: %v", err)
	}
	if _, err := c.SetReplicated(ctx, item("k", "v")); !errors.Is(err, context.Canceled) {
		t.Errorf("SetReplicated: %v", err)
	}
	if _, err := c.Lock(ctx, "k", time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock: %v", err)
	}
	if f := ev.requestFailures(); len(f) != 0 {
		t.Errorf("failures counted: %v", f)
	}
}
