// Package idptest is an in-process OAuth 2.0 / OpenID Connect identity
// provider, shaped like Auth0, for tests and local runs.
package idptest
