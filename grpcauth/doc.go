// Package grpcauth adapts an [Authenticator] (such as *authn.Authenticator)
// to gRPC servers: interceptors that authenticate every call from its
// authorization metadata and authorize it with per-method rules.
//
// It lives in a module of its own, github.com/authgate/authgate/grpcauth,
// so that google.golang.org/grpc never enters the dependency graph of a
// service that uses only net/http.
//
// A call's token is read from its "authorization" metadata under the HTTP
// middleware's rules (RFC 6750: "Bearer <token>", scheme case-insensitive;
// another scheme counts as no token; two values, or two tokens in one, are
// refused). The handler then runs with the [claims.Principal] in its
// context, where claims.FromContext (and middleware.PrincipalFrom) find it;
// a stream's Context carries it too. A refusal is an [*Error] whose gRPC
// status matches the middleware's HTTP answer:
//
//	no token                        Unauthenticated   (HTTP 401)
//	malformed authorization         InvalidArgument   (400)
//	invalid token (too large, or
//	DPoP-bound without its proof)   Unauthenticated   (401)
//	provider unreachable            Unavailable       (503), RetryInfo and grpc-retry-pushback-ms
//	rule refused                    PermissionDenied  (403)
//	client gone, deadline passed    Canceled, DeadlineExceeded
//
// with an errdetails.ErrorInfo (Reason INVALID_TOKEN, INSUFFICIENT_SCOPE, …)
// in the status details. The cause of a refusal is never sent to the client;
// [Error.Unwrap] gives it to a logging interceptor.
//
// Wiring it into a server:
//
//	auth, err := grpcauth.New(gate.Authenticator, grpcauth.Config{
//		Public: []string{"/grpc.health.v1.Health/"},
//		Methods: map[string][]grpcauth.Rule{
//			"/venue.v1.Venues/":     {grpcauth.RequireScopes("read:venues")},
//			"/venue.v1.Venues/Book": {grpcauth.RequireScopes("book:venues"), grpcauth.RequireOrganization(orgOfBooking)},
//		},
//	})
//	...
//	srv := grpc.NewServer(auth.ServerOptions()...)
//	venuepb.RegisterVenuesServer(srv, venues)
//	healthpb.RegisterHealthServer(srv, health.NewServer())
//	if err := auth.CheckMethods(srv); err != nil { … } // a typo in a method name
//
// [Interceptor.ServerOptions] installs the unary and the stream interceptor
// together, so that no kind of call goes unauthenticated. Rules are also
// checked inside a handler with [Authorize]. [RequireOrganization] reads the
// request message, and on a stream checks every message the handler
// receives.
package grpcauth
