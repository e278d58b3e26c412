package memcached

import (
	"sync/atomic"
	"time"
)

// breaker stops calls to memcached after threshold consecutive failures for
// cooldown, then lets one probe call through: its success closes the
// breaker, its failure opens it for another cooldown. The closed path is
// two atomic loads.
type breaker struct {
	threshold int32
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(open bool)

	failures  atomic.Int32
	openUntil atomic.Int64 // Unix nanoseconds; 0 when closed
	probing   atomic.Bool  // a probe call is in flight
}

func newBreaker(cfg Config) *breaker {
	return &breaker{threshold: int32(cfg.BreakerThreshold), cooldown: cfg.BreakerCooldown, now: cfg.Now, onChange: cfg.OnBreakerChange}
}

func (b *breaker) isOpen() bool { return b.openUntil.Load() != 0 }

// allow reports whether a call may go ahead, and whether it is the probe.
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
	return false, false
}

func (b *breaker) record(probe, failed bool) {
	switch {
	case failed && probe:
		b.openUntil.Store(b.now().Add(b.cooldown).UnixNano())
		b.probing.Store(false)
	case failed:
		if b.failures.Add(1) >= b.threshold && b.openUntil.CompareAndSwap(0, b.now().Add(b.cooldown).UnixNano()) {
			b.changed(true)
		}
	case probe:
		b.failures.Store(0)
		b.openUntil.Store(0)
		b.probing.Store(false)
		b.changed(false)
	case b.failures.Load() != 0:
		b.failures.Store(0)
	}
}

func (b *breaker) changed(open bool) {
	if b.onChange != nil {
		b.onChange(open)
	}
}
