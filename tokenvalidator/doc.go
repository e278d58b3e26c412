// Package tokenvalidator turns a bearer token into a [claims.Principal] or
// a typed error: invalid (claims.ErrInvalidToken, with a claims.Reason) or
// unavailable (claims.ErrUnavailable — never to be cached or turned into a
// 401; a *claims.RetryError when the validator knows when to try again).
//
// [JWKS] verifies JWT access tokens locally against the issuer's published
// keys, which it fetches at start and refreshes in the background: the
// header alg must be in the allowlist and be the key's one algorithm (a key
// that names none verifies RS256, or JWKSConfig.RSAKeyAlgorithm, for RSA,
// its curve's for EC, EdDSA for Ed25519), none and HMAC-with-a-public-key
// are impossible, typ may be required to be at+jwt (and then the claims of
// RFC 9068 §2.2 too), and the claims are decoded strictly (exp is a number)
// and checked (iss exactly, aud, exp, nbf, iat, with leeway). When fetches
// fail, the last good keys keep serving.
//
//	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{
//		Issuer:    "https://tenant.auth0.com/",
//		Audiences: []string{"https://api.venue.example"},
//	})
//	defer v.Close()
//	if err := v.Ready(ctx); err != nil { … } // discovery, JWKS, no usable key
//	res, err := v.Validate(ctx, token)     // res.Principal, res.CacheUntil
//
// NewJWKS starts even while the provider is down; [JWKS.Ready] says whether
// keys are loaded and, if not, why — for readiness probes, and for a setup
// that wants to fail fast.
//
// # Key rotation
//
// A token whose kid is not in the key set forces at most one fetch per
// UnknownKeyInterval (30s), so that made-up kids cannot become a flood of
// fetches; after a failed fetch the next is allowed after 1s, doubling up
// to the interval. While the limit holds, an unknown kid is 503 — a
// *claims.RetryError whose After is when the next fetch is allowed — if
// the key set was fetched before the token says it was issued (a rotation
// this instance cannot have seen), and 401 otherwise: a client with a token
// of a freshly rotated key retries and succeeds, a prober that picks its
// iat only earns 503s. A token the service has just received from the
// provider's token endpoint (login, refresh, code exchange) goes through
// [JWKS.VerifyIssued], which fetches at once for an unknown kid: that
// channel is authenticated, so a new kid there proves a rotation.
//
// # Several issuers, opaque tokens
//
// [Issuers] routes JWTs of several tenants by their iss. Opaque tokens go to
// [Introspection] (RFC 7662) or, for providers without it such as Auth0, to
// [UserInfo]; [Auto] picks by the token's shape. Calls to the provider are
// capped per issuer by a [Budget] (rate and concurrency; share one among
// the validators of an issuer): beyond it a validation fails at once with a
// *claims.RetryError, so a flood of random tokens cannot spend the tenant's
// rate limit. A token longer than its validator's MaxTokenBytes
// ([DefaultMaxTokenBytes]) is answered claims.ReasonTooLarge by every
// validator, before any other check or call.
//
// [WithRegisterer] exports key-set fetches, the key set's age, unknown-kid
// answers, provider calls, budget rejections and the calls in flight;
// [WithTracerProvider] makes OpenTelemetry spans of key-set fetches and
// provider calls. Every validator is safe for concurrent use.
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
