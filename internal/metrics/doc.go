// Package metrics registers authgate's Prometheus collectors on the
// [prometheus.Registerer] a user passes, so that several instances of a
// component can share one registry.
//
// A component builds its collectors and passes each through [Register]:
//
//	hits := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
//		Name: "authgate_cache_hits_total", Help: "…",
//	}, []string{"tier"}))
//
// With a nil Registerer nothing is registered and the collectors still
// count, which is what the components' defaults want. A second instance on
// the same registry gets the first instance's collector back, so both count
// into one series.
package metrics
