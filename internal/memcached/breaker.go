package memcached

import "sync/atomic"

// breaker decides when a node of a Cluster is taken out: after threshold
// consecutive failures, or at once by trip. It takes no lock: a call on a
// node that is in costs one atomic load before it and one after. Putting
// the node back is not the breaker's decision but its probe's (see
// Cluster.rejoin), which calls close.
type breaker struct {
	threshold int32

	failures atomic.Int32 // consecutive failures while closed
	open     atomic.Bool  // the node is out
}

// isOpen reports whether the node is out.
func (b *breaker) isOpen() bool { return b.open.Load() }

// record takes the outcome of a call, and reports whether this outcome
// opened the breaker.
func (b *breaker) record(failed bool) (opened bool) {
	switch {
	case failed:
		if b.failures.Add(1) >= b.threshold {
			return b.trip()
		}
	case b.failures.Load() != 0:
		// A success between failures: they are no longer consecutive. (A
		// call that started before the breaker opened may land here while
		// it is open; that changes nothing but the count.)
		b.failures.Store(0)
	}
	return false
}

// trip opens the breaker unless it is open already, and reports whether it
// did.
func (b *breaker) trip() (opened bool) { return b.open.CompareAndSwap(false, true) }

// close puts the node back, with no failures counted.
func (b *breaker) close() {
	b.failures.Store(0)
	b.open.Store(false)
}
