package memcached

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrLocked is returned by [Cluster.Lock] and [Cluster.Lease] when another
// owner holds the lock.
var ErrLocked = errors.New("memcached: locked by another owner")

// Copies is what a replicated call did on each of its key's two nodes:
// index 0 is the key's own node, 1 the next distinct node on the
// continuum. In a cluster of one node there is one copy and Addrs[1] is
// "".
type Copies struct {
	// Addrs are the two nodes' addresses.
	Addrs [2]string
	// Items are the copies found by GetReplicated; nil where the key is
	// absent or the node could not be read.
	Items [2]*memcache.Item
	// Errs are nil where the node answered (for a read, a miss is an
	// answer; for a delete, so is an absent key), and the error where it
	// failed or was out.
	Errs [2]error
}

// Item returns the copy found on the key's own node, else the other one;
// nil when neither node had the key.
func (c Copies) Item() *memcache.Item {
	if c.Items[0] != nil {
		return c.Items[0]
	}
	return c.Items[1]
}

// Answered returns how many nodes answered: copies read or written.
func (c Copies) Answered() int {
	n := 0
	for i, a := range c.Addrs {
		if a != "" && c.Errs[i] == nil {
			n++
		}
	}
	return n
}

// err is a replicated call's error: nil when some node answered.
func (c Copies) err(op string) error {
	if c.Answered() > 0 {
		return nil
	}
	return fmt.Errorf("memcached: %s: no copy answered: %w", op, errors.Join(c.Errs[0], c.Errs[1]))
}

// GetReplicated reads key from both of its nodes at once (skipping a node
// that is out) and returns what each had. It fails only when neither
// answered. A copy can be missing on one node (it restarted, or missed a
// write while out); the caller decides what two answers mean, e.g. a
// revocation mark found on either node stands.
func (c *Cluster) GetReplicated(ctx context.Context, key string) (Copies, error) {
	var cp Copies
	c.replicate(ctx, "get", key, &cp, func(i int, n *node) {
		cp.Errs[i] = c.do(ctx, n, "get", false, func(mc *memcache.Client) (err error) {
			cp.Items[i], err = mc.Get(key)
			return err
		})
		cp.Errs[i] = ignoreMiss(cp.Errs[i])
	})
	return cp, cp.err("get")
}

// SetReplicated stores item on both of its key's nodes at once. It
// succeeds when one copy was written; a copy that missed a node because it
// was out, or failed and took it out, is replayed to it when it rejoins.
// When neither copy was written it fails, and nothing is replayed.
func (c *Cluster) SetReplicated(ctx context.Context, item *memcache.Item) (Copies, error) {
	until, ok := deadline(item.Expiration, time.Now())
	var cp Copies
	nodes := c.replicate(ctx, "set", item.Key, &cp, func(i int, n *node) {
		cp.Errs[i] = c.do(ctx, n, "set", true, func(mc *memcache.Client) error { return mc.Set(item) })
	})
	if ok {
		c.hintMissed(nodes, &cp, hint{op: hintSet, key: item.Key, value: item.Value, flags: item.Flags, until: until})
	}
	return cp, cp.err("set")
}

// DeleteReplicated removes key from both of its nodes at once, as
// SetReplicated writes. An absent copy is not an error.
func (c *Cluster) DeleteReplicated(ctx context.Context, key string) (Copies, error) {
	var cp Copies
	nodes := c.replicate(ctx, "delete", key, &cp, func(i int, n *node) {
		cp.Errs[i] = ignoreMiss(c.do(ctx, n, "delete", true, func(mc *memcache.Client) error { return mc.Delete(key) }))
	})
	c.hintMissed(nodes, &cp, hint{op: hintDelete, key: key})
	return cp, cp.err("delete")
}

// replicate runs call for each of key's nodes that is up, the second in a
// goroutine of its own, marks the nodes that are out in cp, and returns
// the nodes. When both are out it first waits for a probe in flight
// (awaitProbes).
func (c *Cluster) replicate(ctx context.Context, op, key string, cp *Copies, call func(i int, n *node)) [2]*node {
	nodes := c.copies(key, cp)
	if allOut(nodes) {
		c.awaitProbes(ctx, nodes)
	}
	var up [2]bool
	for i, n := range nodes {
		if n == nil {
			continue
		}
		if up[i] = !n.b.isOpen(); !up[i] {
			cp.Errs[i] = outErr(op, n)
		}
	}
	var wg sync.WaitGroup
	if up[1] {
		if up[0] {
			wg.Go(func() { call(1, nodes[1]) })
		} else {
			call(1, nodes[1])
		}
	}
	if up[0] {
		call(0, nodes[0])
	}
	wg.Wait()
	return nodes
}

// allOut reports whether every one of nodes is out.
func allOut(nodes [2]*node) bool {
	return nodes[0].b.isOpen() && (nodes[1] == nil || nodes[1].b.isOpen())
}

// copies returns key's two nodes and fills cp's addresses.
func (c *Cluster) copies(key string, cp *Copies) [2]*node {
	a, b := c.pair(key)
	cp.Addrs[0] = a.addr
	if b != nil {
		cp.Addrs[1] = b.addr
	}
	return [2]*node{a, b}
}

// hintMissed queues h for each of nodes whose copy was not written,
// provided the other copy was.
func (c *Cluster) hintMissed(nodes [2]*node, cp *Copies, h hint) {
	if cp.Answered() == 0 {
		return
	}
	for i, n := range nodes {
		if n != nil && cp.Errs[i] != nil {
			c.queue(n, h)
		}
	}
}

// Lock is a lock taken with [Cluster.Lock] or [Cluster.Lease]. Its value in
// memcached is a random owner token, so only its owner removes it.
type Lock struct {
	c          *Cluster
	key        string
	owner      []byte
	until      time.Time
	nodes      [2]*node // where it was taken; nodes[1] nil for a lease
	replicated bool
	// read are the copies LockAndGet read once the lock was held, where
	// they hold its owner: their CAS ids let Unlock remove them unread.
	read [2]*memcache.Item
	// released are the copies SetAndUnlock released with its writes.
	released [2]bool
}

// Lock takes the lock named key for ttl, on both of its nodes, with add:
// first on the key's own node, which decides between contenders, then on
// the other. A node that is out, or fails, is skipped: the lock is held if
// one copy was added and no node answered that someone else holds it; the
// missing copy is added when its node rejoins. It returns ErrLocked when
// another owner holds the lock (its own copies are then removed), and an
// error when no node could be asked. Two contenders can both win only when
// each sees a different one of the two nodes out at the same moment.
func (c *Cluster) Lock(ctx context.Context, key string, ttl time.Duration) (*Lock, error) {
	return c.LockAs(ctx, key, []byte(rand.Text()), ttl)
}

// LockAs is Lock with the owner token given by the caller, for callers that
// keep the token rather than the *Lock (see UnlockAs).
func (c *Cluster) LockAs(ctx context.Context, key string, owner []byte, ttl time.Duration) (*Lock, error) {
	l, exp, err := c.newLock(key, owner, ttl)
	if err != nil {
		return nil, err
	}
	l.replicated = true
	var cp Copies
	l.nodes = c.copies(key, &cp)
	if allOut(l.nodes) {
		c.awaitProbes(ctx, l.nodes)
	}
	it := &memcache.Item{Key: key, Value: l.owner, Expiration: exp}
	// tried: the add was sent and not refused, so a copy may be there
	// even where the call failed.
	var tried [2]bool
	for i, n := range l.nodes {
		switch {
		case n == nil:
			continue
		case n.b.isOpen():
			cp.Errs[i] = outErr("add", n)
			continue
		}
		cp.Errs[i] = c.do(ctx, n, "add", true, func(mc *memcache.Client) error { return mc.Add(it) })
		if errors.Is(cp.Errs[i], memcache.ErrNotStored) {
			_ = l.unlock(context.WithoutCancel(ctx), tried)
			return nil, ErrLocked
		}
		tried[i] = !errors.Is(cp.Errs[i], context.Canceled) && !errors.Is(cp.Errs[i], context.DeadlineExceeded)
	}
	if cp.Answered() == 0 {
		_ = l.unlock(context.WithoutCancel(ctx), tried)
		return nil, cp.err("add")
	}
	for i, n := range l.nodes {
		if n != nil && cp.Errs[i] != nil {
			c.queue(n, hint{op: hintAdd, key: key, value: l.owner, until: l.until})
		}
	}
	return l, nil
}

// LockAndGet is LockAs followed by GetMulti of keys, with the lock's own
// copies read in the same round trip: once the lock is held, one gets per
// node reads keys and the lock, nodes at once. The reads are sent after
// the lock was taken, so they see every write its previous owner made
// before releasing it. The *Lock keeps the copies it read, whose CAS ids
// let its Unlock remove each with one compare-and-swap, without reading it
// again (a copy it could not read is read first, as by UnlockAs).
//
// It returns ErrLocked, or LockAs's error, with no *Lock when the lock was
// not taken. When it was but a key could be read from neither of its
// nodes, it returns the *Lock, which the caller must release, with the
// error; the Copies then say which keys were read.
func (c *Cluster) LockAndGet(ctx context.Context, key string, owner []byte, ttl time.Duration, keys []string) (*Lock, []Copies, error) {
	l, err := c.LockAs(ctx, key, owner, ttl)
	if err != nil {
		return nil, nil, err
	}
	cps, err := c.GetMulti(ctx, append(keys[:len(keys):len(keys)], key))
	lock := cps[len(keys)]
	for i, it := range lock.Items {
		if it != nil && bytes.Equal(it.Value, owner) {
			l.read[i] = it
		}
	}
	cps = cps[:len(keys)]
	for k := range cps {
		if err == nil && cps[k].Answered() == 0 {
			err = cps[k].err("get")
		}
	}
	return l, cps, err
}

// Lease takes a short lock on key's single copy, with add, on the key's
// node or the gutter while that is out (capped to GutterTTL): it elects one
// caller among those asking at once, not across a node's loss. It returns
// ErrLocked when someone else holds it.
func (c *Cluster) Lease(ctx context.Context, key string, ttl time.Duration) (*Lock, error) {
	l, exp, err := c.newLock(key, []byte(rand.Text()), ttl)
	if err != nil {
		return nil, err
	}
	n, gutter, err := c.route("add", key)
	if err != nil {
		return nil, err
	}
	if gutter {
		exp = capExpiration(exp, c.cfg.GutterTTL, time.Now())
	}
	it := &memcache.Item{Key: key, Value: l.owner, Expiration: exp}
	err = c.do(ctx, n, "add", true, func(mc *memcache.Client) error { return mc.Add(it) })
	switch {
	case errors.Is(err, memcache.ErrNotStored):
		return nil, ErrLocked
	case err != nil:
		return nil, err
	}
	l.nodes[0] = n
	return l, nil
}

func (c *Cluster) newLock(key string, owner []byte, ttl time.Duration) (*Lock, int32, error) {
	now := time.Now()
	exp, ok := Expiration(ttl, now)
	switch {
	case !ok:
		return nil, 0, errors.New("memcached: a lock's TTL must be positive")
	case len(owner) == 0:
		return nil, 0, errors.New("memcached: a lock needs an owner token")
	}
	return &Lock{c: c, key: key, owner: owner, until: now.Add(ttl)}, exp, nil
}

// UnlockAs removes the lock that LockAs took on key for owner, from both
// of the key's nodes, as Lock.Unlock does.
func (c *Cluster) UnlockAs(ctx context.Context, key string, owner []byte) error {
	l := &Lock{c: c, key: key, owner: owner, replicated: true}
	var cp Copies
	l.nodes = c.copies(key, &cp)
	return l.Unlock(ctx)
}

// Unlock removes the lock where this owner still holds it, last from the
// key's own node; a copy taken over by someone else after it expired is
// left alone. A copy of a Lock on a node that is out is removed when the
// node rejoins (it expires anyway). It returns an error when a copy could
// be neither removed nor queued; the lock then lasts until its TTL.
func (l *Lock) Unlock(ctx context.Context) error {
	return l.unlock(ctx, [2]bool{l.nodes[0] != nil, l.nodes[1] != nil})
}

// unlock removes the lock from the nodes picked by on.
func (l *Lock) unlock(ctx context.Context, on [2]bool) error {
	var errs []error
	for i := len(l.nodes) - 1; i >= 0; i-- {
		n := l.nodes[i]
		if !on[i] {
			continue
		}
		err := outErr("cas", n)
		switch {
		case n.b.isOpen():
		case l.read[i] != nil:
			err = l.c.expire(ctx, n, l.read[i])
		default:
			err = l.c.release(ctx, n, l.key, l.owner)
		}
		if err != nil && !(l.replicated && l.c.queue(n, hint{op: hintUnlock, key: l.key, value: l.owner})) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
