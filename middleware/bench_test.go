package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/middleware"
)

// The middleware's own cost on a cache hit, beside the same request to the
// bare handler: `go test -bench . -benchmem ./middleware`.

var token1KB = strings.Repeat("t", 1024)

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func hitRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/venues", nil)
	r.Header.Set("Authorization", "Bearer "+token1KB)
	return r
}

func BenchmarkBareHandler(b *testing.B) {
	r, w := hitRequest(), &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		noop.ServeHTTP(w, r)
	}
}

func BenchmarkHandlerHit(b *testing.B) {
	m, _ := middleware.New(tableAuth{token1KB: {p: alice}}, middleware.Config{})
	h := m.Handler(m.RequireScopes("read:venues")(noop))
	r, w := hitRequest(), &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// TestHitAllocations pins the middleware's allocations on a hit to the two
// it cannot avoid: the context value and the request copy.
func TestHitAllocations(t *testing.T) {
	m, _ := middleware.New(tableAuth{token1KB: {p: alice}}, middleware.Config{})
	h := m.Handler(m.RequireScopes("read:venues")(noop))
	r, w := hitRequest(), &discard{h: http.Header{}}
	if n := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) }); n > 2 {
		t.Fatalf("%v allocations per request on a hit, want at most 2", n)
	}
}
