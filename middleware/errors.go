package middleware

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/bearer"
)

// Error codes of RFC 6750 §3.1, of RFC 9449 §7.1 and §9 for DPoP, and
// OAuth's temporarily_unavailable for 503.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidToken           = "invalid_token"
	CodeInsufficientScope      = "insufficient_scope"
	CodeInvalidDPoPProof       = "invalid_dpop_proof"
	CodeUseDPoPNonce           = "use_dpop_nonce"
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

	// Challenges lists the authentication schemes the WWW-Authenticate
	// header challenges with, in order: "Bearer", "DPoP" or both, as the
	// middleware's DPoP mode accepts them. Empty means Bearer alone. It and
	// Algs are shared by every refusal: read them, never change them.
	Challenges []string
	// Scheme is the scheme of the credentials the request sent, whose
	// challenge carries Code, Description and Scope (RFC 9449 §7.2); ""
	// (no credentials, or credentials sent in more than one way) puts them
	// in every challenge.
	Scheme string
	// Algs lists the accepted DPoP proof algorithms, for the DPoP
	// challenge's algs attribute.
	Algs []string
	// Nonce, when set, is a DPoP nonce for the client's next proofs, sent
	// in a DPoP-Nonce header (RFC 9449 §9).
	Nonce string
}

// ErrorWriter writes a refusal.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, e *Error)

// WriteError is the default ErrorWriter. It sets the WWW-Authenticate
// challenges (for 400, 401 and 403), DPoP-Nonce (when e has a nonce),
// Retry-After (for 503) and Cache-Control: no-store, and writes a JSON
// body with the fields error, error_description and scope.
func WriteError(w http.ResponseWriter, _ *http.Request, e *Error) {
	h := w.Header()
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		h.Set("WWW-Authenticate", Challenge(e))
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if e.Nonce != "" {
		h.Set("DPoP-Nonce", e.Nonce)
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
		switch {
		case len(e.Challenges) > 1:
			body.Description = "an access token is required: a bearer token, or a DPoP-bound token with a DPoP proof"
		case len(e.Challenges) == 1 && e.Challenges[0] == bearer.SchemeDPoP:
			body.Description = "a DPoP-bound access token with a DPoP proof is required"
		}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Challenge returns the WWW-Authenticate value for e:
// Bearer realm="…", error="…", error_description="…", scope="…" — and,
// when e.Challenges names DPoP, a DPoP challenge with its algs after it,
// in one value (RFC 9110 §11.6.1), as RFC 9449 §7.2's examples show. The
// error attributes go in the challenge of e.Scheme, or in every one when
// it names none of them. Each attribute appears at most once, and
// characters a quoted-string may not carry are dropped (RFC 6750 §3).
func Challenge(e *Error) string {
	schemes := e.Challenges
	if len(schemes) == 0 {
		schemes = []string{bearer.SchemeBearer}
	}
	everywhere := !slices.Contains(schemes, e.Scheme)
	parts := make([]string, 0, len(schemes))
	for _, s := range schemes {
		code, description, scope := e.Code, e.Description, e.Scope
		if !everywhere && s != e.Scheme {
			code, description, scope = "", "", ""
		}
		if s == bearer.SchemeDPoP {
			parts = append(parts, bearer.DPoPChallenge(e.Realm, code, description, scope, strings.Join(e.Algs, " ")))
		} else {
			parts = append(parts, bearer.Challenge(e.Realm, code, description, scope))
		}
	}
	return strings.Join(parts, ", ")
}
