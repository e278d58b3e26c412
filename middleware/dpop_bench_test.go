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
	bearerHit := w.middleware(b, middleware.Config{DPoP: middleware.DPoPAllowed}, w.verifier(b, tokenvalidator.DPoPConfig{}, nil)).Handler(noop)
	w.auth[token1KB] = w.auth["alice"]
	b.Run("bearer", func(b *testing.B) {
		r, rw := hitRequest(), &discard{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			bearerHit.ServeHTTP(rw, r)
		}
	})
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		key, err := idptest.NewDPoPKey(alg)
		if err != nil {
			b.Fatal(err)
		}
		bound := *alice
		bound.Confirmation = claims.Confirmation{JKT: key.Thumbprint()}
		w.auth[token1KB] = struct {
			p   *claims.Principal
			err error
		}{p: &bound}
		// Distinct proofs, as clients send; when they are used up a fresh
		// verifier (and replay cache) takes them again.
		reqs := make([]*http.Request, 512)
		for i := range reqs {
			proof, err := key.Proof(http.MethodGet, "http://example.com/v1/venues", token1KB, "", idptest.WithProofClaim("iat", w.clk.now().Unix()))
			if err != nil {
				b.Fatal(err)
			}
			reqs[i] = httptest.NewRequest(http.MethodGet, "/v1/venues", nil)
			reqs[i].Header.Set("Authorization", "DPoP "+token1KB)
			reqs[i].Header.Set("DPoP", proof)
		}
		b.Run(alg, func(b *testing.B) {
			rw := &discard{h: http.Header{}}
			var h http.Handler
			i := len(reqs)
			b.ReportAllocs()
			for b.Loop() {
				if i == len(reqs) {
					b.StopTimer()
					h = w.middleware(b, middleware.Config{DPoP: middleware.DPoPAllowed}, w.verifier(b, tokenvalidator.DPoPConfig{}, nil)).Handler(noop)
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

// TestDPoPBenchmarkSetUp makes sure the benchmark's requests pass: a
// refusal would be much cheaper than the check it is meant to measure.
func TestDPoPBenchmarkSetUp(t *testing.T) {
	w := newDPoPWorld(t)
	key, _ := idptest.NewDPoPKey("ES256")
	bound := *alice
	bound.Confirmation = claims.Confirmation{JKT: key.Thumbprint()}
	w.auth[token1KB] = struct {
		p   *claims.Principal
		err error
	}{p: &bound}
	proof, _ := key.Proof(http.MethodGet, "http://example.com/v1/venues", token1KB, "", idptest.WithProofClaim("iat", w.clk.now().Unix()))
	r := httptest.NewRequest(http.MethodGet, "/v1/venues", nil)
	r.Header.Set("Authorization", "DPoP "+token1KB)
	r.Header.Set("DPoP", proof)
	rec := httptest.NewRecorder()
	w.middleware(t, middleware.Config{DPoP: middleware.DPoPAllowed}, w.verifier(t, tokenvalidator.DPoPConfig{}, nil)).Handler(noop).ServeHTTP(rec, r)
	if rec.Code != 200 {
		t.Fatalf("%d %s %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
	}
}
