package idptest

import (
	"net/http"
	"strconv"
	"time"
)

// TokenError is an OAuth 2.0 error answer (RFC 6749 §5.2) that
// /oauth/token gives, instead of running the grant, while it is set; see
// SetTokenError.
type TokenError struct {
	// Status is the HTTP status, such as 400, 403, 429 or 503. Zero means
	// 400.
	Status int
	// Code is the error code, such as "mfa_required" or
	// "too_many_requests".
	Code string
	// Description is the error_description. Zero means "idptest: injected
	// error".
	Description string
	// RetryAfter, when positive, is sent as Retry-After in whole seconds,
	// rounded up.
	RetryAfter time.Duration
}

// SetTokenError makes /oauth/token answer te to every request that arrives
// from now on, whatever its grant; the zero TokenError restores the normal
// answers. A fault set with SetFault on EndpointToken comes first, and the
// requests are counted as usual. It may be called at any time from any
// goroutine.
func (s *Server) SetTokenError(te TokenError) {
	if te == (TokenError{}) {
		s.tokenErr.Store(nil)
		return
	}
	if te.Status == 0 {
		te.Status = http.StatusBadRequest
	}
	if te.Description == "" {
		te.Description = "idptest: injected error"
	}
	s.tokenErr.Store(&te)
}

// write answers te as {error, error_description}, with Retry-After when
// asked.
func (te *TokenError) write(w http.ResponseWriter) {
	if te.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((te.RetryAfter+time.Second-1)/time.Second), 10))
	}
	writeOAuthError(w, refuse(te.Status, te.Code, te.Description))
}
