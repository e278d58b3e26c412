// Package idptest is an OAuth 2.0 / OpenID Connect identity provider that
// runs in-process on loopback and behaves like Auth0, for authgate's tests,
// its users' tests and local runs.
//
// A test starts one with the demo tenant and asks it for a token over HTTP,
// as a client would:
//
//	idp := idptest.Start(t, idptest.Demo()) // closed when the test ends
//	resp, err := http.PostForm(idp.TokenURL(), url.Values{
//		"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"},
//		"client_id": {"venue-app"}, "client_secret": {"venue-app-secret"},
//		"audience": {idptest.DemoAPI}, "organization": {"org_acme"},
//		"scope": {"openid offline_access read:venues book:venues"},
//	})
//
// The service under test is configured with [Server.Issuer] (Auth0-style,
// with a trailing slash) and verifies the token against [Server.JWKSURL],
// which it finds by discovery — with authgate, as it would be in
// production, only the issuer changes:
//
//	gate, err := authn.Setup(ctx, authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI})
//
// A test that needs a token but not the token endpoint's HTTP round trip
// gets one in a line with [Server.AccessToken] — a user's, a partner's or a
// machine's, signed as the endpoint would sign it:
//
//	token := idp.AccessToken(t, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app",
//		Audience: idptest.DemoAPI, Organization: "org_acme", Scopes: []string{"read:venues"}})
//	req.Header.Set("Authorization", "Bearer "+token)
//
// # Endpoints
//
// Under [Server.URL]:
//
//	GET  /.well-known/openid-configuration  discovery
//	GET  /.well-known/jwks.json             the published keys (RS256 by default; ES256, EdDSA, …)
//	POST /oauth/token                       password (and Auth0's password-realm), client_credentials,
//	                                        authorization_code, refresh_token
//	GET  /userinfo, POST /userinfo          the user's profile for a token with openid
//	POST /oauth/introspect                  RFC 7662 (Auth0 has none), for confidential clients
//	POST /oauth/revoke                      RFC 7009: refresh-token families, opaque access tokens
//	GET  /authorize                         the authorization-code flow, without a page
//	GET, PATCH /api/v2/users/{id}           the Management API: a user and its app_metadata
//	GET  /api/v2/grants, DELETE /api/v2/grants/{id}
//	                                        the Management API: users' consents to clients
//
// /authorize has no login page: it logs in the user its login_hint names
// (or the one [Server.SetDefaultUser] set) and redirects to redirect_uri
// with a code and the state, honouring audience, organization and PKCE
// (S256); [Server.DenyConsent] makes it answer error=access_denied
// instead. [Server.AuthorizationCode] does the same without HTTP. Every
// code records the user's grant (consent) for the client.
//
// The Management API subset takes a token from the client_credentials
// grant for [Server.ManagementAudience], which clients with
// Client.ManagementScopes get. PATCH merges app_metadata as Auth0 does
// (top-level keys replaced, null deletes); deleting a grant revokes every
// refresh token the user holds through that client.
//
// # Tokens
//
// Access tokens are shaped like Auth0's: iss with the trailing slash, sub
// ("auth0|alice", or "<client_id>@clients" with gty "client-credentials"
// for machines), aud (the API, plus Issuer()+"userinfo" when openid was
// asked), azp, iat, exp, a space-delimited scope (what was asked and the
// user's roles allow in the organization asked, or the tenant-level roles
// without one), permissions, gty ("password" for the password grant),
// org_id (and org_name with Config.OrgNameInToken), jti and the user's
// namespaced custom claims. A user grant without an audience, and any
// grant for an [API] with Opaque set, gets an opaque access token instead,
// which only /userinfo and /oauth/introspect understand.
//
// A password or authorization_code grant that asks offline_access, through
// a client allowed the refresh_token grant, also gets a refresh token.
// Refresh tokens rotate as at Auth0: each refresh returns a new token of
// the same family and marks the presented one rotated; a rotated token
// presented again still works within Config.RefreshReuseInterval and
// after that is reuse, which revokes the whole family, newest token
// included. [Server.RefreshTokenState] shows where a token stands, and
// [Server.RefreshTokens] lists a user's tokens through a client.
//
// A token request that carries a valid DPoP proof (RFC 9449: one DPoP
// header; typ dpop+jwt; an asymmetric alg; a public jwk that verifies the
// signature; htm POST and htu the token endpoint; iat within a minute of
// the provider's clock; a jti not seen before) gets a DPoP-bound access
// token — cnf.jkt, the key's RFC 7638 thumbprint, in the JWT and in its
// introspection answer — with token_type "DPoP"; a public client's refresh
// token is bound to the key too and refreshes only with a proof of it. A
// bad proof is 400 invalid_dpop_proof. [NewDPoPKey] makes a client's key,
// and [DPoPKey.Proof] the proofs for token requests and API requests, with
// [WithProofClaim] and [WithProofHeader] for the negative cases.
//
// # Other providers
//
// [Config.Dialect] makes the provider imitate another one — RFC 9068
// (panva/oidc-provider), Okta, Keycloak, Microsoft Entra ID v1 or v2, or
// Dex — with that provider's issuer, endpoint paths and access-token claims,
// and for Dex its refusal of scopes it does not know. See [Dialect].
//
// # Driving it from a test
//
//   - Clock: [Server.SetNow] freezes the provider's clock and
//     [Server.Advance] moves it; tokens are dated by it and every expiry
//     (access tokens, codes, refresh tokens, the reuse interval) is judged
//     by it. Hand [Server.Now] to the code under test as its clock too.
//   - Counters: [Server.Calls] counts the requests per [Endpoint], faulted
//     ones included, so a test can assert "one JWKS fetch";
//     [Server.ResetCalls] zeroes them.
//   - Faults: [Server.SetFault] makes an endpoint answer 500
//     ([FaultError]), 503 with Retry-After ([FaultUnavailable]), nothing
//     until the fault is cleared ([FaultHang]; use a client with a
//     timeout), or close the connection ([FaultDrop]). [FaultNone]
//     restores it and releases hung requests.
//   - Refusals: [Server.SetTokenError] makes /oauth/token answer a chosen
//     OAuth error to every grant — status, code, optional Retry-After —
//     such as idp.SetTokenError(idptest.TokenError{Status: 403, Code:
//     "mfa_required"}) or a 429 too_many_requests; the zero [TokenError]
//     restores it.
//   - Keys: [Server.AddKey] publishes a key, [Server.UseKey] makes it sign,
//     [Server.RetireKey] unpublishes one, [Server.RotateKey] adds and uses.
//   - Tokens without HTTP: [Server.AccessToken] issues one as the token
//     endpoint would (faults and SetTokenError do not apply).
//   - Forged tokens: [Server.UserClaims] and [Server.MachineClaims] build
//     exactly the claims the token endpoint would; [Server.Mint] signs any
//     claims, with [WithKeyID], [WithHeader] (lie about alg, add crit or
//     jku), [WithSigner] (HS256 with the public key's bytes),
//     [WithUnpublishedKey] and [WithoutSignature] for the negative cases;
//     [Server.OpaqueToken] registers an opaque token.
//   - Users: [Server.RemoveUser] deletes one; refreshing then answers 403
//     invalid_grant, as at Auth0. [Server.AppMetadata] shows what the
//     Management API stored for one.
//   - Rate limits: [Server.SetRateLimit] answers an endpoint's requests
//     past a limit per window of real time with 429 and Retry-After, and
//     Auth0's X-RateLimit-* headers.
//
// # The demo tenant
//
// [Demo] returns this configuration (OrgNameInToken on, RS256, typ JWT):
//
//	API      https://api.venue.example (DemoAPI, also the DefaultAudience)
//	         scopes read:venues book:venues manage:venues read:datasets
//	orgs     org_acme "acme", org_globex "globex"
//	roles    venue-viewer  read:venues read:datasets
//	         venue-booker  read:venues book:venues
//	         venue-admin   read:venues book:venues manage:venues read:datasets
//	users    alice / alice-password  auth0|alice  alice@acme.example
//	                 org_acme: venue-booker, venue-viewer; claim https://venue.example/tier = "gold"
//	         bob   / bob-password    auth0|bob    bob@globex.example   org_globex: venue-viewer
//	         carol / carol-password  auth0|carol  carol@venue.example  no organization; venue-admin
//	clients  venue-app    / venue-app-secret     first-party  password refresh_token authorization_code
//	         partner-app  / partner-app-secret   partner      authorization_code refresh_token
//	         venue-worker / venue-worker-secret  machine      client_credentials: read:venues read:datasets
//
// An access token for alice in org_acme with openid, profile,
// offline_access and the API's scopes is about 1 KB, like a real Auth0
// token.
//
// A [Server] is safe for concurrent use; Close ends every request and
// connection, hung ones included, before it returns. The provider never
// logs, so it never logs a token. It is a test fixture: it keeps every
// token it issued in memory and listens on plain HTTP.
package idptest
