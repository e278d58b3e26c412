// Package tokenvalidator turns a bearer token into a [claims.Principal] or a
// typed error: JWTs are verified locally against the issuer's JWKS, opaque
// tokens are checked with the provider (RFC 7662 introspection, or userinfo).
package tokenvalidator
