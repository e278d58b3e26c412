// Command venue is a small venue-booking API behind authgate: the whole flow
// in one program, and the first thing to run.
//
//	go run ./examples/venue
//
// With no settings it starts the embedded test identity provider (idptest)
// on loopback, keeps the cache in process, listens on 127.0.0.1:8080, and
// prints the demo users and clients and curl lines to try. Settings come
// from the environment:
//
//	ADDR              listen address (default 127.0.0.1:8080)
//	ISSUER_URL        a real provider instead of the embedded one, e.g. https://tenant.auth0.com/;
//	                  several, comma-separated (dev, int and prod tenants): logins use the first
//	AUDIENCE          this API's identifier at that provider; several, comma-separated: tokens of any
//	                  listed issuer for any listed audience are accepted
//	CLAIMS_PRESET     where the provider puts the claims read: auth0 (default), rfc9068, okta,
//	                  keycloak, entra or dex (see claims.Preset)
//	LOGIN_SCOPES      the scopes asked at login, space-separated (default: openid profile
//	                  offline_access read:venues book:venues read:datasets)
//	CLIENT_ID         the service's own first-party client (logins; a token from any other client is a partner call)
//	CLIENT_SECRET     its secret
//	MEMCACHE_SERVERS  comma-separated memcached servers: adds the shared tier
//	CACHE_NAMESPACE   separates environments sharing memcached (default venue)
//	AUTHGATE_SECRET   32+ bytes shared by every instance (required with MEMCACHE_SERVERS); also seals
//	                  the grants users give at RoomSMart
//	AUTHGATE_SECRET_ID, AUTHGATE_PREVIOUS_SECRET, AUTHGATE_PREVIOUS_SECRET_ID, AUTHGATE_NAME_SECRET
//	                  rotate the secret without losing sessions, logouts or grants (OPERATIONS.md)
//	CONNECTIONS_DB    SQLite file keeping those grants, and the partner integrations users turn on
//	                  (default: a temporary file, removed at exit)
//	MANAGEMENT_CLIENT_ID, MANAGEMENT_CLIENT_SECRET
//	                  a machine client with read:grants and delete:grants on Auth0's Management API:
//	                  turning a partner off, or revoking a user, deletes the user's grants there,
//	                  which revokes the refresh tokens partners hold (the embedded provider has one)
//	TOKEN_SERVICE_URL validate through authgate's token service (cmd/tokenservice) at this
//	                  URL instead of the provider; answers are still cached here until the
//	                  token expires (needs ISSUER_URL, the token service's provider)
//	TOKEN_SERVICE_CLIENT_ID, TOKEN_SERVICE_CLIENT_SECRET
//	                  this service's pair in the token service's SERVICE_CLIENTS
//	DPOP              off (default): bearer tokens only; allowed: DPoP-bound tokens too (RFC 9449); required: DPoP only
//	PUBLIC_URL        the base URL clients reach the API at, which DPoP proofs name (default http://ADDR)
//
// Beside it runs RoomSMart, a lodging marketplace (a second embedded
// provider and its booking API): users connect their RoomSMart account and
// the service books rooms for them. With the service's own client
// configured, users can also log in by authorization code (PKCE) at
// GET /auth/authorize (optional organization and login_hint), which
// redirects to the provider's authorization endpoint (from its discovery
// document), and GET /auth/callback, which answers the access token; the
// refresh token stays on the server.
//
// Partner apps (seed 001) act for users who turned them on:
// POST and DELETE /v1/integrations/{client_id} and GET /v1/integrations,
// with the user's own token; a partner's calls to the data routes need
// the user's integration. POST /v1/admin/revocations (scope
// manage:venues; JSON or form: subject, or subject and client_id, or
// org_id, and optionally issued_before, RFC 3339) refuses the tokens named
// on every instance and ends the sessions.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "venue:", err)
		os.Exit(1)
	}
}
