// Package authn wires authgate together: the Authenticator (cache tiers,
// single-flight validation, enrichment) and the one-call constructor that
// returns a ready middleware.
package authn
