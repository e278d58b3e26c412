package metrics_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authgate/authgate/internal/metrics"
)

// Two instances of a component registering the same counter on one
// registry count into one series.
func ExampleRegister() {
	reg := prometheus.NewRegistry()
	newCounter := func() prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "requests_total", Help: "Requests."})
	}
	first := metrics.Register(reg, newCounter())
	second := metrics.Register(reg, newCounter())
	first.Inc()
	second.Inc()
	fmt.Println(testutil.ToFloat64(first))
	// Output: 2
}
