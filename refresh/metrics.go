package refresh

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/metrics"
)

// instruments are the service's Prometheus collectors, with fixed label sets.
type instruments struct {
	logins                                       *prometheus.CounterVec
	refreshOK, refreshReuse, refreshLogin        prometheus.Counter
	refreshUnavailable                           prometheus.Counter
	duplicates, providerCalls, rejected, logouts prometheus.Counter
	unstored                                     prometheus.Counter
}

func newInstruments(reg prometheus.Registerer) *instruments {
	logins := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_refresh_logins_total",
		Help: "Logins by outcome (ok, refused, unavailable).",
	}, []string{"outcome"}))
	refreshes := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_refresh_refreshes_total",
		Help: "Refresh requests by outcome (ok, reuse, login_required, unavailable).",
	}, []string{"outcome"}))
	counter := func(name, help string) prometheus.Counter {
		return metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
	}
	for _, o := range []string{"ok", "refused", "unavailable"} {
		logins.WithLabelValues(o)
	}
	return &instruments{
		logins:             logins,
		refreshOK:          refreshes.WithLabelValues("ok"),
		refreshReuse:       refreshes.WithLabelValues("reuse"),
		refreshLogin:       refreshes.WithLabelValues("login_required"),
		refreshUnavailable: refreshes.WithLabelValues("unavailable"),
		duplicates:         counter("authgate_refresh_duplicates_total", "Refreshes answered with the result of a concurrent refresh of the same token, within the grace window."),
		providerCalls:      counter("authgate_refresh_provider_calls_total", "Refresh-token grants sent to the provider."),
		rejected:           counter("authgate_refresh_rejected_records_total", "Stored records that did not open (tampered, moved, unknown key)."),
		logouts:            counter("authgate_refresh_logouts_total", "Logouts."),
		unstored:           counter("authgate_refresh_unstored_total", "New refresh tokens the store refused: the client kept its access token, the refresh token was revoked."),
	}
}

func (m *instruments) login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

func (m *instruments) refresh(err error) {
	switch {
	case err == nil:
		m.refreshOK.Inc()
	case errors.Is(err, ErrReuse):
		m.refreshReuse.Inc()
	case errors.Is(err, ErrLoginRequired):
		m.refreshLogin.Inc()
	default:
		m.refreshUnavailable.Inc()
	}
}
