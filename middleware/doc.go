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
// On a cache hit the middleware adds two allocations to a request: the
// context value and the request copy that carry the Principal.
package middleware
