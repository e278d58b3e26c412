package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterShares(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "x_total", Help: "x"}
	a := Register(reg, prometheus.NewCounter(opts))
	b := Register(reg, prometheus.NewCounter(opts))
	a.Inc()
	b.Inc()
	if got := testutil.ToFloat64(a); got != 2 {
		t.Fatalf("shared counter = %v, want 2", got)
	}
}

func TestRegisterNil(t *testing.T) {
	c := Register(nil, prometheus.NewCounter(prometheus.CounterOpts{Name: "y_total", Help: "y"}))
	c.Inc()
	if testutil.ToFloat64(c) != 1 {
		t.Fatal("counter not usable without a registry")
	}
}

func TestRegisterConflictKeepsCounting(t *testing.T) {
	reg := prometheus.NewRegistry()
	Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "z_total", Help: "z"}))
	v := Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "z_total", Help: "z"}, []string{"l"}))
	v.WithLabelValues("a").Inc()
}
