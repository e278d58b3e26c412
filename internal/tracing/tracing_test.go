package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/tracing"
	"github.com/authgate/authgate/internal/tracing/tracingtest"
)

// TestClientSpans: each request through the client is a client span, a
// child of the request context's span, that shows the method, the URL
// without query, user information or fragment, the server and the status;
// the request carries no trace header to the provider.
func TestClientSpans(t *testing.T) {
	var headers http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers = r.Header.Clone()
		if r.URL.Path == "/refused" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	rec := tracingtest.New(t)
	c := tracing.Client(&http.Client{}, tracing.Tracer(rec))
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")

	ctx, parent := rec.Request(context.Background())
	u := strings.Replace(srv.URL, "http://", "http://user:password@", 1) + "/userinfo?access_token=secret#frag"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/refused", nil)
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	parent.End()

	get, post := rec.One(t, "GET"), rec.One(t, "POST")
	tracingtest.WantAttrs(t, get, map[string]string{"http.request.method": "GET", "url.full": srv.URL + "/userinfo",
		"server.address": host, "server.port": port, "http.response.status_code": "200"})
	tracingtest.WantAttrs(t, post, map[string]string{"http.request.method": "POST", "url.full": srv.URL + "/refused",
		"http.response.status_code": "401"})
	for _, s := range []string{"GET", "POST"} {
		span := rec.One(t, s)
		tracingtest.ChildOf(t, span, parent.SpanContext())
		if span.SpanKind != trace.SpanKindClient {
			t.Errorf("%s span of kind %v, want client", s, span.SpanKind)
		}
	}
	if get.Status.Code == codes.Error || post.Status.Code != codes.Error {
		t.Errorf("statuses %v and %v, want unset and error", get.Status, post.Status)
	}
	for k := range headers {
		if strings.EqualFold(k, "traceparent") || strings.EqualFold(k, "tracestate") {
			t.Errorf("the provider was sent %s", k)
		}
	}
	for where, text := range tracingtest.Texts(rec.Spans()) {
		if strings.Contains(text, "secret") || strings.Contains(text, "password") || strings.Contains(text, "frag") {
			t.Errorf("%s holds %q", where, text)
		}
	}
}

// TestClientUnreachable: a request that fails is a failed span.
func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	rec := tracingtest.New(t)
	c := tracing.Client(nil, tracing.Tracer(rec))
	if _, err := c.Get(srv.URL + "/jwks"); err == nil {
		t.Fatal("a closed server answered")
	}
	if s := rec.One(t, "GET"); s.Status.Code != codes.Error || len(s.Events) == 0 {
		t.Errorf("span status %v with %d events, want an error and its event", s.Status, len(s.Events))
	}
}

// TestOff: without a TracerProvider nothing is wrapped.
func TestOff(t *testing.T) {
	c := &http.Client{}
	if tracing.Tracer(nil) != nil || tracing.Client(c, nil) != c {
		t.Error("tracing is on without a TracerProvider")
	}
}

func TestURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://tenant.auth0.com/.well-known/jwks.json":           "https://tenant.auth0.com/.well-known/jwks.json",
		"https://a:b@tenant.example/oauth/token?client_secret=x#y": "https://tenant.example/oauth/token",
		"http://[::1]:8080/introspect?":                            "http://[::1]:8080/introspect",
		"%zz":                                                      "(unparsable URL)",
	} {
		if got := tracing.RawURL(raw); got != want {
			t.Errorf("RawURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
