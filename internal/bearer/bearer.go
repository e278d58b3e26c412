// Package bearer reads RFC 6750 bearer tokens from requests. It is shared by
// the middleware and the refresh endpoint, which must agree on what a
// well-formed token is.
package bearer

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authgate/authgate/claims"
)

// The ways a request can fail to present exactly one bearer token.
// ErrMissing is not an error to report to the client (RFC 6750 §3.1: no
// error code when credentials are absent); ErrMultiple and ErrShape are
// invalid_request; ErrTooLarge and ErrSyntax are invalid_token (a token the
// service will not accept, as a validator would answer it).
var (
	ErrMissing  = errors.New("no bearer token")
	ErrMultiple = errors.New("more than one bearer token")
	ErrTooLarge = errors.New("bearer token too large")
	ErrShape    = errors.New("bearer credential must be one token")
	// ErrSyntax is a token that is not a b64token: invalid_token, since the
	// token, not the request, is malformed.
	ErrSyntax = errors.New("bearer token is not a b64token")
)

// FromHeader returns the token of the request's Authorization header. A
// header with another scheme (Basic, …) counts as no bearer token; two
// Authorization headers, an empty credential, two space-separated tokens,
// or a token longer than maxBytes are errors. It does not allocate.
//
// It checks the request's structure, not the token's characters: RFC 6750
// §3.1 calls a malformed token invalid_token, a malformed request
// invalid_request. Whoever uses a token checks it first (Valid, in the
// validators): a cache hit proves a token already passed, and checking every
// byte of every request here cost more than hashing it.
func FromHeader(h http.Header, maxBytes int) (string, error) {
	scheme, token, err := authorization(h, maxBytes)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(scheme, SchemeBearer) {
		return "", ErrMissing
	}
	return Shape(token, maxBytes)
}

// The authentication schemes Credentials tells apart, as challenges name
// them.
const (
	SchemeBearer = "Bearer" // RFC 6750
	SchemeDPoP   = "DPoP"   // RFC 9449 §7.1: a DPoP-bound token, with a proof in the DPoP header
)

// Credentials is FromHeader for the Bearer and DPoP schemes: it also
// returns which of them the header used, SchemeBearer or SchemeDPoP — with
// the error, too, when the header's scheme is known but its token is
// malformed. A header with another scheme counts as no token.
func Credentials(h http.Header, maxBytes int) (scheme, token string, err error) {
	scheme, token, err = authorization(h, maxBytes)
	switch {
	case err != nil:
		return "", "", err
	case strings.EqualFold(scheme, SchemeBearer):
		scheme = SchemeBearer
	case strings.EqualFold(scheme, SchemeDPoP):
		scheme = SchemeDPoP
	default:
		return "", "", ErrMissing
	}
	token, err = Shape(token, maxBytes)
	return scheme, token, err
}

// authorization splits the request's one Authorization header into its
// scheme and credentials.
func authorization(h http.Header, maxBytes int) (scheme, credentials string, err error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", "", ErrMissing
	case 1:
	default:
		return "", "", ErrMultiple
	}
	v := values[0]
	if len(v) > maxBytes+len("Bearer ") {
		return "", "", ErrTooLarge
	}
	scheme, credentials, _ = strings.Cut(v, " ")
	return scheme, strings.TrimLeft(credentials, " "), nil
}

// Shape returns token if it is one non-empty token of at most maxBytes,
// with no space in it (RFC 9110 credentials: one token68).
func Shape(token string, maxBytes int) (string, error) {
	switch {
	case len(token) > maxBytes:
		return "", ErrTooLarge
	case token == "" || strings.IndexByte(token, ' ') >= 0:
		return "", ErrShape
	}
	return token, nil
}

// Check returns token if it is a well-formed b64token of at most maxBytes.
func Check(token string, maxBytes int) (string, error) {
	switch {
	case len(token) > maxBytes:
		return "", ErrTooLarge
	case !Valid(token):
		return "", ErrSyntax
	}
	return token, nil
}

// Valid reports whether token has the RFC 6750 §2.1 b64token syntax:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". A token is
// checked before it is used anywhere, so it cannot smuggle anything into a
// header, a form or a log.
func Valid(token string) bool {
	i := 0
	for i < len(token) && tokenChars[token[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(token); i++ {
		if token[i] != '=' {
			return false
		}
	}
	return true
}

// tokenChars marks the b64token characters other than "=". A table: the
// check runs over every byte of every token, and a chain of comparisons per
// byte cost more than hashing the token.
var tokenChars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()

// Challenge returns a WWW-Authenticate value:
// Bearer realm="…", error="…", error_description="…", scope="…", leaving
// out empty attributes. Characters a quoted-string may not carry (RFC 6750
// §3: only %x20-21 / %x23-5B / %x5D-7E) are dropped.
func Challenge(realm, code, description, scope string) string {
	return challenge(SchemeBearer, realm, code, description, scope, "")
}

// DPoPChallenge returns a DPoP challenge (RFC 9449 §7.1): DPoP realm="…",
// error="…", error_description="…", scope="…", algs="…", leaving out empty
// attributes, as Challenge does. algs is the space-separated list of
// accepted proof algorithms.
func DPoPChallenge(realm, code, description, scope, algs string) string {
	return challenge(SchemeDPoP, realm, code, description, scope, algs)
}

func challenge(scheme, realm, code, description, scope, algs string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(` realm="`)
	b.WriteString(sanitize(realm))
	b.WriteByte('"')
	for _, attr := range [...]struct{ name, value string }{
		{"error", code},
		{"error_description", description},
		{"scope", scope},
		{"algs", algs},
	} {
		if attr.value == "" {
			continue
		}
		b.WriteString(", ")
		b.WriteString(attr.name)
		b.WriteString(`="`)
		b.WriteString(sanitize(attr.value))
		b.WriteByte('"')
	}
	return b.String()
}

// Quotable reports whether s can go into a challenge attribute unchanged.
func Quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if !allowedInQuotes(s[i]) {
			return false
		}
	}
	return true
}

func sanitize(s string) string {
	if Quotable(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if allowedInQuotes(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func allowedInQuotes(c byte) bool {
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'
}

// Describe is the error_description of an invalid token, the same over HTTP
// and gRPC: enough for an honest client to act on (log in again, fix its
// clock), nothing that helps an attacker probe the validator.
func Describe(r claims.Reason) string {
	switch r {
	case claims.ReasonExpired:
		return "the access token expired"
	case claims.ReasonNotYetValid:
		return "the access token is not valid yet"
	default:
		return "the access token is invalid"
	}
}
