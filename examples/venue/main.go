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
//	ISSUER_URL        a real provider instead of the embedded one, e.g. https://tenant.auth0.com/
//	AUDIENCE          this API's identifier at that provider
//	CLIENT_ID         the service's own first-party client (logins; a token from any other client is a partner call)
//	CLIENT_SECRET     its secret
//	MEMCACHE_SERVERS  comma-separated memcached servers: adds the shared tier
//	CACHE_NAMESPACE   separates environments sharing memcached (default venue)
//	AUTHGATE_SECRET   32+ bytes shared by every instance (required with MEMCACHE_SERVERS)
//	DPOP              off (default): bearer tokens only; allowed: DPoP-bound tokens too (RFC 9449); required: DPoP only
//	PUBLIC_URL        the base URL clients reach the API at, which DPoP proofs name (default http://ADDR)
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
