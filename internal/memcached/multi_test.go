package memcached_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
)

// TestGetMulti: keys are read from both of their nodes in one call, each
// copy where placement puts it; a key absent everywhere is a miss, not an
// error.
func TestGetMulti(t *testing.T) {
	_, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	var keys []string
	for i := range 30 {
		key := "multi-" + strconv.Itoa(i)
		keys = append(keys, key)
		switch i % 3 {
		case 0: // two copies
			if _, err := c.SetReplicated(ctx, item(key, "r"+key)); err != nil {
				t.Fatal(err)
			}
		case 1: // one, on its own node
			if err := c.Set(ctx, item(key, "s"+key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cps, err := c.GetMulti(ctx, keys)
	if err != nil || len(cps) != len(keys) {
		t.Fatalf("GetMulti: %v, %d answers", err, len(cps))
	}
	for i, cp := range cps {
		key := keys[i]
		a, b := c.Placement(key)
		if cp.Addrs != [2]string{a, b} || cp.Answered() != 2 {
			t.Fatalf("%s: %+v, placement %s %s", key, cp, a, b)
		}
		var want [2]string
		switch i % 3 {
		case 0:
			want = [2]string{"r" + key, "r" + key}
		case 1:
			want = [2]string{"s" + key, ""}
		}
		for j, it := range cp.Items {
			got := ""
			if it != nil {
				got = string(it.Value)
			}
			if got != want[j] {
				t.Errorf("%s copy %d = %q, want %q", key, j, got, want[j])
			}
		}
	}
	if cps, err := c.GetMulti(ctx, nil); err != nil || len(cps) != 0 {
		t.Errorf("GetMulti of no keys: %v, %v", cps, err)
	}
}

// TestGetMultiNodeOut: with a node out, its copies are reported out and
// the other copies read; a key whose nodes are both out fails alone.
func TestGetMultiNodeOut(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	dead := servers.Addrs()[1]
	key := keyOn(t, c, dead, 0)
	if _, err := c.SetReplicated(ctx, item(key, "mark")); err != nil {
		t.Fatal(err)
	}
	servers.Server(dead).Stop()
	waitFor(t, "the node to be taken out", func() bool {
		_, _ = c.Get(ctx, key)
		return !up(c, dead)
	})
	cps, err := c.GetMulti(ctx, []string{key, "other"})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(cps[0].Errs[0], memcached.ErrBreakerOpen) || cps[0].Items[1] == nil || string(cps[0].Item().Value) != "mark" {
		t.Fatalf("a key whose node is out: %+v; want the second copy", cps[0])
	}
	for _, s := range servers.Servers() {
		if s.Addr() != dead {
			s.Stop()
		}
	}
	waitFor(t, "every node to be taken out", func() bool {
		_, _ = c.GetMulti(ctx, []string{key, "other", "k2", "k3", "k4"})
		for _, st := range c.Status() {
			if st.Up {
				return false
			}
		}
		return true
	})
	if _, err := c.GetMulti(ctx, []string{key}); err == nil {
		t.Fatal("GetMulti with every node out: no error")
	}
}

// TestGetMultiHungNode: a node that hangs costs one read timeout — the
// read that finds it hung takes it out — and later reads skip it, answering
// from the other copy at once.
func TestGetMultiHungNode(t *testing.T) {
	cfg := testConfig
	cfg.ReadTimeout = 100 * time.Millisecond
	cfg.BreakerCooldown = time.Hour // no probe puts it back during the test
	servers, c, _ := newCluster(t, 2, cfg)
	ctx := context.Background()
	hung := servers.Addrs()[0]
	key := keyOn(t, c, hung, 0)
	if _, err := c.SetReplicated(ctx, item(key, "mark")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetMulti(ctx, []string{key}); err != nil { // a pooled connection to the node
		t.Fatal(err)
	}
	servers.Server(hung).Pause()
	t.Cleanup(servers.Server(hung).Resume)
	start := time.Now()
	cps, err := c.GetMulti(ctx, []string{key})
	if d := time.Since(start); err != nil || d < cfg.ReadTimeout || d > 10*cfg.ReadTimeout {
		t.Fatalf("the read that finds the node hung: %v after %v, want the other copy after one timeout", err, d)
	}
	if cps[0].Errs[0] == nil || string(cps[0].Item().Value) != "mark" || up(c, hung) {
		t.Fatalf("%+v, node up: %v; want the node out and the other copy", cps[0], up(c, hung))
	}
	start = time.Now()
	cps, err = c.GetMulti(ctx, []string{key})
	if d := time.Since(start); err != nil || !errors.Is(cps[0].Errs[0], memcached.ErrBreakerOpen) || d > cfg.ReadTimeout/2 {
		t.Fatalf("the next read: %+v, %v after %v; want the node skipped", cps[0], err, d)
	}
}

// maxValue is a conditional write's test: replace what holds a smaller
// number.
func maxValue(mine int) func(*memcache.Item) bool {
	return func(cur *memcache.Item) bool {
		n, err := strconv.Atoi(string(cur.Value))
		return err != nil || n < mine
	}
}

// TestSetReplicatedIfKeepsTheLargest: writers racing to put numbers on
// both copies of a key, each replacing only a smaller one, leave the
// largest on both, whatever the order they land in. Run it with -race
// -count=50.
func TestSetReplicatedIfKeepsTheLargest(t *testing.T) {
	_, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	const key, writers = "mark", 16
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			it := &memcache.Item{Key: key, Value: []byte(strconv.Itoa(i)), Expiration: 300}
			if _, err := c.SetReplicatedIf(ctx, it, maxValue(i)); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	a, b := c.Placement(key)
	for _, addr := range []string{a, b} {
		if got := rawValue(t, addr, key); got != strconv.Itoa(writers-1) {
			t.Errorf("%s on %s = %q, want %d", key, addr, got, writers-1)
		}
	}
	// A smaller value changes nothing; a copy that does not parse is
	// replaced.
	if _, err := c.SetReplicatedIf(ctx, item(key, "3"), maxValue(3)); err != nil {
		t.Fatal(err)
	}
	if err := raw(b).Set(item(key, "garbage")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetReplicatedIf(ctx, item(key, "20"), maxValue(20)); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{a, b} {
		if got := rawValue(t, addr, key); got != "20" {
			t.Errorf("%s on %s = %q, want 20", key, addr, got)
		}
	}
}

// TestSetReplicatedIfReplay: a conditional write that missed a hung node
// is replayed to it as a conditional write: it does not go back over the
// larger value the node resumes with.
func TestSetReplicatedIfReplay(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	hung := servers.Addrs()[0]
	key, other := keyOn(t, c, hung, 0), keyOn(t, c, hung, 1)
	if err := raw(hung).Set(item(key, "9")); err != nil {
		t.Fatal(err)
	}
	servers.Server(hung).Pause()
	if _, err := c.Get(ctx, other); err == nil || up(c, hung) {
		t.Fatalf("Get on the hung node: %v", err)
	}
	cp, err := c.SetReplicatedIf(ctx, item(key, "5"), maxValue(5))
	if err != nil || !errors.Is(cp.Errs[0], memcached.ErrBreakerOpen) {
		t.Fatalf("SetReplicatedIf with its node out: %v, %+v", err, cp)
	}
	if _, err := c.SetReplicatedIf(ctx, item(other, "5"), maxValue(5)); err != nil {
		t.Fatal(err)
	}
	if st := status(c, hung); st.Hints != 2 {
		t.Fatalf("hung node: %+v, want 2 writes to replay", st)
	}
	servers.Server(hung).Resume()
	waitFor(t, "the node to rejoin", func() bool { return up(c, hung) })
	if got := rawValue(t, hung, key); got != "9" {
		t.Errorf("after the replay the node holds %q, want the larger 9 it kept", got)
	}
	if got := rawValue(t, hung, other); got != "5" {
		t.Errorf("after the replay the node holds %q for a key it lacked, want 5", got)
	}
}
