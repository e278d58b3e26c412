// Package tokenvalidator turns a bearer token into a [claims.Principal] or
// a typed error: invalid (claims.ErrInvalidToken, with a claims.Reason) or
// unavailable (claims.ErrUnavailable — never to be cached or turned into a
// 401).
//
// [JWKS] verifies JWT access tokens locally against the issuer's published
// keys, which jwk.Cache fetches and refreshes in the background: the header
// alg must be in the allowlist and be the key's own, none and HMAC-with-a-
// public-key are impossible, typ may be required to be at+jwt, and the
// claims are decoded strictly (exp is a number) and checked (iss exactly,
// aud, exp, nbf, iat, with leeway). A token with an unknown kid forces at
// most one fetch per UnknownKeyInterval and waits for it at most
// UnknownKeyWait; when fetches fail, the last good keys keep serving.
//
//	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{
//		Issuer:    "https://tenant.auth0.com/",
//		Audiences: []string{"https://api.venue.example"},
//	})
//	defer v.Close()
//	res, err := v.Validate(ctx, token) // res.Principal, res.CacheUntil
//
// [Issuers] routes JWTs of several tenants by their iss. Opaque tokens go to
// [Introspection] (RFC 7662) or, for providers without it such as Auth0, to
// [UserInfo]; [Auto] picks by the token's shape. All are safe for
// concurrent use.
//
// [DPoP] verifies the proofs that come with DPoP-bound tokens (RFC 9449):
// the JWS signed with the key in its own jwk header, and its claims against
// the request, the token and the token's cnf.jkt. A [ReplayCache]
// (cache.Replay, shared through memcached by every instance) makes each
// proof good once; with a NonceSecret it also demands stateless server
// nonces (an HMAC of the time, the same on every instance).
//
//	replay, _ := cache.NewSharedReplay(shared, cache.ReplayConfig{})
//	proofs, err := tokenvalidator.NewDPoP(replay, tokenvalidator.DPoPConfig{})
//	nonce, err := proofs.VerifyProof(ctx, r.Header.Get("DPoP"), token, p.Confirmation.JKT, r.Method, "https://api.example.com"+r.URL.EscapedPath())
package tokenvalidator
