package memcached

import (
	"math"
	"sync/atomic"
	"time"
)

// breaker stops calls to memcached after threshold consecutive failures for
// cooldown, then lets one probe call through: its success closes the
// breaker, its failure opens it for another cooldown. It takes no lock: the
// closed path is one atomic load before the call and one after.
type breaker struct {
	threshold int32
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(open bool) // may be nil

	failures  atomic.Int32 // consecutive failures while closed
	openUntil atomic.Int64 // Unix nanoseconds the cooldown ends; 0 while closed
	probing   atomic.Bool  // the one probe call is in flight
}

func newBreaker(cfg Config) *breaker {
	return &breaker{
		threshold: int32(min(cfg.BreakerThreshold, math.MaxInt32)),
		cooldown:  cfg.BreakerCooldown,
		now:       cfg.Now,
		onChange:  cfg.OnBreakerChange,
	}
}

// isOpen reports whether the breaker is open or half-open.
func (b *breaker) isOpen() bool { return b.openUntil.Load() != 0 }

// allow reports whether a call may go ahead (ok), and whether it is the
// probe that decides whether the breaker closes. A probe must be followed
// by record.
func (b *breaker) allow() (probe, ok bool) {
	until := b.openUntil.Load()
	switch {
	case until == 0:
		return false, true
	case b.now().UnixNano() < until:
		return false, false
	case b.probing.CompareAndSwap(false, true):
		return true, true
	}
	return false, false // another call is the probe
}

// record takes the outcome of a call that allow let through, and reports
// whether this outcome opened the breaker.
func (b *breaker) record(probe, failed bool) (opened bool) {
	switch {
	case probe && failed:
		b.openUntil.Store(b.openDeadline())
		b.probing.Store(false)
	case probe:
		b.failures.Store(0)
		// Report the closing while calls still fail fast, so that a new
		// opening cannot be reported before it.
		b.changed(false)
		b.openUntil.Store(0)
		b.probing.Store(false)
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
func (b *breaker) trip() (opened bool) {
	if !b.openUntil.CompareAndSwap(0, b.openDeadline()) {
		return false
	}
	b.changed(true)
	return true
}

// openDeadline is the end of a cooldown starting now, never 0 (which means
// closed).
func (b *breaker) openDeadline() int64 {
	if until := b.now().Add(b.cooldown).UnixNano(); until != 0 {
		return until
	}
	return 1
}

func (b *breaker) changed(open bool) {
	if b.onChange != nil {
		b.onChange(open)
	}
}
