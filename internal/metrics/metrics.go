// Package metrics registers authgate's Prometheus collectors on the
// Registerer a user passes, so that several instances can share one.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it; when a collector of the same
// description is already registered (a second Authenticator on the same
// registry), it returns that one so both count into it. A nil reg registers
// nothing and returns c.
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
	// Another collector of the same name but a different type or labels:
	// a programming error that must not take the service down. Keep
	// counting, unregistered.
	return c
}
