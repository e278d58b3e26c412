package memcached

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// GetMulti reads keys as GetReplicated reads one — each from both of its
// nodes, skipping a node that is out — in one round trip per node: the
// keys are grouped by node, each node that is up gets one "gets k1 k2 …",
// and the nodes are asked at once. It returns one Copies per key, in the
// order of keys, and fails only when no node answered for any key; a key
// none of whose nodes answered has both Errs set. Its items carry their
// CAS ids. The last node is read in the caller's goroutine, over
// connections of the node's own (see conns), so that reading one node
// starts no goroutine.
//
// Reading both copies costs no round trip more than reading one: the
// nodes are asked at once, and a node holding either copy of any key is
// asked anyway. So a copy lost with a restart (which no replay restores)
// is still found on the other node.
func (c *Cluster) GetMulti(ctx context.Context, keys []string) ([]Copies, error) {
	cps := make([]Copies, len(keys))
	var batches []*batch[string]
	for k, key := range keys {
		for i, n := range c.copies(key, &cps[k]) {
			switch {
			case n == nil:
				continue
			case n.b.isOpen():
				cps[k].Errs[i] = outErr("get", n)
				continue
			}
			batches = addToBatch(batches, n, key, slot{k, i}, len(keys))
		}
	}
	fetch := func(b *batch[string]) {
		var items []*memcache.Item
		var found int
		err := c.do(ctx, b.n, "get", false, func(*memcache.Client) (err error) {
			items, err = b.n.multi.getMulti(b.elems)
			for _, it := range items {
				if it != nil {
					found++
				}
			}
			return err
		}, &found)
		for j, s := range b.slots {
			if err != nil {
				cps[s.elem].Errs[s.copy] = err
				continue
			}
			cps[s.elem].Items[s.copy] = items[j]
		}
	}
	sendAll(batches, fetch)
	for _, cp := range cps {
		if cp.Answered() > 0 {
			return cps, nil
		}
	}
	if len(keys) == 0 {
		return cps, nil
	}
	return cps, fmt.Errorf("memcached: get: no node answered for %d keys", len(keys))
}

// maxCASTries bounds the read-then-write rounds of SetReplicatedIf on one
// node: each lost round means another writer changed the key meanwhile.
const maxCASTries = 8

// errContended is SetReplicatedIf's failure on a node where every round
// lost to another writer.
var errContended = errors.New("memcached: the key kept changing under a conditional write")

// SetReplicatedIf stores item on both of its key's nodes, each copy only
// where replace approves of what the node holds: on each node it reads the
// key with gets and, if it is absent, adds item, or if replace(current)
// is true, compare-and-swaps item over it; a write that loses to another
// writer (the add finds a key, the compare-and-swap a change) reads
// again. So a copy never goes back over a newer value another writer put
// there, such as a revocation mark with a later time. replace must be
// quick and safe for concurrent use. As with SetReplicated, it succeeds
// when one node answered, and a node that was out gets the conditional
// write when it rejoins.
func (c *Cluster) SetReplicatedIf(ctx context.Context, item *memcache.Item, replace func(current *memcache.Item) bool) (Copies, error) {
	until, ok := deadline(item.Expiration, time.Now())
	var cp Copies
	nodes := c.replicate(ctx, "set", item.Key, &cp, func(i int, n *node) {
		cp.Errs[i] = c.setIf(ctx, n, item, replace)
	})
	if ok {
		c.hintMissed(nodes, &cp, hint{op: hintSetIf, key: item.Key, value: item.Value, flags: item.Flags, until: until, replace: replace})
	}
	return cp, cp.err("set")
}

// setIf is SetReplicatedIf on one node.
func (c *Cluster) setIf(ctx context.Context, n *node, item *memcache.Item, replace func(*memcache.Item) bool) error {
	for range maxCASTries {
		var cur *memcache.Item
		err := c.do(ctx, n, "get", false, func(mc *memcache.Client) (err error) {
			cur, err = mc.Get(item.Key)
			return err
		})
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			err = c.do(ctx, n, "add", true, func(mc *memcache.Client) error { return mc.Add(item) })
			if errors.Is(err, memcache.ErrNotStored) {
				continue // added by another writer meanwhile
			}
			return err
		case err != nil:
			return err
		case !replace(cur):
			return nil
		}
		// cur carries the CAS id of the gets: write item's content over it.
		cur.Value, cur.Flags, cur.Expiration = item.Value, item.Flags, item.Expiration
		err = c.do(ctx, n, "cas", true, func(mc *memcache.Client) error { return mc.CompareAndSwap(cur) })
		if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrCacheMiss) {
			continue // changed or removed meanwhile
		}
		return err
	}
	return fmt.Errorf("memcached: set %s: %w", n.addr, errContended)
}
