package middleware

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/bearer"
)

// Error codes of RFC 6750 §3.1, and OAuth's temporarily_unavailable for 503.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidToken           = "invalid_token"
	CodeInsufficientScope      = "insufficient_scope"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is a refusal: the answer the middleware gives instead of calling the
// next handler.
type Error struct {
	// Status is 400, 401, 403 or 503 (or 499 when the client went away).
	Status int
	// Code is an RFC 6750 error code; empty when no credentials were sent
	// (then the challenge carries none, RFC 6750 §3.1).
	Code string
	// Description is a short human-readable explanation, safe to show.
	Description string
	// Scope lists the scopes the request needs, for insufficient_scope.
	Scope string
	// Realm is the protection space named in the challenge.
	Realm string
	// RetryAfter is how long a client should wait before retrying a 503.
	RetryAfter time.Duration
	// Err is the cause, for logs. It is never written to the client.
	Err error
}

// ErrorWriter writes a refusal.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, e *Error)

// WriteError is the default ErrorWriter. It sets the RFC 6750
// WWW-Authenticate challenge (for 400, 401 and 403), Retry-After (for 503)
// and Cache-Control: no-store, and writes a JSON body with the fields error,
// error_description and scope.
func WriteError(w http.ResponseWriter, _ *http.Request, e *Error) {
	h := w.Header()
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		h.Set("WWW-Authenticate", Challenge(e))
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	body := struct {
		Error       string `json:"error,omitempty"`
		Description string `json:"error_description,omitempty"`
		Scope       string `json:"scope,omitempty"`
	}{e.Code, e.Description, e.Scope}
	if body.Error == "" && e.Status == http.StatusUnauthorized {
		// No code in the challenge (no credentials were sent), but the body
		// still tells a human what is missing.
		body.Description = "a bearer token is required"
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Challenge returns the WWW-Authenticate value for e:
// Bearer realm="…", error="…", error_description="…", scope="…". Each
// attribute appears at most once, and characters a quoted-string may not
// carry are dropped (RFC 6750 §3).
func Challenge(e *Error) string {
	return bearer.Challenge(e.Realm, e.Code, e.Description, e.Scope)
}
