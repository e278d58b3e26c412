package refresh

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// waitedKey says whether a refresh waited for a concurrent refresh of the
// same token, on this instance or another.
const waitedKey = attribute.Key("authgate.refresh.waited")

// startRefresh starts the span of a Refresh.
func (s *Service) startRefresh(ctx context.Context) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{waitedKey.Bool(false)}
	if s.cfg.Issuer != "" {
		attrs = append(attrs, attribute.String("authgate.issuer", s.cfg.Issuer))
	}
	return s.o.tracer.Start(ctx, "authgate.refresh", trace.WithAttributes(attrs...))
}

// endRefresh ends the span of a Refresh that ended with err. Its outcome
// is the metric's label; the error's text is not recorded, as a refresh
// refused by the provider may carry the provider's own words.
func endRefresh(ctx context.Context, span trace.Span, err error) {
	out := outcomeOf(ctx, err)
	span.SetAttributes(attribute.String("authgate.refresh.outcome", outcomeNames[out]))
	if err != nil {
		span.SetStatus(codes.Error, outcomeNames[out])
	}
	span.End()
}

// traceWait marks the refresh span in ctx, if the service traces, as one
// that waited for another refresh.
func (s *Service) traceWait(ctx context.Context) {
	if s.o.tracer != nil {
		trace.SpanFromContext(ctx).SetAttributes(waitedKey.Bool(true))
	}
}
