package memcached_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// TestReplicated: a replicated key is written to its own node and the next
// distinct one, read from both, and deleted from both.
func TestReplicated(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	for i := range 20 {
		key := "rep-" + strconv.Itoa(i)
		cp, err := c.SetReplicated(ctx, item(key, "v"))
		if err != nil || cp.Answered() != 2 {
			t.Fatalf("SetReplicated %s: %v, %+v", key, err, cp)
		}
		a, b := c.Placement(key)
		if cp.Addrs != [2]string{a, b} {
			t.Fatalf("copies on %v, placement says %s, %s", cp.Addrs, a, b)
		}
		for _, addr := range servers.Addrs() {
			want := ""
			if addr == a || addr == b {
				want = "v"
			}
			if got := rawValue(t, addr, key); got != want {
				t.Fatalf("%s on %s = %q, want %q", key, addr, got, want)
			}
		}
		got, err := c.GetReplicated(ctx, key)
		if err != nil || got.Answered() != 2 || got.Items[0] == nil || got.Items[1] == nil || string(got.Item().Value) != "v" {
			t.Fatalf("GetReplicated %s: %v, %+v", key, err, got)
		}
		if err := raw(a).Delete(key); err != nil {
			t.Fatal(err)
		}
		if got, err := c.GetReplicated(ctx, key); err != nil || got.Items[0] != nil || string(got.Item().Value) != "v" {
			t.Fatalf("GetReplicated with the first copy gone: %v, %+v", err, got)
		}
		for range 2 { // absent the second time: not an error
			if cp, err := c.DeleteReplicated(ctx, key); err != nil || cp.Answered() != 2 {
				t.Fatalf("DeleteReplicated %s: %v, %+v", key, err, cp)
			}
		}
		if got, err := c.GetReplicated(ctx, key); err != nil || got.Item() != nil {
			t.Fatalf("GetReplicated after delete: %v, %+v", err, got)
		}
	}
}

// TestReplicatedOneNodeHung: with one of a key's nodes hung, replicated
// writes and reads go on with the other copy; the writes that missed the
// hung node are replayed to it when it resumes, before it serves again —
// so a revocation mark written meanwhile is on it from its first read.
func TestReplicatedOneNodeHung(t *testing.T) {
	servers, c, ev := newCluster(t, 3, testConfig)
	ctx := context.Background()
	hung := servers.Addrs()[2]
	mark, gone := keyOn(t, c, hung, 0), keyOn(t, c, hung, 1)
	if _, err := c.SetReplicated(ctx, item(gone, "record")); err != nil {
		t.Fatal(err)
	}
	// What the node holds when it rejoins, read in OnNodeUp: before the
	// breaker closes, that is before any call can be sent to it.
	var atRejoin [2]string
	ev.onUp = func(addr string) {
		if addr == hung {
			atRejoin = [2]string{rawValue(t, hung, mark), rawValue(t, hung, gone)}
		}
	}

	// The first call to the hung node times out and takes it out. (A write
	// that timed out would land when the node resumes: the writes below
	// are skipped instead, and reach the node only by their replay.)
	servers.Server(hung).Pause()
	if _, err := c.Get(ctx, mark); err == nil || up(c, hung) {
		t.Fatalf("Get on the hung node: %v", err)
	}
	cp, err := c.SetReplicated(ctx, item(mark, "revoked"))
	if err != nil || !errors.Is(cp.Errs[0], memcached.ErrBreakerOpen) || cp.Errs[1] != nil {
		t.Fatalf("SetReplicated with its node out: %v, %+v; want the second copy only", err, cp)
	}
	if cp, err := c.DeleteReplicated(ctx, gone); err != nil || !errors.Is(cp.Errs[0], memcached.ErrBreakerOpen) {
		t.Fatalf("DeleteReplicated with its node out: %v, %+v", err, cp)
	}
	got, err := c.GetReplicated(ctx, mark)
	if err != nil || !errors.Is(got.Errs[0], memcached.ErrBreakerOpen) || string(got.Item().Value) != "revoked" {
		t.Fatalf("GetReplicated with its node out: %v, %+v", err, got)
	}
	if st := status(c, hung); st.Up || st.Hints != 2 {
		t.Fatalf("hung node: %+v, want out with 2 writes to replay", st)
	}
	if f := ev.requestFailures(); len(f) != 1 {
		t.Fatalf("requests paid %d failures (%v), want the first get's only", len(f), f)
	}

	servers.Server(hung).Resume()
	waitFor(t, "the node to rejoin", func() bool { return up(c, hung) })
	if atRejoin != [2]string{"revoked", ""} {
		t.Fatalf("when the node rejoined it held mark %q, record %q; want the replayed writes", atRejoin[0], atRejoin[1])
	}
	if _, _, replayed, _ := ev.get(); len(replayed) != 1 || replayed[0] != 2 {
		t.Fatalf("replayed %v, want [2]", replayed)
	}
	got, err = c.GetReplicated(ctx, mark)
	if err != nil || got.Answered() != 2 || got.Items[0] == nil || got.Items[1] == nil {
		t.Fatalf("after the rejoin: %v, %+v", err, got)
	}
}

// TestReplicatedRestartedNode: a node killed and restarted empty gets the
// writes it missed while it was down; the copies it lost with its memory
// are still read from the other node.
func TestReplicatedRestartedNode(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	dead := servers.Addrs()[0]
	old, missed := keyOn(t, c, dead, 0), keyOn(t, c, dead, 1)
	if _, err := c.SetReplicated(ctx, item(old, "old")); err != nil {
		t.Fatal(err)
	}
	servers.Server(dead).Stop()
	// One refused write leaves the node up (below BreakerThreshold): its
	// copy is missing, and nothing would replay it.
	if cp, err := c.SetReplicated(ctx, item(missed, "missed")); err != nil || cp.Errs[0] == nil || !up(c, dead) || status(c, dead).Hints != 0 {
		t.Fatalf("a write refused by a node still up: %v, %+v, %+v", err, cp, status(c, dead))
	}
	waitFor(t, "the dead node to be taken out", func() bool {
		_, _ = c.SetReplicated(ctx, item(missed, "missed"))
		return !up(c, dead)
	})
	if _, err := c.SetReplicated(ctx, item(missed, "missed")); err != nil {
		t.Fatal(err)
	}
	servers.Server(dead).Restart()
	waitFor(t, "the restarted node to rejoin", func() bool { return up(c, dead) })
	if rawValue(t, dead, missed) != "missed" {
		t.Fatal("the write missed while down was not replayed")
	}
	got, err := c.GetReplicated(ctx, old)
	if err != nil || got.Items[0] != nil || string(got.Item().Value) != "old" {
		t.Fatalf("a copy lost with the restart: %v, %+v; want it from the other node", err, got)
	}
}

// TestHintsOverflow: past MaxHints the oldest writes are dropped and the
// node is emptied before it rejoins, so that it cannot serve what it
// missed; the newest writes are replayed.
func TestHintsOverflow(t *testing.T) {
	cfg := testConfig
	cfg.MaxHints = 2
	servers, c, ev := newCluster(t, 3, cfg)
	ctx := context.Background()
	hung := servers.Addrs()[1]
	var keys [3]string
	for i := range keys {
		keys[i] = keyOn(t, c, hung, i)
	}
	if err := raw(hung).Set(item("unrelated", "x")); err != nil {
		t.Fatal(err)
	}
	servers.Server(hung).Pause()
	for _, k := range keys {
		if _, err := c.SetReplicated(ctx, item(k, "v")); err != nil {
			t.Fatal(err)
		}
	}
	if st := status(c, hung); st.Hints != 2 || !st.HintsLost {
		t.Fatalf("status %+v, want 2 hints, some lost", st)
	}
	if _, _, _, lost := ev.get(); len(lost) != 1 || lost[0] != hung {
		t.Fatalf("OnHintsLost calls: %v", lost)
	}
	servers.Server(hung).Resume()
	waitFor(t, "the node to rejoin", func() bool { return up(c, hung) })
	for i, want := range []string{"", "v", "v"} {
		if got := rawValue(t, hung, keys[i]); got != want {
			t.Errorf("write %d on the rejoined node: %q, want %q", i, got, want)
		}
	}
	if rawValue(t, hung, "unrelated") != "" {
		t.Error("the node was not emptied before rejoining")
	}
}

// TestReleaseByCAS checks the memcached behaviour Unlock relies on: a
// compare-and-swap with a negative expiration removes the item when its
// CAS id still matches (the key reads as absent and add succeeds on it),
// and leaves it alone when the item changed.
func TestReleaseByCAS(t *testing.T) {
	servers, _, _ := newCluster(t, 1, testConfig)
	mc := raw(servers.Addrs()[0])
	if err := mc.Add(item("lock", "owner")); err != nil {
		t.Fatal(err)
	}
	stale, err := mc.Get("lock")
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Set(item("lock", "other")); err != nil {
		t.Fatal(err)
	}
	stale.Value, stale.Expiration = nil, -1
	if err := mc.CompareAndSwap(stale); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("cas with a stale id: %v, want a conflict", err)
	}
	it, err := mc.Get("lock")
	if err != nil || string(it.Value) != "other" {
		t.Fatalf("after a conflicting cas: %v, %v", it, err)
	}
	it.Value, it.Expiration = nil, -1
	if err := mc.CompareAndSwap(it); err != nil {
		t.Fatalf("cas -1 with the current id: %v", err)
	}
	if _, err := mc.Get("lock"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("after cas -1: %v, want a miss", err)
	}
	if err := mc.Add(item("lock", "next")); err != nil {
		t.Fatalf("add after cas -1: %v", err)
	}
	if err := mc.CompareAndSwap(&memcache.Item{Key: "absent", Expiration: -1, CasID: 1}); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("cas on an absent key: %v, want a miss", err)
	}
}

// TestLock: a lock is held on both copies, refused to others, and removed
// by its owner only.
func TestLock(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	key := "lock-a"
	a, b := c.Placement(key)
	l, err := c.Lock(ctx, key, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	owner := rawValue(t, a, key)
	if owner == "" || rawValue(t, b, key) != owner {
		t.Fatalf("lock copies %q, %q", owner, rawValue(t, b, key))
	}
	if _, err := c.Lock(ctx, key, 10*time.Second); !errors.Is(err, memcached.ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	if rawValue(t, a, key) != owner || rawValue(t, b, key) != owner {
		t.Fatal("a refused Lock changed the copies")
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	for _, addr := range servers.Addrs() {
		if rawValue(t, addr, key) != "" {
			t.Fatalf("lock left on %s", addr)
		}
	}
	l2, err := c.Lock(ctx, key, 10*time.Second)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}

	// l2's lock expires and someone else takes it: l2's Unlock must leave
	// the new owner's copies alone.
	for _, addr := range []string{a, b} {
		if err := raw(addr).Set(item(key, "someone-else")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l2.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if rawValue(t, a, key) != "someone-else" || rawValue(t, b, key) != "someone-else" {
		t.Fatal("Unlock removed a lock it no longer held")
	}
	if _, err := c.Lock(ctx, key, 0); err == nil {
		t.Error("Lock with a zero TTL succeeded")
	}
}

// TestLockOneCopyOut: with the key's own node hung, the lock is taken on
// the other copy and still excludes others; the missing copy is added when
// the node rejoins, and Unlock removes both.
func TestLockOneCopyOut(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	hung := servers.Addrs()[0]
	key := keyOn(t, c, hung, 0)
	_, other := c.Placement(key)
	servers.Server(hung).Pause()
	if _, err := c.Get(ctx, key); err == nil || up(c, hung) { // takes it out
		t.Fatalf("Get on the hung node: %v", err)
	}
	l, err := c.Lock(ctx, key, 30*time.Second)
	if err != nil {
		t.Fatalf("Lock with one copy's node hung: %v", err)
	}
	if _, err := c.Lock(ctx, key, 30*time.Second); !errors.Is(err, memcached.ErrLocked) {
		t.Fatalf("contender: %v, want ErrLocked", err)
	}
	servers.Server(hung).Resume()
	waitFor(t, "the node to rejoin", func() bool { return up(c, hung) })
	owner := rawValue(t, other, key)
	if owner == "" || rawValue(t, hung, key) != owner {
		t.Fatalf("after the rejoin: copies %q on the rejoined node, %q on the other", rawValue(t, hung, key), owner)
	}
	if _, err := c.Lock(ctx, key, 30*time.Second); !errors.Is(err, memcached.ErrLocked) {
		t.Fatalf("contender after the rejoin: %v, want ErrLocked", err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if rawValue(t, hung, key) != "" || rawValue(t, other, key) != "" {
		t.Fatal("Unlock left a copy")
	}
}

// TestLockCopyLost: the key's own node restarts empty while the lock is
// held; a contender adds a copy there, finds the other copy held, loses,
// and takes its copy back, so the owner keeps the lock.
func TestLockCopyLost(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	first := servers.Addrs()[2]
	key := keyOn(t, c, first, 0)
	_, other := c.Placement(key)
	l, err := c.Lock(ctx, key, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	servers.Server(first).Restart()
	// The first contender may meet a pooled connection the restart broke;
	// the others add a copy on the restarted node and must take it back.
	for i := range 3 {
		if _, err := c.Lock(ctx, key, 30*time.Second); !errors.Is(err, memcached.ErrLocked) {
			t.Fatalf("contender %d with the first copy lost: %v, want ErrLocked", i, err)
		}
		if rawValue(t, first, key) != "" {
			t.Fatalf("contender %d left its copy on the restarted node", i)
		}
	}
	owner := rawValue(t, other, key)
	if err := l.Unlock(ctx); err != nil || owner == "" || rawValue(t, other, key) != "" {
		t.Fatalf("owner's Unlock: %v; copy before %q, after %q", err, owner, rawValue(t, other, key))
	}
}

// TestLockExclusion: goroutines contending for one lock never hold it at
// once. Run with -count to repeat the interleavings.
func TestLockExclusion(t *testing.T) {
	_, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	const workers, rounds = 6, 10
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				var l *memcached.Lock
				for tries := 0; l == nil; tries++ {
					if tries == 100_000 {
						t.Error("never got the lock")
						return
					}
					var err error
					if l, err = c.Lock(ctx, "contended", 10*time.Second); err != nil && !errors.Is(err, memcached.ErrLocked) {
						t.Error(err)
						return
					}
					runtime.Gosched()
				}
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				runtime.Gosched()
				inside.Add(-1)
				if err := l.Unlock(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders at once", most.Load())
	}
}

// TestLease: a lease is a single copy, taken once, given back by its
// owner; while the key's node is out it is taken on the gutter, with its
// TTL capped there.
func TestLease(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	own := servers.Addrs()[1]
	key := keyOn(t, c, own, 0)
	_, gutter := c.Placement(key)
	l, err := c.Lease(ctx, key, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rawValue(t, own, key) == "" || rawValue(t, gutter, key) != "" {
		t.Fatal("a lease is one copy on the key's own node")
	}
	if _, err := c.Lease(ctx, key, 5*time.Second); !errors.Is(err, memcached.ErrLocked) {
		t.Fatalf("second Lease: %v, want ErrLocked", err)
	}
	if err := l.Unlock(ctx); err != nil || rawValue(t, own, key) != "" {
		t.Fatalf("Unlock: %v", err)
	}

	servers.Server(own).Stop()
	waitFor(t, "the node to be taken out", func() bool {
		_, _ = c.Get(ctx, key)
		return !up(c, own)
	})
	l, err = c.Lease(ctx, key, time.Minute)
	if err != nil {
		t.Fatalf("Lease with the node out: %v", err)
	}
	if ttl := ttlOn(t, gutter, key); ttl < 1 || ttl > 15 {
		t.Errorf("lease TTL on the gutter = %d, want ≤ 15", ttl)
	}
	if _, err := c.Lease(ctx, key, time.Minute); !errors.Is(err, memcached.ErrLocked) {
		t.Fatalf("second Lease on the gutter: %v", err)
	}
	if err := l.Unlock(ctx); err != nil || rawValue(t, gutter, key) != "" {
		t.Fatalf("Unlock on the gutter: %v", err)
	}
}

// TestCloseWithNodeOut: Close ends the probe of a node that is out.
func TestCloseWithNodeOut(t *testing.T) {
	servers := memcachedtest.StartCluster(t, 2)
	c, err := memcached.NewCluster(nodes(servers.Addrs()...), testConfig)
	if err != nil {
		t.Fatal(err)
	}
	servers.Server(servers.Addrs()[0]).Pause()
	_, _ = c.Get(context.Background(), keyOn(t, c, servers.Addrs()[0], 0))
	if up(c, servers.Addrs()[0]) {
		t.Fatal("the hung node is up")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	servers.Server(servers.Addrs()[0]).Resume()
}

// TestAddNode: records written by a cluster of three are all found by a
// cluster of the same three and a fourth, new, node — as during a deploy
// that adds a node, with both node lists in use — and a quarter or so of
// the single-copy keys miss.
func TestAddNode(t *testing.T) {
	servers, three, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	const n = 200
	for i := range n {
		key := "rec-" + strconv.Itoa(i)
		if _, err := three.SetReplicated(ctx, item(key, "r")); err != nil {
			t.Fatal(err)
		}
		if err := three.Set(ctx, item("one-"+strconv.Itoa(i), "s")); err != nil {
			t.Fatal(err)
		}
	}
	servers.Add()
	four, err := memcached.NewCluster(nodes(servers.Addrs()...), testConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer four.Close()
	misses := 0
	for i := range n {
		if got, err := four.GetReplicated(ctx, "rec-"+strconv.Itoa(i)); err != nil || got.Item() == nil {
			t.Fatalf("record %d not found with the fourth node: %v, %+v", i, err, got)
		}
		if _, err := four.Get(ctx, "one-"+strconv.Itoa(i)); errors.Is(err, memcache.ErrCacheMiss) {
			misses++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if misses == 0 || misses > n*4/10 {
		t.Errorf("%d of %d single-copy keys moved to the new node", misses, n)
	}
}

// TestReplicatedWaitsForProbe: when both of a key's nodes have just been
// taken out and are being probed — as when this process stalls and every
// call in flight times out together — a replicated call waits for the
// probes rather than fail; when the probes fail too, it fails, bounded.
func TestReplicatedWaitsForProbe(t *testing.T) {
	for _, tc := range []struct {
		name string
		back bool // the nodes answer their probes
		call func(context.Context, *memcached.Cluster) (answered int, err error)
	}{
		{"SetReplicated, nodes answering again", true, setSession},
		{"Lock, nodes answering again", true, func(ctx context.Context, c *memcached.Cluster) (int, error) {
			_, err := c.Lock(ctx, "session-lock", time.Minute)
			return 1, err
		}},
		{"SetReplicated, nodes still hung", false, setSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig
			cfg.ReadTimeout, cfg.WriteTimeout = 2*time.Second, 2*time.Second
			cfg.BreakerCooldown = time.Hour // only the first probes, at once, run
			servers, c, _ := newCluster(t, 2, cfg)
			ctx := context.Background()
			for _, s := range servers.Servers() {
				s.Pause()
			}
			// Both nodes out, each with its first probe in flight.
			var wg sync.WaitGroup
			for _, addr := range servers.Addrs() {
				wg.Go(func() { _, _ = c.Get(ctx, keyOn(t, c, addr, 0)) })
			}
			wg.Wait()
			for _, addr := range servers.Addrs() {
				if up(c, addr) {
					t.Fatalf("%s not taken out by a timeout", addr)
				}
			}
			if tc.back {
				go func() {
					time.Sleep(100 * time.Millisecond) // orders the resume after the call below starts; asserts nothing
					for _, s := range servers.Servers() {
						s.Resume()
					}
				}()
			}
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second) // "bounded", not a timing claim
			defer cancel()
			answered, err := tc.call(ctx, c)
			switch {
			case tc.back && (err != nil || answered == 0):
				t.Fatalf("with both nodes answering their probes: %v, %d copies; want the call to go through", err, answered)
			case !tc.back && !errors.Is(err, memcached.ErrBreakerOpen):
				t.Fatalf("with both nodes hung: %v, want ErrBreakerOpen once the probes failed", err)
			}
		})
	}
}

func setSession(ctx context.Context, c *memcached.Cluster) (int, error) {
	cp, err := c.SetReplicated(ctx, item("session", "v"))
	return cp.Answered(), err
}
