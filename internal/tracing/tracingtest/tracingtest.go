// Package tracingtest keeps the spans of a test in memory, with the
// OpenTelemetry SDK's in-memory exporter, and reads them. It is for tests
// only: no library package imports it, so the SDK stays out of their
// dependencies.
package tracingtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Recorder is a TracerProvider whose spans are exported, as each ends,
// to memory.
type Recorder struct {
	*sdktrace.TracerProvider
	exp *tracetest.InMemoryExporter
}

// New returns a Recorder that samples every span; it is shut down when
// the test ends.
func New(tb testing.TB) *Recorder {
	tb.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &Recorder{TracerProvider: tp, exp: exp}
}

// Request starts a span standing for the request a test makes, as a
// service's HTTP middleware would.
func (r *Recorder) Request(ctx context.Context) (context.Context, trace.Span) {
	return r.Tracer("test").Start(ctx, "request")
}

// Spans returns the spans ended so far, in the order they ended.
func (r *Recorder) Spans() tracetest.SpanStubs { return r.exp.GetSpans() }

// Reset forgets the spans ended so far.
func (r *Recorder) Reset() { r.exp.Reset() }

// Named returns the ended spans called name.
func (r *Recorder) Named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.Spans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// One returns the one ended span called name, failing tb when there is
// not exactly one.
func (r *Recorder) One(tb testing.TB, name string) tracetest.SpanStub {
	tb.Helper()
	spans := r.Named(name)
	if len(spans) != 1 {
		tb.Fatalf("%d spans %q, want 1; spans: %s", len(spans), name, Names(r.Spans()))
	}
	return spans[0]
}

// Names lists the names of spans, for a failure message.
func Names(spans tracetest.SpanStubs) string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// Attrs returns s's attributes by key, each value as text.
func Attrs(s tracetest.SpanStub) map[string]string {
	m := make(map[string]string, len(s.Attributes))
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// WantAttrs fails tb for each of want's attributes that s lacks or has
// with another value.
func WantAttrs(tb testing.TB, s tracetest.SpanStub, want map[string]string) {
	tb.Helper()
	got := Attrs(s)
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			tb.Errorf("span %s: attribute %s = %q (set: %t), want %q; all: %v", s.Name, k, g, ok, v, got)
		}
	}
}

// ChildOf fails tb unless s is a child of parent.
func ChildOf(tb testing.TB, s tracetest.SpanStub, parent trace.SpanContext) {
	tb.Helper()
	if s.Parent.SpanID() != parent.SpanID() || s.SpanContext.TraceID() != parent.TraceID() {
		tb.Errorf("span %s: parent %s in trace %s, want %s in trace %s", s.Name,
			s.Parent.SpanID(), s.SpanContext.TraceID(), parent.SpanID(), parent.TraceID())
	}
}

// Texts returns every text a span of spans carries, each with where it is:
// names, attribute values, the status description, event names and their
// attribute values, link attribute values.
func Texts(spans tracetest.SpanStubs) map[string]string {
	out := map[string]string{}
	add := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			out[fmt.Sprintf("%s attribute %s", where, kv.Key)] = kv.Value.String()
		}
	}
	for i, s := range spans {
		where := fmt.Sprintf("span %d (%s)", i, s.Name)
		out[where+" name"] = s.Name
		out[where+" status"] = s.Status.Description
		add(where, s.Attributes)
		for j, e := range s.Events {
			ev := fmt.Sprintf("%s event %d", where, j)
			out[ev+" name"] = e.Name
			add(ev, e.Attributes)
		}
		for j, l := range s.Links {
			add(fmt.Sprintf("%s link %d", where, j), l.Attributes)
		}
	}
	return out
}
