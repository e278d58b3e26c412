package memcached_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
)

// TestSetAndUnlockWrites: items are written, pipelined, to both of their
// nodes, values byte for byte (a CRLF inside included) with their flags;
// an item memcached refuses (too large) or that cannot be sent (a
// malformed key) fails alone; a node hung misses its copies, which are
// replayed when it resumes.
func TestSetAndUnlockWrites(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	var items []*memcache.Item
	for i := range 12 {
		items = append(items, &memcache.Item{Key: "multi-" + strconv.Itoa(i), Value: []byte("v\r\nEND\r\n" + strconv.Itoa(i)), Flags: uint32(i), Expiration: 300})
	}
	items = append(items,
		&memcache.Item{Key: "too-large", Value: bytes.Repeat([]byte("x"), 2<<20), Expiration: 300},
		&memcache.Item{Key: "bad key", Value: []byte("v"), Expiration: 300},
		&memcache.Item{Key: "empty", Expiration: 300})
	cps, err := setAll(t, c, items)
	if err != nil {
		t.Fatal(err)
	}
	for k, it := range items {
		a, b := c.Placement(it.Key)
		switch it.Key {
		case "too-large", "bad key":
			if cps[k].Answered() != 0 {
				t.Errorf("%q: %+v, want both copies failed", it.Key, cps[k].Errs)
			}
			if it.Key == "bad key" && !errors.Is(cps[k].Errs[0], memcache.ErrMalformedKey) {
				t.Errorf("%q: %v, want ErrMalformedKey", it.Key, cps[k].Errs[0])
			}
			continue
		}
		if cps[k].Answered() != 2 || cps[k].Addrs != [2]string{a, b} {
			t.Fatalf("%s: %+v", it.Key, cps[k])
		}
		for _, addr := range []string{a, b} {
			got, err := raw(addr).Get(it.Key)
			if err != nil || !bytes.Equal(got.Value, it.Value) || got.Flags != it.Flags {
				t.Fatalf("%s on %s: %v, %v; want %q flags %d", it.Key, addr, got, err, it.Value, it.Flags)
			}
		}
	}

	// One node hung: the copies on it are missed, written elsewhere, and
	// replayed when it resumes.
	hung := servers.Addrs()[1]
	servers.Server(hung).Pause()
	if _, err := c.Get(ctx, keyOn(t, c, hung, 0)); err == nil || up(c, hung) { // takes it out
		t.Fatalf("Get on the hung node: %v", err)
	}
	for _, it := range items[:12] {
		it.Value = append(it.Value, '!')
	}
	cps, err = setAll(t, c, items[:12])
	if err != nil {
		t.Fatal(err)
	}
	for k, it := range items[:12] {
		a, b := c.Placement(it.Key)
		if want := 2 - btoi(a == hung || b == hung); cps[k].Answered() != want {
			t.Fatalf("%s with %s hung: %d copies written, want %d", it.Key, hung, cps[k].Answered(), want)
		}
	}
	servers.Server(hung).Resume()
	waitFor(t, "the node to rejoin", func() bool { return up(c, hung) })
	for _, it := range items[:12] {
		a, b := c.Placement(it.Key)
		for _, addr := range []string{a, b} {
			if got := rawValue(t, addr, it.Key); got != string(it.Value) {
				t.Fatalf("%s on %s after the rejoin: %q, want %q", it.Key, addr, got, it.Value)
			}
		}
	}
}

// setAll writes items with SetAndUnlock under a lock of their own.
func setAll(t *testing.T, c *memcached.Cluster, items []*memcache.Item) ([]memcached.Copies, error) {
	t.Helper()
	l, _, err := c.LockAndGet(context.Background(), "set-all:lock", []byte("setter"), 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	cps, err, uerr := l.SetAndUnlock(context.Background(), items)
	if uerr != nil {
		t.Fatalf("releasing the lock: %v", uerr)
	}
	return cps, err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSetAndUnlock: the writes land and the lock is released — in the
// writes' pipelines on two nodes (every key on both), after them on three
// when an item has a copy on neither of the lock's nodes — and a lock copy
// rewritten since it was read (same owner, new CAS id) is left alone.
func TestSetAndUnlock(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(strconv.Itoa(n)+" nodes", func(t *testing.T) {
			_, c, _ := newCluster(t, n, testConfig)
			ctx := context.Background()
			lockKey := "rec:lock"
			var items []*memcache.Item
			for i := range 8 {
				items = append(items, &memcache.Item{Key: "rec-" + strconv.Itoa(i), Value: []byte("v" + strconv.Itoa(i)), Expiration: 300})
			}
			for round, rewrite := range []bool{false, true} {
				l, _, err := c.LockAndGet(ctx, lockKey, []byte("owner"), 10*time.Second, []string{"rec-0"})
				if err != nil {
					t.Fatal(err)
				}
				a, b := c.Placement(lockKey)
				if rewrite {
					if err := raw(a).Set(item(lockKey, "owner")); err != nil { // same owner, new CAS id
						t.Fatal(err)
					}
				}
				cps, err, uerr := l.SetAndUnlock(ctx, items)
				if err != nil || uerr != nil {
					t.Fatalf("round %d: %v, %v", round, err, uerr)
				}
				for k, it := range items {
					p, q := c.Placement(it.Key)
					if cps[k].Answered() != min(n, 2) || rawValue(t, p, it.Key) != string(it.Value) || q != "" && rawValue(t, q, it.Key) != string(it.Value) {
						t.Fatalf("round %d: %s not on both of its nodes: %+v", round, it.Key, cps[k])
					}
				}
				if got := rawValue(t, a, lockKey); got != map[bool]string{false: "", true: "owner"}[rewrite] {
					t.Fatalf("round %d: lock copy on its own node %q after SetAndUnlock", round, got)
				}
				if b != "" && rawValue(t, b, lockKey) != "" {
					t.Fatalf("round %d: lock copy left on the other node", round)
				}
				if rewrite {
					if err := raw(a).Delete(lockKey); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
