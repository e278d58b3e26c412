// Command tokenservice is the user token service of seed 002: it validates
// access tokens for other services, over RFC 7662 introspection, and for
// API gateways, as their forward-authentication endpoint.
//
//	go run ./cmd/tokenservice
//
// With no settings it starts the embedded test identity provider (idptest)
// on loopback, listens on 127.0.0.1:8081, and prints curl lines to try.
// Endpoints:
//
//	POST /introspect   RFC 7662, for services (HTTP Basic with a SERVICE_CLIENTS pair):
//	                   {"active": false}, or active, sub, client_id, scope, exp, iat,
//	                   iss, aud, token_type and org_id, org_name, permissions, kind, ext;
//	                   503 when the provider cannot be reached
//	GET /auth, any method on /auth/…
//	                   forward authentication (nginx auth_request, Traefik ForwardAuth,
//	                   Envoy ext_authz): 200 with X-Auth-Subject, X-Auth-Client,
//	                   X-Auth-Org, X-Auth-Scopes, X-Auth-Kind; 401 and 403 with the
//	                   RFC 6750 challenge; 503 with Retry-After
//	GET /healthz, GET /metrics
//
// Settings come from the environment:
//
//	ADDR                 listen address (default 127.0.0.1:8081)
//	ISSUER_URL           the provider, e.g. https://tenant.auth0.com/ (comma list; one for now)
//	AUDIENCE             the API identifier tokens must be for (comma list; one for now)
//	CLAIMS_PRESET        the provider's claim names (default auth0)
//	FIRST_PARTY_CLIENTS  comma-separated client ids of the first-party apps: a user's
//	                     token from any other client is a partner (delegated) call
//	MEMCACHE_SERVERS     comma-separated memcached servers: adds the shared tier
//	CACHE_NAMESPACE      separates environments sharing memcached (default tokenservice)
//	AUTHGATE_SECRET      32+ bytes shared by every instance (required with MEMCACHE_SERVERS)
//	AUTHGATE_SECRET_ID, AUTHGATE_PREVIOUS_SECRET, AUTHGATE_PREVIOUS_SECRET_ID, AUTHGATE_NAME_SECRET
//	                     rotate the secret without losing cached entries or logouts (OPERATIONS.md)
//	SERVICE_CLIENTS      comma-separated id:secret pairs allowed to call /introspect
//	RULES_FILE           what forwarded requests need, as JSON:
//	                     {"rules": [{"methods": ["POST"], "path_prefix": "/v1/venues/",
//	                       "scopes": ["book:venues"], "kinds": ["user", "delegated"],
//	                       "audience": "https://api.venue.example"}]}
//	                     matched against the original method and path; the first match
//	                     decides; no match: any valid token
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
		fmt.Fprintln(os.Stderr, "tokenservice:", err)
		os.Exit(1)
	}
}
