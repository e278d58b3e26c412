// Package refresh keeps refresh tokens on the server, encrypted at rest and
// keyed by the access token they came with, and serves the rotating /refresh
// endpoint.
package refresh
