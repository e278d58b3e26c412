package main

import (
	"fmt"
	"io"

	"github.com/authgate/authgate/idptest"
)

// What the token service uses with the embedded provider, when the
// environment does not say otherwise.
const (
	demoFirstParty    = "venue-app"
	demoServiceClient = "venue-api:venue-api-secret"
	demoRules         = `{"rules": [
  {"methods": ["POST"], "path_prefix": "/v1/venues/", "scopes": ["book:venues"], "kinds": ["user", "delegated"]},
  {"methods": ["GET"], "path_prefix": "/v1/venues", "scopes": ["read:venues"]}
]}`
)

// extractToken turns a JSON token answer into the bare access token with
// sed only, so the printed lines need nothing beyond curl and a shell.
const extractToken = `sed -E 's/.*"access_token":"([^"]+)".*/\1/'`

// printDemo prints the embedded provider, the demo settings, and curl lines
// that try every endpoint.
func printDemo(out io.Writer, idp *idptest.Server, ts string) {
	fmt.Fprintf(out, "\nEmbedded identity provider (idptest) at %s, issuer %s\n", idp.URL(), idp.Issuer())
	_ = idptest.Demo().Describe(out)
	fmt.Fprintf(out, "\nService client allowed to call /introspect: %s (SERVICE_CLIENTS)\nFirst-party app: %s (FIRST_PARTY_CLIENTS)\nRules (RULES_FILE):\n%s\n",
		demoServiceClient, demoFirstParty, demoRules)
	auth := `-H "Authorization: Bearer $TOKEN"`
	fmt.Fprintf(out, `
Try it (paste into a shell; each line's expected status is in its comment):
# alice's access token, straight from the provider (password grant) (200)
TOKEN=$(curl -s -X POST %[2]s -d grant_type=password -d username=alice -d password=alice-password -d organization=org_acme -d client_id=venue-app -d client_secret=venue-app-secret -d audience=%[3]s -d scope=read:venues+book:venues | %[4]s)
# a service introspects it: active, with her organization, permissions and kind (200)
curl -s -X POST %[1]s/introspect -u %[5]s -d token=$TOKEN
# a token nobody issued is not active — still 200, and never why (200)
curl -s -X POST %[1]s/introspect -u %[5]s -d token=not-a-token
# a caller that is not a service client: Basic challenge (401)
curl -s -X POST %[1]s/introspect -u venue-api:wrong -d token=$TOKEN
# forward authentication as nginx asks: booking needs book:venues and a user; identity in X-Auth-* (200)
curl -si %[1]s/auth %[6]s -H "X-Original-Method: POST" -H "X-Original-URI: /v1/venues/v1/bookings"
# as Traefik asks (200)
curl -si %[1]s/auth %[6]s -H "X-Forwarded-Method: GET" -H "X-Forwarded-Uri: /v1/venues?page=2"
# as Envoy asks: the original method and path under /auth/ (200)
curl -si -X POST %[1]s/auth/v1/venues/v1/bookings %[6]s
# no token: the RFC 6750 challenge (401)
curl -si %[1]s/auth -H "X-Original-Method: GET" -H "X-Original-URI: /v1/venues"
# a machine token (client credentials) (200)
TOKEN=$(curl -s -X POST %[2]s -d grant_type=client_credentials -d client_id=venue-worker -d client_secret=venue-worker-secret -d audience=%[3]s | %[4]s)
# machines may read venues (200)
curl -si %[1]s/auth %[6]s -H "X-Original-Method: GET" -H "X-Original-URI: /v1/venues"
# but not book: insufficient_scope, naming the scope (403)
curl -si -X POST %[1]s/auth/v1/venues/v1/bookings %[6]s
# health and metrics (200, then 200)
curl -s %[1]s/healthz
curl -s %[1]s/metrics

`, ts, idp.TokenURL(), idptest.DemoAPI, extractToken, demoServiceClient, auth)
}
