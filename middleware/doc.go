// Package middleware adapts an [Authenticator] to net/http.
//
// [Middleware.Handler] reads the bearer token (RFC 6750: the Authorization
// header, scheme case-insensitive; a form body or the query only when
// enabled), authenticates it, and calls the next handler with the
// [claims.Principal] in the request's context, where [PrincipalFrom] finds it.
// Otherwise it answers:
//
//	no token                      401, WWW-Authenticate: Bearer realm="api"
//	malformed request             400, error="invalid_request"
//	invalid token                 401, error="invalid_token"
//	provider unreachable          503, Retry-After
//	check failed (Require… below) 403, error="insufficient_scope"
//
// each with a JSON body {"error", "error_description", "scope"}; replace the
// writer with [WithErrorWriter]. A handler that authenticates by itself (an
// introspection endpoint) answers as Handler would with [ErrorFor] and
// [Middleware.Refuse]. The Require… helpers are middlewares too:
//
//	mw, err := middleware.New(auth, middleware.Config{Realm: "venues"})
//	...
//	mux.Handle("GET /v1/venues", mw.Handler(mw.RequireScopes("read:venues")(listVenues)))
//
// They compose with any router that takes func(http.Handler) http.Handler.
// [Middleware.RequireIntegration] lets a partner app acting for a user
// through only when the user has enabled it, asking an
// [IntegrationChecker] (the integrations package keeps who enabled what):
//
//	mux.Handle("GET /v1/venues", mw.Handler(mw.RequireIntegration(integrations)(listVenues)))
//
// On a cache hit the middleware adds two allocations to a request: the
// context value and the request copy that carry the Principal.
//
// # DPoP
//
// With [Config].DPoP set to [DPoPAllowed] or [DPoPRequired] and a
// [ProofVerifier] (tokenvalidator.DPoP) given with [WithProofVerifier],
// the middleware also takes sender-constrained tokens (RFC 9449):
// "Authorization: DPoP <token>" with a proof in the DPoP header. The token
// is authenticated as before (cached); then, on every request, its
// Principal must be bound (claims.Confirmation) and the proof must pass
// every check of RFC 9449 §4.3 against the request's method, its URI as
// clients address it ([Config].PublicURL behind a proxy or gateway), the
// token and the token's key. A bound token sent as Bearer is refused in
// every mode. The answers (RFC 9449 §7):
//
//	no credentials                   401, WWW-Authenticate: Bearer realm="api", DPoP realm="api", algs="ES256 …"
//	bound token sent as Bearer       401, error="invalid_token" in the Bearer challenge
//	unbound token sent as DPoP       401, error="invalid_token" in the DPoP challenge
//	proof missing or failing a check 401, error="invalid_dpop_proof", the check in error_description
//	proof by another key             401, error="invalid_token"
//	server nonce needed or stale     401, error="use_dpop_nonce" and a DPoP-Nonce header
//	proof could not be checked       503 (the replay cache is unreachable and must be asked)
//
// The challenges list the schemes the mode accepts; the error goes in the
// challenge of the scheme the request used. A verifier with server nonces
// (tokenvalidator.DPoPConfig.NonceSecret) hands out the next nonce in a
// DPoP-Nonce header on success too, once the client's is no longer current;
// browser clients need DPoP-Nonce and WWW-Authenticate in
// Access-Control-Expose-Headers to read them.
package middleware
