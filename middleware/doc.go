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
// writer with [WithErrorWriter]. The Require… helpers are middlewares too:
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
package middleware
