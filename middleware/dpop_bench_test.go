package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// BenchmarkHandlerHitDPoP is the whole middleware on a cache hit (an
// in-memory authenticator) for a DPoP-bound 1 KB token with a fresh proof
// per request (replay cache in process), per proof algorithm, beside the
// same hit for a bearer token in DPoPAllowed mode, in one run:
//
//	go test -run '^$' -bench HandlerHitDPoP -benchmem -count 6 ./middleware
func BenchmarkHandlerHitDPoP(b *testing.B) {
	w := newDPoPWorld(b)
	w.auth[token1KB] = w.auth["alice"]
	bearerHit := w.allowed(b).Handler(noop)
	b.Run("bearer", func(b *testing.B) {
		r, rw := hitRequest(), &discard{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			bearerHit.ServeHTTP(rw, r)
		}
	})
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		// Distinct proofs, as clients send; when they are used up a fresh
		// verifier (and replay cache) takes them again.
		reqs := w.boundRequests(b, alg, 512)
		b.Run(alg, func(b *testing.B) {
			rw := &discard{h: http.Header{}}
			var h http.Handler
			i := len(reqs)
			b.ReportAllocs()
			for b.Loop() {
				if i == len(reqs) {
					b.StopTimer()
					h = w.allowed(b).Handler(noop)
					h.ServeHTTP(rw, reqs[0]) // the key parsed once, as for a client's first request
					i = 1
					b.StartTimer()
				}
				h.ServeHTTP(rw, reqs[i])
				i++
			}
		})
	}
}

// allowed is a DPoPAllowed middleware with a fresh verifier.
func (w *dpopWorld) allowed(tb testing.TB) *middleware.Middleware {
	return w.middleware(tb, middleware.Config{DPoP: middleware.DPoPAllowed}, w.verifier(tb, tokenvalidator.DPoPConfig{}, nil))
}

// boundRequests binds token1KB to a new key for alg, the world's key from
// then on, and returns n requests for it, each with its own proof.
func (w *dpopWorld) boundRequests(tb testing.TB, alg string, n int) []*http.Request {
	tb.Helper()
	key, err := idptest.NewDPoPKey(alg)
	if err != nil {
		tb.Fatal(err)
	}
	w.key = key
	bound := *alice
	bound.Confirmation = claims.Confirmation{JKT: key.Thumbprint()}
	entry := w.auth[token1KB]
	entry.p = &bound
	w.auth[token1KB] = entry
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/v1/venues", nil)
		reqs[i].Header.Set("Authorization", "DPoP "+token1KB)
		reqs[i].Header.Set("DPoP", w.proof(tb, http.MethodGet, "http://example.com/v1/venues", token1KB, ""))
	}
	return reqs
}

// TestDPoPBenchmarkSetUp makes sure the benchmark's requests pass: a
// refusal would be much cheaper than the check it is meant to measure.
func TestDPoPBenchmarkSetUp(t *testing.T) {
	w := newDPoPWorld(t)
	rec := httptest.NewRecorder()
	w.allowed(t).Handler(noop).ServeHTTP(rec, w.boundRequests(t, "ES256", 1)[0])
	if rec.Code != 200 {
		t.Fatalf("%d %s %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
	}
}
