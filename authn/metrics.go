package authn

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/tokenvalidator"
)

// instruments are the Authenticator's Prometheus collectors. Every series is
// created up front from small fixed label sets; none carries a token,
// subject, client or organization.
type instruments struct {
	ok, invalid, unavailable prometheus.Counter

	memoryHit, memoryMiss, negativeHit                                prometheus.Counter
	sharedHit, sharedMiss, sharedError, sharedRejected, sharedRevoked prometheus.Counter

	validateJWT, validateOpaque prometheus.Observer
	sharedWaits, enrichErrors   prometheus.Counter
	sharedKept                  prometheus.Counter
	leases                      map[string]prometheus.Counter
	revocations                 [numMarkKinds]prometheus.Counter
	markRefusals                prometheus.Counter
}

func newInstruments(reg prometheus.Registerer) *instruments {
	outcomes := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_authn_requests_total",
		Help: "Authentications by outcome (ok, invalid, unavailable).",
	}, []string{"outcome"}))
	lookups := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_authn_cache_lookups_total",
		Help: "Cache lookups by tier (memory, negative, memcache) and result.",
	}, []string{"tier", "result"}))
	validations := metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "authgate_authn_validation_seconds",
		Help:    "Time to validate a token that missed the caches, by method (jwt, opaque).",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .005, .025, .1, .5, 2.5},
	}, []string{"method"}))
	waits := metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authgate_authn_shared_validation_waits_total",
		Help: "Requests that waited for another request's validation of the same token instead of validating again.",
	}))
	enrich := metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authgate_authn_enrich_errors_total",
		Help: "Enricher calls that failed (answered 503, not cached).",
	}))
	kept := metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authgate_authn_shared_entries_kept_total",
		Help: "Validated tokens not written to the shared tier because it already held an entry for them (a revocation mark, or another instance's result), which was kept.",
	}))
	leases := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_authn_provider_leases_total",
		Help: "Opaque-token validations by what the fleet-wide lease decided: held (this instance asked the provider), answered (another instance's answer was read from the shared tier), timed_out (it did not come in time; this instance asked), unavailable (memcached could not be asked; this instance asked).",
	}, []string{"outcome"}))
	revocations := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_authn_revocations_total",
		Help: "Revocations made by this instance, by kind: subject, grant, organization.",
	}, []string{"kind"}))
	refusals := metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authgate_authn_revocation_refusals_total",
		Help: "Validated or shared-tier tokens refused because a revocation of their subject, grant or organization was found in the shared tier.",
	}))
	leaseOutcomes := map[string]prometheus.Counter{}
	for _, o := range []string{"held", "answered", "timed_out", "unavailable"} {
		leaseOutcomes[o] = leases.WithLabelValues(o)
	}
	var byKind [numMarkKinds]prometheus.Counter
	for k := range numMarkKinds {
		byKind[k] = revocations.WithLabelValues(k.String())
	}
	return &instruments{
		ok:             outcomes.WithLabelValues("ok"),
		invalid:        outcomes.WithLabelValues("invalid"),
		unavailable:    outcomes.WithLabelValues("unavailable"),
		memoryHit:      lookups.WithLabelValues("memory", "hit"),
		memoryMiss:     lookups.WithLabelValues("memory", "miss"),
		negativeHit:    lookups.WithLabelValues("negative", "hit"),
		sharedHit:      lookups.WithLabelValues("memcache", "hit"),
		sharedMiss:     lookups.WithLabelValues("memcache", "miss"),
		sharedError:    lookups.WithLabelValues("memcache", "error"),
		sharedRejected: lookups.WithLabelValues("memcache", "rejected"),
		sharedRevoked:  lookups.WithLabelValues("memcache", "revoked"),
		validateJWT:    validations.WithLabelValues("jwt"),
		validateOpaque: validations.WithLabelValues("opaque"),
		sharedWaits:    waits,
		enrichErrors:   enrich,
		sharedKept:     kept,
		leases:         leaseOutcomes,
		revocations:    byKind,
		markRefusals:   refusals,
	}
}

func (m *instruments) outcome(err error) {
	switch {
	case err == nil:
		m.ok.Inc()
	case errors.Is(err, claims.ErrInvalidToken):
		m.invalid.Inc()
	default:
		m.unavailable.Inc()
	}
}

func (m *instruments) observeValidation(token string, d time.Duration) {
	if tokenvalidator.LooksLikeJWT(token) {
		m.validateJWT.Observe(d.Seconds())
	} else {
		m.validateOpaque.Observe(d.Seconds())
	}
}

func (m *instruments) lease(outcome string) { m.leases[outcome].Inc() }
