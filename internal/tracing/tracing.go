// Package tracing is what authgate's packages share to make OpenTelemetry
// spans: the tracer of the trace.TracerProvider a user gave (nil when none
// was: then no span is made and no work is done), a transport that makes a
// client span of each call to the provider, and the ending of a span with
// its error.
//
// Nothing here ever takes a token. Attributes are issuers, URLs without
// their query, user information or fragment, memcached node addresses,
// outcomes and counts; a span's error is the error's text, which in authgate
// never holds a token (see DESIGN.md).
package tracing

import (
	"net"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every authgate span.
const ScopeName = "github.com/authgate/authgate"

// Tracer returns authgate's tracer of tp, or nil when tp is nil: tracing
// is off, and callers skip it with a nil check.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(ScopeName)
}

// End ends span, first marking it failed with err when err is not nil.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// URL is u as a span may show it: without its query, user information and
// fragment, where a secret could hide.
func URL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, Opaque: u.Opaque}
	return v.String()
}

// RawURL is URL for a URL in text; one that does not parse is shown as
// "(unparsable URL)".
func RawURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return URL(u)
}

// Server returns the attributes that name the server at addr ("host:port",
// or a Unix socket path).
func Server(addr string) []attribute.KeyValue {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []attribute.KeyValue{attribute.String("server.address", addr)}
	}
	p, _ := strconv.Atoi(port)
	return []attribute.KeyValue{attribute.String("server.address", host), attribute.Int("server.port", p)}
}

// Client returns a copy of c (nil: an http.Client{}) whose transport makes
// a client span of each request, a child of the span in the request's
// context; c itself is left alone. With a nil tracer it returns c.
func Client(c *http.Client, t trace.Tracer) *http.Client {
	if t == nil {
		return c
	}
	var cc http.Client
	if c != nil {
		cc = *c
	}
	cc.Transport = &transport{base: cc.Transport, t: t}
	return &cc
}

// transport makes a span of each request: named after its method, with
// the method, the URL (see [URL]) and the server, then the answer's status
// code, following OpenTelemetry's HTTP client conventions. The span ends
// when the answer's header has arrived. No header is added to the request:
// the provider, a third party, is not told the trace.
type transport struct {
	base http.RoundTripper // nil: http.DefaultTransport
	t    trace.Tracer
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	attrs := append([]attribute.KeyValue{
		attribute.String("http.request.method", req.Method),
		attribute.String("url.full", URL(req.URL)),
	}, Server(req.URL.Host)...)
	ctx, span := tr.t.Start(req.Context(), req.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	base := tr.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		End(span, err)
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, resp.Status)
	}
	span.End()
	return resp, nil
}
