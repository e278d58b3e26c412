// Package middleware adapts an authenticator to net/http: it extracts the
// bearer token (RFC 6750), puts the Principal in the request context, and
// answers 401, 403, 400 or 503 with the matching WWW-Authenticate header.
package middleware
