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
// # Revoking a user, a grant or an organization
//
// [Authenticator.RevokeSubject], [Authenticator.RevokeGrant] (one client
// acting for one user, such as a partner app) and
// [Authenticator.RevokeOrganization] refuse every matching token issued
// before a time T (now by default), and accept those issued after it, so
// that a new login works:
//
//	err := a.RevokeSubject(ctx, "auth0|alice", time.Time{}) // every token alice holds now
//
// The instance that revokes refuses them at once: it sweeps them from its
// memory, and a validation in flight lands refused. Every instance refuses
// them when it validates them and on every shared-tier hit, through a mark
// in the shared tier; an instance that holds one in its own memory keeps
// accepting it for at most Config.MemoryTTL, the bound to shorten if that
// is too long. The rules:
//
//   - A token matches by its iat: issued before T, refused. iat has whole
//     seconds, so a token issued in T's own second before T is refused,
//     and a new login is accepted from the next second. A token without
//     iat cannot show when it was issued: every mark naming it refuses it.
//     T is compared with the provider's clock (iat), so clocks apart by
//     more than a second can refuse a login made just after T, or accept
//     one made just before.
//   - A mark lives until T + Config.RevocationTTL (the longest token
//     lifetime) + the validator's leeway + Config.ClockSkew, when no token
//     issued before T is accepted any more; a later revocation of the
//     same subject, grant or organization with a later T supersedes it,
//     and one with an earlier T changes nothing.
//   - Marks are per namespace, not per policy: a subject revoked is
//     revoked for every API sharing the namespace, and for every issuer
//     (a subject id is the provider's; ids repeated across issuers are all
//     refused — the safe side). Their keys are keyed hashes of the kind and
//     value, never a subject, client or organization in the clear, and
//     their values are MAC'd like every entry.
//   - Marks are written to two nodes with a compare-and-swap per copy, so
//     a T never goes back. With memcached unreachable the revoking
//     instance still refuses at once (and the call returns an error), but
//     the others learn nothing; a mark both of whose nodes are out is not
//     seen, and the shared tier cannot refuse what it cannot read.
//   - With Config.LocalJWTs, other instances do not see the marks for JWTs.
//
// A shared-tier hit costs one round trip for a JWT — the entry and its
// marks are fetched together, one gets per node, the nodes at once — and
// two for an opaque token (its marks are known once its entry is read).
// An in-process hit costs nothing more: marks are not looked up there.
//
// [Gate.RevokeSubject] and [Gate.RevokeGrant] also end the user's sessions
// in the refresh service and revoke refresh tokens at the provider; see
// [Revoker].
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
// [WithTracerProvider] traces what costs a network call or a signature
// check — validations after an in-process miss, key-set fetches, memcached
// and provider calls, refreshes — as OpenTelemetry spans under the
// request's span, never with a token in them.
//
// An Authenticator is safe for concurrent use; an in-process hit costs a
// SHA-256 of the token and a map lookup, with no allocation, and is never
// traced.
package authn
