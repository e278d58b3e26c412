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

// extractConsentURL is sed's way to the authorization_url of an answer.
const extractConsentURL = `sed -E 's/.*"authorization_url":"([^"]+)".*/\1/'`

// printConnections prints curl lines for the authorization-code login and
// for connecting a RoomSMart account, booking through it and
// disconnecting.
func printConnections(out io.Writer, roomsmart *idptest.Server, api string) {
	auth := `-H "Authorization: Bearer $TOKEN"`
	fmt.Fprintf(out, `RoomSMart (a lodging marketplace, second embedded provider at %[4]s): log in by authorization code,
connect alice's RoomSMart account, book a room through it, disconnect.
# log in by authorization code (PKCE), to alice's organization: the service sends the browser to the provider (302)
LOGIN=$(curl -s -c /tmp/venue-cookies -o /dev/null -w '%%{redirect_url}' '%[1]s/auth/authorize?organization=org_acme&login_hint=alice')
# the provider logs alice in (no page here) and sends her back with a code (302)
CALLBACK=$(curl -s -o /dev/null -w '%%{redirect_url}' "$LOGIN")
# the callback trades the code; the refresh token stays on the server (200)
TOKEN=$(curl -s -b /tmp/venue-cookies "$CALLBACK" | %[2]s)
# the token is for alice in org_acme (200)
curl -s %[1]s/v1/orgs/org_acme/datasets %[3]s
# connect alice's RoomSMart account: the answer is RoomSMart's consent URL, asking book:rooms only (200)
CONSENT=$(curl -s -X POST %[1]s/v1/connections/roomsmart -d login_hint=alice %[3]s | %[5]s)
# alice consents at RoomSMart (no page here), which sends her back with a code (302)
CALLBACK=$(curl -s -o /dev/null -w '%%{redirect_url}' "$CONSENT")
# the service trades the code and keeps RoomSMart's refresh token, encrypted (201)
curl -s "$CALLBACK" %[3]s
# the same callback again: a state works once (400)
curl -s "$CALLBACK" %[3]s
# book a room at RoomSMart as alice, with a short-lived book:rooms token (201)
curl -s -X POST %[1]s/v1/lodging/rooms/r1/bookings %[3]s
# alice's connections (200)
curl -s %[1]s/v1/connections %[3]s
# disconnect: revoked at RoomSMart, then forgotten here (204)
curl -s -X DELETE %[1]s/v1/connections/roomsmart %[3]s
# booking now needs a new connection (409)
curl -s -X POST %[1]s/v1/lodging/rooms/r1/bookings %[3]s

`, api, extractToken, auth, roomsmart.URL(), extractConsentURL)
}
