package cache

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Counts reads the shared tier's series on a registry, for the tests in
// package cache_test.
type Counts struct{ reg *prometheus.Registry }

// CountsOf returns the counts registered on reg.
func CountsOf(reg *prometheus.Registry) Counts { return Counts{reg} }

func (c Counts) value(name string, labels ...string) float64 {
	families, err := c.reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for i, lp := range m.GetLabel() {
				if i*2+1 >= len(labels) || lp.GetName() != labels[i*2] || lp.GetValue() != labels[i*2+1] {
					continue metric
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// Rejected returns authgate_cache_rejected_entries_total{reason}.
func (c Counts) Rejected(r string) float64 {
	return c.value("authgate_cache_rejected_entries_total", "reason", r)
}

// RejectedTotal returns the sum over all reasons.
func (c Counts) RejectedTotal() float64 {
	n := 0.0
	for i := accepted + 1; i < numReasons; i++ {
		n += c.Rejected(i.String())
	}
	return n
}

// Errors returns authgate_cache_memcache_errors_total{op}.
func (c Counts) Errors(op string) float64 {
	return c.value("authgate_cache_memcache_errors_total", "op", op)
}

// NodeUp returns authgate_cache_memcache_node_up{node}.
func (c Counts) NodeUp(node string) float64 {
	return c.value("authgate_cache_memcache_node_up", "node", node)
}
