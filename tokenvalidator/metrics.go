package tokenvalidator

import (
	"math"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/internal/metrics"
)

// The series are described at WithRegisterer. Every series is created up
// front from small fixed label sets.

// fetchTrigger says what started a key-set fetch.
type fetchTrigger uint8

const (
	triggerStart      fetchTrigger = iota // NewJWKS's first fetch
	triggerRefresh                        // the background refresh, or its retry after a failure
	triggerUnknownKid                     // a token with an unknown kid, rate-limited
	triggerIssued                         // VerifyIssued: a token fresh from the token endpoint
	numTriggers
)

var triggerNames = [numTriggers]string{"start", "refresh", "unknown_kid", "issued"}

// fetchOutcome is how a key-set fetch ended.
type fetchOutcome uint8

const (
	fetchOK          fetchOutcome = iota
	fetchError                    // discovery or the JWKS could not be fetched or parsed
	fetchNoUsableKey              // the JWKS holds no key that may verify a token
	numFetchOutcomes
)

var fetchOutcomeNames = [numFetchOutcomes]string{"ok", "error", "no_usable_key"}

// unknownOutcome is the answer to a token whose kid was not in the key set.
type unknownOutcome uint8

const (
	unknownFound       unknownOutcome = iota // a fetch brought the key
	unknownRetry                             // 503: a rotation this instance may not have seen
	unknownUnavailable                       // 503: the key set cannot be fetched
	unknownRefused                           // 401 ReasonUnknownKey
	numUnknownOutcomes
)

var unknownOutcomeNames = [numUnknownOutcomes]string{"found", "retry", "unavailable", "refused"}

// keySetInstruments are a JWKS validator's collectors.
type keySetInstruments struct {
	fetches [numTriggers][numFetchOutcomes]prometheus.Counter
	unknown [numUnknownOutcomes]prometheus.Counter
	ages    *ageCollector
}

func newKeySetInstruments(reg prometheus.Registerer) *keySetInstruments {
	m := &keySetInstruments{}
	fetches := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_tokenvalidator_jwks_fetches_total",
		Help: "Key-set fetches by trigger (start, refresh, unknown_kid, issued) and outcome (ok, error, no_usable_key).",
	}, []string{"trigger", "outcome"}))
	for t := range numTriggers {
		for o := range numFetchOutcomes {
			m.fetches[t][o] = fetches.WithLabelValues(triggerNames[t], fetchOutcomeNames[o])
		}
	}
	unknown := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_tokenvalidator_unknown_kid_total",
		Help: "Tokens whose kid was not in the key set, by answer: found, retry (503), unavailable (503), refused (401).",
	}, []string{"outcome"}))
	for o := range numUnknownOutcomes {
		m.unknown[o] = unknown.WithLabelValues(unknownOutcomeNames[o])
	}
	m.ages = metrics.Register(reg, newAgeCollector())
	return m
}

// ageCollector exports the age of the stalest key set registered with it:
// the key sets of every JWKS validator on one registry.
type ageCollector struct {
	desc *prometheus.Desc
	mu   sync.Mutex // guards sets
	sets map[*keySet]struct{}
}

func newAgeCollector() *ageCollector {
	return &ageCollector{
		desc: prometheus.NewDesc("authgate_tokenvalidator_jwks_age_seconds",
			"Seconds since the key set was last fetched successfully (the stalest of the validators on this registry; +Inf while one has none).",
			nil, nil),
		sets: map[*keySet]struct{}{},
	}
}

func (c *ageCollector) add(ks *keySet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sets[ks] = struct{}{}
}

func (c *ageCollector) remove(ks *keySet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sets, ks)
}

// Describe implements prometheus.Collector.
func (c *ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *ageCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sets := make([]*keySet, 0, len(c.sets))
	for ks := range c.sets {
		sets = append(sets, ks)
	}
	c.mu.Unlock()
	if len(sets) == 0 {
		return
	}
	age := 0.0
	for _, ks := range sets {
		a, ok := ks.age()
		if !ok {
			age = math.Inf(1)
			break
		}
		age = max(age, a.Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, age)
}

// callInstruments are an opaque-token validator's collectors.
type callInstruments struct {
	ok, refused, limited, failed prometheus.Counter
	overRate, overConcurrency    prometheus.Counter
	inFlight                     prometheus.Gauge
}

func newCallInstruments(reg prometheus.Registerer, endpoint string) *callInstruments {
	calls := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_tokenvalidator_provider_calls_total",
		Help: "Calls to the provider to validate a token, by endpoint (introspection, userinfo, remote: a token service) and answer: ok, refused (401/403), limited (429), error (other status, or none).",
	}, []string{"endpoint", "outcome"}))
	rejected := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_tokenvalidator_budget_rejections_total",
		Help: "Validations refused by the outbound budget without a provider call (answered 503 with Retry-After), by endpoint and cause: rate, concurrency.",
	}, []string{"endpoint", "cause"}))
	inFlight := metrics.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "authgate_tokenvalidator_provider_calls_in_flight",
		Help: "Calls to the provider in flight, by endpoint: the part of the budget's concurrency in use.",
	}, []string{"endpoint"}))
	return &callInstruments{
		ok:              calls.WithLabelValues(endpoint, "ok"),
		refused:         calls.WithLabelValues(endpoint, "refused"),
		limited:         calls.WithLabelValues(endpoint, "limited"),
		failed:          calls.WithLabelValues(endpoint, "error"),
		overRate:        rejected.WithLabelValues(endpoint, "rate"),
		overConcurrency: rejected.WithLabelValues(endpoint, "concurrency"),
		inFlight:        inFlight.WithLabelValues(endpoint),
	}
}

// answered counts a call by the provider's answer: status 0 is none.
func (m *callInstruments) answered(status int) {
	switch status {
	case http.StatusOK:
		m.ok.Inc()
	case http.StatusUnauthorized, http.StatusForbidden:
		m.refused.Inc()
	case http.StatusTooManyRequests:
		m.limited.Inc()
	default:
		m.failed.Inc()
	}
}
