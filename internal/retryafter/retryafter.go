// Package retryafter reads the Retry-After a server sends with a 429 or a
// 503 (RFC 9110 §10.2.3), for the packages that call providers: refresh,
// connections and the Auth0 Management API client.
package retryafter

import (
	"net/http"
	"strconv"
	"time"
)

// Max caps the wait a Retry-After can ask for.
const Max = time.Hour

// Parse reads a Retry-After value — delay-seconds or an HTTP-date, as of
// now — as a wait of at least a second and at most Max; ok is false when
// there is none or it does not parse.
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, time.Second), Max), true
}

// Of is Parse of h's Retry-After.
func Of(h http.Header, now time.Time) (time.Duration, bool) {
	return Parse(h.Get("Retry-After"), now)
}
