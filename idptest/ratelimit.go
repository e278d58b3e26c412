package idptest

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimits holds the limits SetRateLimit sets, per endpoint.
type rateLimits struct {
	mu     sync.Mutex // guards limits
	limits map[Endpoint]*rateWindow
}

// rateWindow is a fixed window of real time in which at most limit
// requests are answered.
type rateWindow struct {
	limit  int
	window time.Duration
	start  time.Time
	used   int
}

// SetRateLimit answers at most limit requests to e per window of real time
// (fixed windows, the first starting with the next request); the others get
// 429 Too Many Requests with Retry-After (whole seconds until the window
// ends) and Auth0's X-RateLimit-Limit, -Remaining and -Reset headers, which
// answered requests carry too. A limit ≤ 0 removes the limit. Windows are
// measured on the real clock, not the provider's, so that they pass in a
// test whose clock is frozen; the rate-limited requests are counted by
// Calls.
func (s *Server) SetRateLimit(e Endpoint, limit int, window time.Duration) {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	if limit <= 0 || window <= 0 {
		delete(s.limits.limits, e)
		return
	}
	if s.limits.limits == nil {
		s.limits.limits = map[Endpoint]*rateWindow{}
	}
	s.limits.limits[e] = &rateWindow{limit: limit, window: window}
}

// rateLimited counts a request to e against its limit, sets the rate-limit
// headers, and answers 429 when the limit is spent.
func (s *Server) rateLimited(w http.ResponseWriter, e Endpoint) bool {
	s.limits.mu.Lock()
	rw := s.limits.limits[e]
	if rw == nil {
		s.limits.mu.Unlock()
		return false
	}
	now := time.Now()
	if rw.start.IsZero() || !now.Before(rw.start.Add(rw.window)) {
		rw.start, rw.used = now, 0
	}
	rw.used++
	limit, used, reset := rw.limit, rw.used, rw.start.Add(rw.window)
	s.limits.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(reset.UnixNano())/1e9)), 10))
	if used <= limit {
		return false
	}
	h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(reset.Sub(now).Seconds())))))
	if e == EndpointManagement {
		writeManagementError(w, http.StatusTooManyRequests, "too_many_requests", "Global limit has been reached")
	} else {
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too_many_requests", "error_description": "Rate limit exceeded."})
	}
	return true
}
