// Package idptest is an OAuth 2.0 / OpenID Connect identity provider that
// runs in-process on loopback, shaped like Auth0, for authgate's tests, its
// users' tests and local runs.
//
//	idp := idptest.Start(t, idptest.Demo())
//	// idp.Issuer() is "http://127.0.0.1:PORT/", with Auth0's trailing slash.
//
// It serves the OpenID discovery document, the JWKS (RS256 by default; ES256
// and EdDSA keys too; AddKey, UseKey, RotateKey and RetireKey rotate them),
// /oauth/token with the password, client_credentials, authorization_code
// (codes from AuthorizationCode, standing in for the browser) and
// refresh_token grants, /userinfo, RFC 7662 /oauth/introspect and RFC 7009
// /oauth/revoke. Access tokens are shaped like Auth0's: iss with a trailing
// slash, aud (plus the userinfo URL with openid), azp, a space-delimited
// scope, permissions, gty, org_id/org_name, jti and namespaced custom claims.
// Without an audience (and no DefaultAudience), or for an Opaque API, access
// tokens are opaque strings only /userinfo and /oauth/introspect know.
//
// Refresh tokens rotate: each use returns a new one of the same family and
// marks the used one rotated; a rotated token still works within
// Config.RefreshReuseInterval and is reuse after it, which revokes the whole
// family, as at Auth0.
//
// Tests drive it directly:
//
//   - the clock: SetNow freezes it, Advance moves it; tokens are dated and
//     expiries judged by it.
//   - counters: Calls(EndpointJWKS) counts requests per endpoint, so a test
//     can assert "exactly one fetch"; ResetCalls zeroes them.
//   - faults: SetFault(EndpointJWKS, FaultError) makes an endpoint answer
//     500, FaultUnavailable 503, FaultHang never (until cleared), FaultDrop
//     close the connection; FaultNone restores it.
//   - tokens: UserClaims and MachineClaims build the claims the token
//     endpoint would issue; Mint signs any claims, with options for the
//     negative cases (WithHeader to lie about alg or add crit, WithSigner to
//     sign HS256 with a public key, WithUnpublishedKey, WithoutSignature for
//     alg none); OpaqueToken registers an opaque token.
//
// Demo returns the demo tenant:
//
//	API     https://api.venue.example   scopes read:venues book:venues manage:venues read:datasets
//	orgs    org_acme "acme", org_globex "globex"
//	roles   venue-viewer (read:venues read:datasets), venue-booker (read:venues book:venues),
//	        venue-admin (all four)
//	users   alice / alice-password  auth0|alice  org_acme: venue-booker, venue-viewer;
//	                                              custom claim https://venue.example/tier = "gold"
//	        bob   / bob-password    auth0|bob    org_globex: venue-viewer
//	        carol / carol-password  auth0|carol  no organization; venue-admin
//	clients venue-app    / venue-app-secret     first-party: password, refresh_token, authorization_code
//	        partner-app  / partner-app-secret   partner: authorization_code, refresh_token
//	        venue-worker / venue-worker-secret  machine: client_credentials (read:venues read:datasets)
//
// A Server is safe for concurrent use. It never logs a token.
package idptest
