package connections

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/metrics"
)

// instruments are the Service's Prometheus collectors, with fixed label
// sets (never a subject or a party's name).
type instruments struct {
	connects, refreshes *prometheus.CounterVec
	rejected, unrevoked prometheus.Counter
}

func newInstruments(reg prometheus.Registerer) *instruments {
	m := &instruments{
		connects: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_connections_connects_total",
			Help: "Completed connection attempts by outcome (ok, denied, invalid_state, refused, unavailable).",
		}, []string{"outcome"})),
		refreshes: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_connections_refreshes_total",
			Help: "Refresh-token grants sent to parties, by outcome (ok, invalid_grant, unavailable).",
		}, []string{"outcome"})),
		rejected: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authgate_connections_rejected_records_total",
			Help: "Stored or cached records that did not open (tampered, moved, unknown key).",
		})),
		unrevoked: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authgate_connections_unrevoked_total",
			Help: "Refresh tokens forgotten without being revoked at the party (it could not be reached).",
		})),
	}
	for _, o := range []string{"ok", "denied", "invalid_state", "refused", "unavailable"} {
		m.connects.WithLabelValues(o)
	}
	for _, o := range []string{"ok", "invalid_grant", "unavailable"} {
		m.refreshes.WithLabelValues(o)
	}
	return m
}
