package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it. When reg already holds an
// equal collector (a second instance on the same registry), Register returns
// that one instead, so both instances count into it. A nil reg registers
// nothing and returns c.
//
// Any other registration failure — a collector of the same name but another
// type or other labels, which is a programming error — also returns c,
// unregistered: it keeps counting, and the service is not taken down for a
// metric.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	return c
}
