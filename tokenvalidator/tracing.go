package tokenvalidator

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/tracing"
)

// startFetch starts the span of a key-set fetch that t asked for.
func (ks *keySet) startFetch(ctx context.Context, t fetchTrigger) (context.Context, trace.Span) {
	return ks.o.tracer.Start(ctx, "authgate.jwks.fetch", trace.WithAttributes(
		attribute.String("authgate.issuer", ks.issuer),
		attribute.String("authgate.jwks.trigger", triggerNames[t])))
}

// endFetch ends the span of a key-set fetch that loaded keys keys, or
// failed with err.
func (ks *keySet) endFetch(span trace.Span, keys int, err error) {
	ks.mu.Lock()
	url := ks.url // "" when discovery failed
	ks.mu.Unlock()
	if url != "" {
		span.SetAttributes(attribute.String("url.full", tracing.RawURL(url)))
	}
	span.SetAttributes(attribute.Int("authgate.jwks.keys", keys))
	tracing.End(span, err)
}
