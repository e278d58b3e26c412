package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authgate/authgate/internal/metrics"
)

func TestRegister(t *testing.T) {
	opts := prometheus.CounterOpts{Name: "x_total", Help: "x"}
	for _, tc := range []struct {
		name string
		reg  func() *prometheus.Registry // nil: register nothing
		// before registers something on the registry first.
		before func(prometheus.Registerer)
		// shared: the second Register returns the first collector.
		shared bool
		// gathered: series of x_total the registry exposes afterwards.
		gathered int
	}{
		{name: "nil registerer", reg: nil, shared: false},
		{name: "first registration", reg: prometheus.NewRegistry, shared: true, gathered: 1},
		{
			name: "same name, other type",
			reg:  prometheus.NewRegistry,
			before: func(r prometheus.Registerer) {
				r.MustRegister(prometheus.NewSummary(prometheus.SummaryOpts{Name: "x_total", Help: "x"}))
			},
			shared: false, gathered: 1,
		},
		{
			name: "same name, other labels",
			reg:  prometheus.NewRegistry,
			before: func(r prometheus.Registerer) {
				r.MustRegister(prometheus.NewCounterVec(opts, []string{"l"}))
			},
			shared: false, gathered: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				reg      prometheus.Registerer
				registry *prometheus.Registry
			)
			if tc.reg != nil {
				registry = tc.reg()
				reg = registry
			}
			if tc.before != nil {
				tc.before(reg)
			}
			a := metrics.Register(reg, prometheus.NewCounter(opts))
			b := metrics.Register(reg, prometheus.NewCounter(opts))
			a.Inc()
			b.Inc()
			// Both always count; they count together only when shared.
			wantA := 1.0
			if tc.shared {
				wantA = 2
			}
			if got := testutil.ToFloat64(a); got != wantA {
				t.Errorf("first counter = %v, want %v", got, wantA)
			}
			if got := testutil.ToFloat64(b); got != wantA {
				t.Errorf("second counter = %v, want %v", got, wantA)
			}
			if registry != nil {
				n, err := testutil.GatherAndCount(registry, "x_total")
				if err != nil {
					t.Fatal(err)
				}
				if n != tc.gathered {
					t.Errorf("registry exposes %d series of x_total, want %d", n, tc.gathered)
				}
			}
		})
	}
}

// TestRegisterVec shows two instances sharing one labelled collector.
func TestRegisterVec(t *testing.T) {
	reg := prometheus.NewRegistry()
	newVec := func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "y_total", Help: "y"}, []string{"op"})
	}
	a := metrics.Register(reg, newVec())
	b := metrics.Register(reg, newVec())
	a.WithLabelValues("get").Inc()
	b.WithLabelValues("get").Inc()
	if got := testutil.ToFloat64(a.WithLabelValues("get")); got != 2 {
		t.Fatalf("shared vector = %v, want 2", got)
	}
}
