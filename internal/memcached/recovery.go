package memcached

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// hint is a replicated write that missed a node which was out, kept to be
// replayed when it rejoins (hinted handoff).
type hint struct {
	op    hintOp
	key   string
	value []byte // set, add: the value; unlock: the owner
	flags uint32
	until time.Time // when the item expires; zero for never
	// replace is a conditional set's test of the copy it would replace
	// (see Cluster.SetReplicatedIf).
	replace func(current *memcache.Item) bool
}

type hintOp uint8

const (
	hintSet hintOp = iota
	hintAdd
	hintSetIf
	hintDelete
	hintUnlock
)

// queue keeps h for replay to n, and reports whether it did: only while n
// is out, since only a rejoin replays. Past MaxHints the oldest hint is
// dropped and n is marked to be emptied before it rejoins.
func (c *Cluster) queue(n *node, h hint) bool {
	n.mu.Lock()
	if !n.b.isOpen() {
		n.mu.Unlock()
		return false
	}
	firstLoss := false
	if len(n.hints) >= c.cfg.MaxHints {
		n.hints = n.hints[1:]
		firstLoss, n.lost = !n.lost, true
	}
	n.hints = append(n.hints, h)
	n.mu.Unlock()
	if firstLoss && c.cfg.OnHintsLost != nil {
		c.cfg.OnHintsLost(n.addr)
	}
	return true
}

// nodeDown reports that n was taken out for cause and starts its probe.
// A first probe that runs at once counts as in flight from here on, for
// the calls that wait for it (see awaitProbes).
func (c *Cluster) nodeDown(n *node, cause error) {
	if c.cfg.OnNodeDown != nil {
		c.cfg.OnNodeDown(n.addr, cause)
	}
	n.mu.Lock()
	first := firstProbe(n.rejoined, time.Now(), c.cfg.BreakerCooldown)
	if first == 0 {
		n.probing = make(chan struct{})
	}
	n.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		endProbe(n)
		return
	}
	c.wg.Go(func() { c.recover(n, first) })
}

// recover probes n until it rejoins or the Cluster closes: after first,
// then every cooldown. The probe runs in the background, so no request
// waits for a node that is out (but see awaitProbes).
func (c *Cluster) recover(n *node, first time.Duration) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			endProbe(n)
			return
		case <-t.C:
		}
		if c.probe(n) {
			return
		}
		t.Reset(c.cfg.BreakerCooldown)
	}
}

// probe runs one rejoin of n, with n.probing set meanwhile.
func (c *Cluster) probe(n *node) bool {
	n.mu.Lock()
	if n.probing == nil {
		n.probing = make(chan struct{})
	}
	n.mu.Unlock()
	defer endProbe(n)
	return c.rejoin(n)
}

// endProbe tells the calls waiting for n's probe that it has ended.
func endProbe(n *node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.probing != nil {
		close(n.probing)
		n.probing = nil
	}
}

// awaitProbes is for a replicated call that finds every node of its key
// out: it waits, for at most ReadTimeout + WriteTimeout (a probe and the
// start of a replay) or until ctx ends, for a probe in flight on one of
// them to put its node back. A node taken out by this process's own stall
// (a timeout when every call timed out together) is probed at once and
// back within a round trip: a session's refresh or a logout waits that
// long rather than fail. A node that is really out costs the calls that
// meet its probe at most that wait.
func (c *Cluster) awaitProbes(ctx context.Context, nodes [2]*node) {
	var probes []chan struct{}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		n.mu.Lock()
		if n.probing != nil {
			probes = append(probes, n.probing)
		}
		n.mu.Unlock()
	}
	if len(probes) == 0 {
		return
	}
	t := time.NewTimer(c.cfg.ReadTimeout + c.cfg.WriteTimeout)
	defer t.Stop()
	for _, p := range probes {
		select {
		case <-p:
		case <-ctx.Done():
			return
		case <-t.C:
			return
		}
		if !allOut(nodes) {
			return
		}
	}
}

// firstProbe is how long after a node is taken out it is first probed,
// given when it last rejoined. A node that had served for a cooldown is
// probed at once: the timeout that took it out may have been this
// process's own stall (a GC pause, CPU throttling), not the node's, and a
// healthy node should not stay out a whole cooldown for it. A node taken
// out again within a cooldown of rejoining waits the cooldown, so that a
// node that answers probes but fails calls costs requests at most one
// timeout per cooldown.
func firstProbe(rejoined, now time.Time, cooldown time.Duration) time.Duration {
	if !rejoined.IsZero() && now.Sub(rejoined) < cooldown {
		return cooldown
	}
	return 0
}

// rejoin probes n with "version"; if it answers, empties it when hints were
// lost, replays the hints, and puts it back in service. It reports whether
// n is back.
func (c *Cluster) rejoin(n *node) bool {
	// The idle connections were opened before the node went out: to a
	// process that may have been killed since (a restarted node listens on
	// the same address), on which each call, probe and replay would fail in
	// turn, one connection per cooldown. Probe and replay on fresh ones.
	_ = n.read.Close()
	_ = n.write.Close()
	_ = n.multi.dropIdle()
	_ = n.pipes.dropIdle()
	ctx := context.Background()
	if err := c.do(ctx, n, "version", false, (*memcache.Client).Ping); err != nil {
		return false
	}
	replayed := 0
	for {
		n.mu.Lock()
		batch, lost := n.hints, n.lost
		if len(batch) == 0 && !lost {
			// Closing under n.mu: from here on queue refuses hints and
			// callers write to n itself, so no hint is left behind. The
			// rejoin is reported before the breaker closes, so that the
			// next outage cannot be reported before it.
			if c.cfg.OnNodeUp != nil {
				c.cfg.OnNodeUp(n.addr, replayed)
			}
			n.rejoined = time.Now()
			n.b.close()
			n.mu.Unlock()
			return true
		}
		n.hints, n.lost = nil, false
		n.mu.Unlock()

		rest, applied, err := c.replay(ctx, n, batch, lost)
		replayed += applied
		if err != nil {
			n.mu.Lock()
			if lost {
				n.lost = true // the flush failed: still to do
			}
			rest = append(rest[:len(rest):len(rest)], n.hints...)
			if over := len(rest) - c.cfg.MaxHints; over > 0 {
				rest, n.lost = rest[over:], true
			}
			n.hints = rest
			n.mu.Unlock()
			return false
		}
	}
}

// replay empties n if flush, then applies hints to it in order, skipping
// those that have expired. It returns how many it applied and, when a call
// failed, the hints not yet applied.
func (c *Cluster) replay(ctx context.Context, n *node, hints []hint, flush bool) (rest []hint, applied int, err error) {
	if flush {
		if err := c.do(ctx, n, "flush_all", true, (*memcache.Client).DeleteAll); err != nil {
			return hints, 0, err
		}
	}
	now := time.Now()
	for i, h := range hints {
		switch h.op {
		case hintDelete:
			err = c.do(ctx, n, "delete", true, func(mc *memcache.Client) error { return mc.Delete(h.key) })
		case hintUnlock:
			err = c.release(ctx, n, h.key, h.value)
		default:
			exp, ok := expirationAt(h.until, now)
			if !ok {
				continue // expired meanwhile
			}
			it := &memcache.Item{Key: h.key, Value: h.value, Flags: h.flags, Expiration: exp}
			switch h.op {
			case hintSet:
				err = c.do(ctx, n, "set", true, func(mc *memcache.Client) error { return mc.Set(it) })
			case hintSetIf:
				err = c.setIf(ctx, n, it, h.replace)
			default:
				err = c.do(ctx, n, "add", true, func(mc *memcache.Client) error { return mc.Add(it) })
			}
		}
		if isFailure(err) {
			return hints[i:], applied, err
		}
		applied++
	}
	return nil, applied, nil
}

// expirationAt is the memcached expiration of an item that expires at
// until (zero for never), as of now; ok is false once it has expired.
func expirationAt(until, now time.Time) (int32, bool) {
	if until.IsZero() {
		return 0, true
	}
	return Expiration(until.Sub(now), time.Now())
}

// release removes the lock key from n if owner holds it: gets, then a
// compare-and-swap with exptime -1, so that a lock taken over by someone
// else meanwhile is left alone. memcached stores the item as already
// expired: the key reads as absent and add succeeds on it
// (TestReleaseByCAS). A key absent or held by someone else is not an
// error.
func (c *Cluster) release(ctx context.Context, n *node, key string, owner []byte) error {
	var it *memcache.Item
	err := c.do(ctx, n, "get", false, func(mc *memcache.Client) (err error) {
		it, err = mc.Get(key)
		return err
	})
	if err != nil || !bytes.Equal(it.Value, owner) {
		return ignoreMiss(err)
	}
	return c.expire(ctx, n, it)
}

// expire removes from n the item read as it, unless it has changed since
// (its CAS id no longer matches): a compare-and-swap to an item with
// exptime -1. It does not change it. A key absent or changed is not an
// error.
func (c *Cluster) expire(ctx context.Context, n *node, it *memcache.Item) error {
	gone := *it
	gone.Value, gone.Expiration = nil, -1
	err := c.do(ctx, n, "cas", true, func(mc *memcache.Client) error { return mc.CompareAndSwap(&gone) })
	if errors.Is(err, memcache.ErrCASConflict) {
		return nil
	}
	return ignoreMiss(err)
}
