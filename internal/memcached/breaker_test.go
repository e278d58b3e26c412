package memcached

import (
	"testing"
	"time"
)

// TestBreakerTransitions walks the breaker's states (the Cluster's use of
// it, with real memcached nodes, is in cluster_test.go).
func TestBreakerTransitions(t *testing.T) {
	type step struct {
		op string // "ok", "fail" (record), "trip" or "close"
		// opened: what record or trip must report; open: isOpen afterwards.
		opened, open bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"successes", []step{{"ok", false, false}, {"ok", false, false}}},
		{"failures below the threshold", []step{{"fail", false, false}, {"fail", false, false}, {"ok", false, false}, {"fail", false, false}, {"fail", false, false}}},
		{"opens at the threshold, once", []step{{"fail", false, false}, {"fail", false, false}, {"fail", true, true}, {"fail", false, true}, {"ok", false, true}}},
		{"a trip opens at once, once", []step{{"trip", true, true}, {"trip", false, true}, {"fail", false, true}}},
		{"close forgets the count", []step{
			{"fail", false, false}, {"fail", false, false}, {"fail", true, true},
			{"close", false, false},
			{"fail", false, false}, {"fail", false, false}, {"fail", true, true},
		}},
		{"a failure counted while open does not carry over", []step{
			{"trip", true, true}, {"fail", false, true}, {"fail", false, true},
			{"close", false, false}, {"fail", false, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &breaker{threshold: 3}
			for i, s := range tc.steps {
				var opened bool
				switch s.op {
				case "ok":
					opened = b.record(false)
				case "fail":
					opened = b.record(true)
				case "trip":
					opened = b.trip()
				case "close":
					b.close()
				}
				if opened != s.opened || b.isOpen() != s.open {
					t.Fatalf("step %d (%s): opened %v, open %v; want %v, %v", i, s.op, opened, b.isOpen(), s.opened, s.open)
				}
			}
		})
	}
}

// TestFirstProbe: a node is probed at once after it is taken out, unless
// it rejoined less than a cooldown ago.
func TestFirstProbe(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const cooldown = 2 * time.Second
	for _, tc := range []struct {
		name     string
		rejoined time.Time
		want     time.Duration
	}{
		{"never out before", time.Time{}, 0},
		{"rejoined long ago", now.Add(-time.Hour), 0},
		{"rejoined a cooldown ago", now.Add(-cooldown), 0},
		{"rejoined just under a cooldown ago", now.Add(-cooldown + time.Nanosecond), cooldown},
		{"rejoined just now", now, cooldown},
	} {
		if got := firstProbe(tc.rejoined, now, cooldown); got != tc.want {
			t.Errorf("%s: firstProbe = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// BenchmarkBreaker is the breaker's cost on every call to a node that is
// in: the check before the call, the record after it.
func BenchmarkBreaker(b *testing.B) {
	br := &breaker{threshold: 5}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if br.isOpen() {
				b.Fatal("open")
			}
			br.record(false)
		}
	})
}
