// Package authn wires authgate together.
//
// An [Authenticator] answers Authenticate(ctx, token) in tiers: the
// in-process cache, a short-lived negative cache of invalid tokens, the
// shared memcached tier (package cache), and on a miss one validation per
// token however many requests wait for it (package tokenvalidator),
// followed by the optional [Enricher]. Results are stored in both tiers
// with TTL = min(token expiry, Config.MaxTTL), the in-process tier capped at
// Config.MemoryTTL; an invalid token is remembered for Config.NegativeTTL;
// an unreachable provider is never cached. Invalidate marks a token revoked
// for every instance (within MemoryTTL).
//
// [Setup] builds the common case in one call — discovery, JWKS validation,
// the tiers, the middleware and, with the service's own client, the refresh
// service:
//
//	gate, err := authn.Setup(ctx, authn.SetupConfig{
//		Issuer:          "https://tenant.auth0.com/",
//		Audience:        "https://api.venue.example",
//		MemcacheServers: []string{"memcached:11211"},
//		Secret:          secret, // 32+ bytes, the same on every instance
//	}, authn.WithRegisterer(prometheus.DefaultRegisterer))
//	defer gate.Close()
//	mux.Handle("GET /v1/venues", gate.Middleware.Handler(listVenues))
//
// An Authenticator is safe for concurrent use; an in-process hit costs a
// SHA-256 of the token and a map lookup, with no allocation.
package authn
