package memcached

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBreakerTransitions walks the breaker's states with a settable clock
// (memcached itself is exercised in memcached_test.go).
func TestBreakerTransitions(t *testing.T) {
	type step struct {
		advance time.Duration
		// allowed, probe: what allow must answer.
		allowed, probe bool
		// failed: the outcome recorded when allowed.
		failed bool
		// open: BreakerOpen afterwards.
		open bool
	}
	pass := func(failed, open bool) step { return step{allowed: true, failed: failed, open: open} }
	refused := step{open: true}
	for _, tc := range []struct {
		name  string
		steps []step
		// changes: the transitions reported, in order.
		changes []bool
	}{
		{"successes", []step{pass(false, false), pass(false, false)}, nil},
		{"failures below the threshold", []step{pass(true, false), pass(true, false), pass(false, false), pass(true, false), pass(true, false)}, nil},
		{"opens at the threshold", []step{pass(true, false), pass(true, false), pass(true, true), refused}, []bool{true}},
		{"good probe closes", []step{
			pass(true, false), pass(true, false), pass(true, true), refused,
			{advance: time.Second - 1, open: true},
			{advance: 1, allowed: true, probe: true, open: false},
			pass(true, false), // the count started again
		}, []bool{true, false}},
		{"bad probe opens for another cooldown", []step{
			pass(true, false), pass(true, false), pass(true, true),
			{advance: time.Second, allowed: true, probe: true, failed: true, open: true},
			refused,
			{advance: time.Second - 1, open: true},
			{advance: 1, allowed: true, probe: true, open: false},
		}, []bool{true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			var changes []bool
			b := newBreaker(Config{
				BreakerThreshold: 3,
				BreakerCooldown:  time.Second,
				Now:              func() time.Time { return now },
				OnBreakerChange:  func(open bool) { changes = append(changes, open) },
			})
			for i, s := range tc.steps {
				now = now.Add(s.advance)
				probe, ok := b.allow()
				if ok != s.allowed || probe != s.probe {
					t.Fatalf("step %d: allow = probe %v, ok %v; want %v, %v", i, probe, ok, s.probe, s.allowed)
				}
				if ok {
					b.record(probe, s.failed)
				}
				if b.isOpen() != s.open {
					t.Fatalf("step %d: open = %v, want %v", i, b.isOpen(), s.open)
				}
			}
			if len(changes) != len(tc.changes) {
				t.Fatalf("transitions %v, want %v", changes, tc.changes)
			}
			for i := range changes {
				if changes[i] != tc.changes[i] {
					t.Fatalf("transitions %v, want %v", changes, tc.changes)
				}
			}
		})
	}
}

// TestBreakerOneProbe: when the cooldown ends, exactly one of many
// concurrent calls is the probe and the others still fail fast.
func TestBreakerOneProbe(t *testing.T) {
	var now atomic.Int64
	b := newBreaker(Config{
		BreakerThreshold: 1,
		BreakerCooldown:  time.Second,
		Now:              func() time.Time { return time.Unix(0, now.Load()) },
	})
	now.Store(time.Unix(1_800_000_000, 0).UnixNano())
	for round := range 20 {
		if _, ok := b.allow(); !ok {
			t.Fatalf("round %d: closed breaker refused", round)
		}
		b.record(false, true) // opens it
		now.Add(int64(time.Second))
		var (
			wg              sync.WaitGroup
			probes, allowed atomic.Int32
			start           = make(chan struct{})
		)
		for range 16 {
			wg.Go(func() {
				<-start
				probe, ok := b.allow()
				if probe {
					probes.Add(1)
				}
				if ok {
					allowed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if probes.Load() != 1 || allowed.Load() != 1 {
			t.Fatalf("round %d: %d probes, %d calls allowed; want 1, 1", round, probes.Load(), allowed.Load())
		}
		b.record(true, false)
		if b.isOpen() {
			t.Fatalf("round %d: a good probe left the breaker open", round)
		}
	}
}

// BenchmarkClosedBreaker is the breaker's cost on every call while
// memcached is healthy.
func BenchmarkClosedBreaker(b *testing.B) {
	br := newBreaker(Config{BreakerThreshold: 5, BreakerCooldown: time.Second, Now: time.Now})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			probe, ok := br.allow()
			if !ok {
				b.Fatal("refused")
			}
			br.record(probe, false)
		}
	})
}
