package main

import (
	"fmt"
	"io"

	"github.com/authgate/authgate/idptest"
)

// extractToken turns a JSON token answer into the bare access token with
// sed only, so the printed lines need nothing beyond curl and a shell.
const extractToken = `sed -E 's/.*"access_token":"([^"]+)".*/\1/'`

// printDemo prints the embedded provider, its demo tenant, and curl lines
// for the whole flow.
func printDemo(out io.Writer, idp *idptest.Server, api string) {
	fmt.Fprintf(out, "\nEmbedded identity provider (idptest) at %s, issuer %s\n", idp.URL(), idp.Issuer())
	_ = idptest.Demo().Describe(out)
	auth := `-H "Authorization: Bearer $TOKEN"`
	fmt.Fprintf(out, `
Try it (paste into a shell; each line's expected status is in its comment):
# log in as alice, to her organization: the answer has an access token, never the refresh token (200)
TOKEN=$(curl -s -X POST %[1]s/auth/login -d username=alice -d password=alice-password -d organization=org_acme | %[2]s)
# who am I: subject, organization, scopes, kind of caller (200)
curl -s %[1]s/v1/whoami %[3]s
# needs scope read:venues (200)
curl -s %[1]s/v1/venues %[3]s
# needs book:venues and a user or partner caller (201)
curl -s -X POST %[1]s/v1/venues/v1/bookings %[3]s
# alice's organization's datasets, added by the service's enricher (200)
curl -s %[1]s/v1/orgs/org_acme/datasets %[3]s
# another organization's: refused (403)
curl -s %[1]s/v1/orgs/org_globex/datasets %[3]s
# trade the access token for a new one; the refresh token stays on the server (200)
TOKEN=$(curl -s -X POST %[1]s/auth/refresh %[3]s | %[2]s)
curl -s %[1]s/v1/whoami %[3]s
# log out: the refresh token is revoked, the access token refused from now on (204, then 401)
curl -s -X POST %[1]s/auth/logout %[3]s
curl -s %[1]s/v1/whoami %[3]s
# a machine token, straight from the provider (client credentials) (200)
TOKEN=$(curl -s -X POST %[4]s -d grant_type=client_credentials -d client_id=venue-worker -d client_secret=venue-worker-secret -d audience=%[5]s | %[2]s)
curl -s %[1]s/v1/venues %[3]s
# machines may not book (403)
curl -s -X POST %[1]s/v1/venues/v1/bookings %[3]s

`, api, extractToken, auth, idp.TokenURL(), idptest.DemoAPI)
}
