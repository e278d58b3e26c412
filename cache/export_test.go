package cache

import "github.com/prometheus/client_golang/prometheus/testutil"

// Counts reads a Memcache's counters and gauge for the tests in
// package cache_test.
type Counts struct{ m *Memcache }

// CountsOf returns the counters of m.
func CountsOf(m *Memcache) Counts { return Counts{m} }

// Rejected returns authgate_cache_rejected_entries_total{reason}.
func (c Counts) Rejected(r string) float64 {
	for i := accepted + 1; i < numReasons; i++ {
		if i.String() == r {
			return testutil.ToFloat64(c.m.metrics.rejected[i])
		}
	}
	panic("no reason " + r)
}

// RejectedTotal returns the sum over all reasons.
func (c Counts) RejectedTotal() float64 {
	n := 0.0
	for i := accepted + 1; i < numReasons; i++ {
		n += testutil.ToFloat64(c.m.metrics.rejected[i])
	}
	return n
}

// Errors returns authgate_cache_memcache_errors_total{op}.
func (c Counts) Errors(op string) float64 {
	switch op {
	case "get":
		return testutil.ToFloat64(c.m.metrics.getErrs)
	case "set":
		return testutil.ToFloat64(c.m.metrics.setErrs)
	case "delete":
		return testutil.ToFloat64(c.m.metrics.delErrs)
	}
	panic("no op " + op)
}

// BreakerOpen returns authgate_cache_memcache_breaker_open.
func (c Counts) BreakerOpen() float64 { return testutil.ToFloat64(c.m.metrics.breakerOpen) }
