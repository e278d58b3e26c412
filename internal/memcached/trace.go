package memcached

import (
	"context"
	"errors"

	"github.com/bradfitz/gomemcache/memcache"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/tracing"
)

// startCall starts the span of a call of op to n, or returns nil: when the
// Cluster has no Tracer, or when ctx holds no span. A memcached call is a
// step of some work — a validation, a refresh, a logout — and no trace of
// its own, so the background probes and replays of a node that is out are
// not traced. Key names are never put in a span (they are keyed hashes of
// tokens, but still name them).
func (c *Cluster) startCall(ctx context.Context, n *node, op string) trace.Span {
	if c.cfg.Tracer == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	attrs := append([]attribute.KeyValue{
		attribute.String("db.system.name", "memcached"),
		attribute.String("db.operation.name", op),
	}, tracing.Server(n.addr)...)
	_, span := c.cfg.Tracer.Start(ctx, "authgate.memcached."+op,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return span
}

// endCall ends the span of a call of op that ended with err. A get says
// whether it found what it asked for (authgate.memcached.hit); a get of
// several keys (found given) also how many it asked for and found.
func endCall(span trace.Span, op string, err error, found []*int) {
	switch {
	case op != "get":
	case len(found) > 0:
		span.SetAttributes(attribute.Bool("authgate.memcached.hit", err == nil && *found[0] > 0),
			attribute.Int("authgate.memcached.hits", *found[0]))
	case err == nil || errors.Is(err, memcache.ErrCacheMiss):
		span.SetAttributes(attribute.Bool("authgate.memcached.hit", err == nil))
	}
	if !isFailure(err) {
		err = nil // a miss, a lost add or compare-and-swap: answers, not failures
	}
	tracing.End(span, err)
}
