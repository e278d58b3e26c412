package refresh

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/metrics"
)

// instruments are the service's Prometheus collectors. Their labels take
// values from small fixed sets (opNames, callNames, outcomeNames), and
// every series is created up front.
type instruments struct {
	requests                       [numOps][numOutcomes]prometheus.Counter
	calls                          [numCalls][numOutcomes]prometheus.Counter
	duplicates, rejected, unstored prometheus.Counter
}

func newInstruments(reg prometheus.Registerer) *instruments {
	requests := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_refresh_requests_total",
		Help: "Logins, code exchanges, refreshes and logouts by outcome: ok, login_required (401), reuse (401), " +
			"denied (403), invalid_request (400), misconfigured (502), rate_limited (429), " +
			"provider_unavailable (503), store_unavailable (503), canceled (the caller left first).",
	}, []string{"op", "outcome"}))
	calls := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_refresh_provider_calls_total",
		Help: "Calls to the provider (password, authorization_code, refresh_token grants; revocation) by outcome.",
	}, []string{"call", "outcome"}))
	counter := func(name, help string) prometheus.Counter {
		return metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
	}
	m := &instruments{
		duplicates: counter("authgate_refresh_duplicates_total", "Refreshes answered with the result of a concurrent refresh of the same token, within the grace window."),
		rejected:   counter("authgate_refresh_rejected_records_total", "Stored records that did not open (tampered, moved, unknown key)."),
		unstored:   counter("authgate_refresh_unstored_total", "New refresh tokens the store refused: the client kept its access token, the refresh token was revoked."),
	}
	for o := range numOutcomes {
		for op := range numOps {
			m.requests[op][o] = requests.WithLabelValues(opNames[op], outcomeNames[o])
		}
		for c := range numCalls {
			m.calls[c][o] = calls.WithLabelValues(callNames[c], outcomeNames[o])
		}
	}
	return m
}

// call counts a call to the provider that ended with err.
func (m *instruments) call(c call, err error) { m.calls[c][outcomeOf(context.Background(), err)].Inc() }
