package memcached_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/memcached"
)

// TestLockAndGet: the lock is taken on both copies and the keys are read
// under it; a contender gets ErrLocked and no reads. Unlock removes each
// copy with the CAS id read, so a copy rewritten since — even with the
// same owner token — is left alone, and one read by nobody (its node was
// out) is read before it is removed.
func TestLockAndGet(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	if _, err := c.SetReplicated(ctx, item("record", "sealed")); err != nil {
		t.Fatal(err)
	}
	lockKey := "record:lock"
	a, b := c.Placement(lockKey)
	l, cps, err := c.LockAndGet(ctx, lockKey, []byte("owner-1"), 10*time.Second, []string{"record", "absent"})
	switch {
	case err != nil:
		t.Fatal(err)
	case len(cps) != 2 || cps[0].Item() == nil || string(cps[0].Item().Value) != "sealed" || cps[1].Item() != nil || cps[1].Answered() != 2:
		t.Fatalf("reads under the lock: %+v", cps)
	case rawValue(t, a, lockKey) != "owner-1" || rawValue(t, b, lockKey) != "owner-1":
		t.Fatal("the lock is not on both copies")
	}
	if l2, cps, err := c.LockAndGet(ctx, lockKey, []byte("owner-2"), 10*time.Second, []string{"record"}); !errors.Is(err, memcached.ErrLocked) || l2 != nil || cps != nil {
		t.Fatalf("contender: %v, %v, %+v; want ErrLocked only", l2, err, cps)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if rawValue(t, a, lockKey) != "" || rawValue(t, b, lockKey) != "" {
		t.Fatal("Unlock left a copy")
	}

	l, _, err = c.LockAndGet(ctx, lockKey, []byte("owner-3"), 10*time.Second, []string{"record"})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw(b).Set(item(lockKey, "owner-3")); err != nil { // same owner, new CAS id
		t.Fatal(err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if rawValue(t, a, lockKey) != "" || rawValue(t, b, lockKey) != "owner-3" {
		t.Fatalf("after Unlock: %q on the own node, %q on the rewritten one; want only the rewritten copy", rawValue(t, a, lockKey), rawValue(t, b, lockKey))
	}
	if err := raw(b).Delete(lockKey); err != nil {
		t.Fatal(err)
	}

	// The lock's own node hung: the lock is taken on the other copy, the
	// record read there; the missing copy is added when the node rejoins,
	// and Unlock, which could not read it, reads it and removes it.
	servers.Server(a).Pause()
	if _, err := c.Get(ctx, keyOn(t, c, a, 0)); err == nil || up(c, a) {
		t.Fatalf("Get on the hung node: %v", err)
	}
	l, cps, err = c.LockAndGet(ctx, lockKey, []byte("owner-4"), 30*time.Second, []string{"record"})
	if err != nil || cps[0].Item() == nil {
		t.Fatalf("LockAndGet with one node hung: %v, %+v", err, cps)
	}
	servers.Server(a).Resume()
	waitFor(t, "the node to rejoin", func() bool { return up(c, a) })
	if rawValue(t, a, lockKey) != "owner-4" {
		t.Fatal("the missing copy was not added on the rejoin")
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if rawValue(t, a, lockKey) != "" || rawValue(t, b, lockKey) != "" {
		t.Fatal("Unlock left a copy")
	}
}
