package authn

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/tracing"
	"github.com/authgate/authgate/tokenvalidator"
)

// startValidation starts the span of the one validation of token, which
// runs on vctx, a context of its own, and returns vctx with the span: the
// span is nonetheless a child of the span of parent, the context of the
// request that started it. fly ends it, before the waiters are released.
func (a *Authenticator) startValidation(parent, vctx context.Context, token string) context.Context {
	kind, tier := "opaque", "memory"
	if tokenvalidator.LooksLikeJWT(token) {
		kind = "jwt"
	}
	if a.sharedFor(token) {
		tier = "memcached"
	}
	vctx = trace.ContextWithSpanContext(vctx, trace.SpanContextFromContext(parent))
	vctx, _ = a.o.tracer.Start(vctx, "authgate.validate", trace.WithAttributes(
		attribute.String("authgate.token.kind", kind), attribute.String("authgate.cache.tier", tier)))
	return vctx
}

// endValidation ends the span of a validation that found v.
func endValidation(span trace.Span, v verdict) {
	outcome, err := "ok", v.err
	switch {
	case err == nil:
		span.SetAttributes(attribute.String("authgate.issuer", v.p.Issuer))
	case errors.Is(err, claims.ErrInvalidToken):
		outcome = "invalid"
		if r, ok := claims.ReasonOf(err); ok {
			span.SetAttributes(attribute.String("authgate.reason", r.String()))
		}
	default:
		outcome = "unavailable"
	}
	span.SetAttributes(attribute.String("authgate.outcome", outcome))
	tracing.End(span, err)
}
