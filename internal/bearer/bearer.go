// Package bearer reads RFC 6750 bearer tokens from requests. It is shared by
// the middleware and the refresh endpoint, which must agree on what a
// well-formed token is.
package bearer

import (
	"errors"
	"net/http"
	"strings"
)

// The ways a request can fail to present exactly one well-formed bearer
// token. ErrMissing is not an error to report to the client (RFC 6750 §3.1:
// no error code when credentials are absent); the others are invalid_request.
var (
	ErrMissing  = errors.New("no bearer token")
	ErrMultiple = errors.New("more than one bearer token")
	ErrTooLarge = errors.New("bearer token too large")
	ErrSyntax   = errors.New("bearer token is not a b64token")
)

// FromHeader returns the token of the request's Authorization header. A
// header with another scheme (Basic, …) counts as no bearer token; two
// Authorization headers, a bearer credential without a well-formed token,
// or a token longer than maxBytes are errors. It does not allocate.
func FromHeader(h http.Header, maxBytes int) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", ErrMissing
	case 1:
	default:
		return "", ErrMultiple
	}
	v := values[0]
	if len(v) > maxBytes+len("Bearer ") {
		return "", ErrTooLarge
	}
	scheme, token, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMissing
	}
	return Check(strings.TrimLeft(token, " "), maxBytes)
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
	for ; i < len(token); i++ {
		if !isTokenChar(token[i]) {
			break
		}
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

func isTokenChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// Challenge returns a WWW-Authenticate value:
// Bearer realm="…", error="…", error_description="…", scope="…", leaving
// out empty attributes. Characters a quoted-string may not carry (RFC 6750
// §3: only %x20-21 / %x23-5B / %x5D-7E) are dropped.
func Challenge(realm, code, description, scope string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(sanitize(realm))
	b.WriteByte('"')
	for _, attr := range [...]struct{ name, value string }{
		{"error", code},
		{"error_description", description},
		{"scope", scope},
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
