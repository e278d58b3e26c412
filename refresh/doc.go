// Package refresh keeps refresh tokens on the server and serves the
// rotating /refresh endpoint.
//
// At login ([Service.Login], or [Service.ExchangeCode] for web apps) the
// provider's refresh token is sealed with AES-256-GCM — the record's store
// name as associated data, a key id for rotation — and stored under a keyed
// hash of the access token it came with; the client only ever receives
// {access_token, token_type, expires_in}. [Service.Refresh] takes that
// access token, even expired (its signature, issuer and audience must
// verify, and it must be younger than MaxAccessTokenAge), and across every
// instance sharing the [Store] makes one call to the provider: concurrent
// duplicates wait and get the same new token, within GraceWindow. The old
// record then points to the new one; presenting the old token after the
// grace window is reuse, which revokes the whole family at the provider.
// [Service.Logout] revokes and forgets.
//
//	svc, err := refresh.New(refresh.NewMemcacheStore(cluster) /* cache.NewCluster */, jwksValidator, refresh.Config{…},
//		refresh.WithTokenCache(authenticator))
//	mux.Handle("POST /auth/login", svc.LoginHandler())
//	mux.Handle("POST /auth/refresh", svc.RefreshHandler())
//	mux.Handle("POST /auth/logout", svc.LogoutHandler())
//
// A Service is safe for concurrent use.
//
// # Refreshes that lose no session
//
// Once a login, code exchange or refresh has been sent to the provider it
// runs to the end — the provider call, the store writes, the release of the
// lock, the token-cache updates — on a context of its own (the caller's
// values, not its cancellation, and a deadline of its own). A client that
// disconnects mid-refresh and retries within GraceWindow gets the new
// token from the stored rotation, without a second provider call, and its
// session goes on. Waiting for another request's refresh of the same token
// ends with the caller's context. A logout, once its access token has
// verified, also runs to the end.
//
// Every provider call — token endpoint and revocation — is bounded by
// Config.Timeout through its context, whatever HTTP client
// [WithHTTPClient] passes, one without a Timeout included. The refresh lock
// lives for Timeout + 5s and its work is cut off at Timeout + 2s, so it
// cannot expire under the provider call it guards: a provider slower than
// the lock never has two calls for one refresh token in flight from this
// service's instances. The lock is released only by its owner (a random
// token; [MemcacheStore] removes it with a compare-and-swap).
//
// A refresh verifies the access token, takes the lock and reads the
// record under it (with [MemcacheStore], one add per copy of the lock,
// then one gets per node for the record and the lock's CAS ids), asks the
// provider, then writes the new login, the family's head and the old
// login's rotation together and releases the lock after them on the same
// connection (one pipelined round trip per node, the nodes at once, when
// the records share the lock's nodes — always on one or two nodes),
// beside a read of the subject's index: three memcached round trips one
// after the other on one node where there were nine, four on two nodes
// where there were twelve (on more nodes, six unless the records share
// the lock's nodes). The new login is stored before the answer and
// the rotation before the release. A request that finds the lock held
// reads the record, answers a rotated one at once and otherwise waits for
// the lock. Any other [Store] gets the same calls through its methods, the
// writes side by side, then Unlock.
//
// A call cut off by Timeout is abandoned, but the provider may still run
// it: the refresh token it presented is then rotated and the new one lost
// with the answer, and the next refresh presents the rotated token. Only
// the provider's reuse interval (Auth0: refresh-token rotation's "reuse
// interval") forgives that; without one the provider takes it for reuse
// and the user must log in again. Set it to at least a minute.
//
// # A user's sessions
//
// Sessions are findable by subject: each login's family is listed, with
// its client, in an index per subject, sealed like the records and kept on
// two nodes with [MemcacheStore], changed only under its owner lock
// ([Store.Lock]; [MemoryStore] too), and each family names its current
// record, moved by every rotation. [Service.EndSubject] ends every session
// of a user, and [Service.EndGrant] those through one client: each family's
// refresh token is revoked at the provider (RFC 7009) and its records
// deleted. A logout, a reuse or a refresh the provider refuses takes its
// family out of the index; a family missing from it (a login made before
// sessions were indexed) is listed again by its next refresh.
//
// With a token cache that is also a [RevocationChecker] (authn's
// Authenticator), a refresh whose access token is refused by a revocation
// of its subject, grant or organization ends its session: a session the
// index missed still cannot mint tokens issued after the revocation.
//
// # Answers
//
// The handlers, and [Service.WriteError] for a web app's own code-exchange
// callback, answer the provider's refusals as the provider meant them, and
// name who could not be reached:
//
//	provider not reached, timed out, 5xx        503 temporarily_unavailable naming the identity provider, Retry-After
//	session store failing                        503 temporarily_unavailable naming the session store, Retry-After
//	invalid_grant                                401 (invalid_grant at login and code exchange, invalid_token at refresh)
//	access_denied, mfa_required, consent_required 403 with that code
//	invalid_request at login or code exchange    400 invalid_request
//	invalid_request at refresh, invalid_scope,
//	invalid_client, unauthorized_client,
//	unsupported_grant_type                       502 with that code
//	an unknown code with status 401 or 403       403 with that code
//	any other refusal (a 404: wrong TokenURL)    502
//	429, or too_many_requests                    429 too_many_requests, the provider's Retry-After
//
// The line between 400 and 502 is who supplied the part the provider
// found wrong. At a refresh or a revocation every parameter is the
// service's own — its client credentials, its scopes, the refresh token it
// keeps — so any such refusal is its configuration (502, and an error log
// for the operator). At login and code exchange the request also carries
// what the user or the browser's callback supplied (username, password,
// organization; code, redirect URI, PKCE verifier), which providers refuse
// with invalid_request when malformed; the other codes there are still
// about the service's client or its configured scopes. (A provider that
// answers an unknown configured scope with invalid_request, as Dex does,
// makes every login a 400: the provider's code is in the answer.)
//
// Only the provider's error code is passed on — never its description, and
// nothing from a token. 503 and 429 answers carry Retry-After: the
// provider's when it gave one (the error is then a *claims.RetryError), 5
// seconds otherwise. Each 503 and 429 is logged at warn with its cause;
// tokens, refresh tokens and the client secret are never logged.
//
// Two answers favour the user over the letter of the table. A login whose
// refresh token the store will not take still hands out the access token
// (the provider has issued it; a 503 would lose the refresh token all the
// same): the refresh token is revoked and the session ends when the access
// token does. A logout whose revocation the provider refuses or does not
// answer still ends the login here — the records are deleted, so nobody
// holds the refresh token — and answers 204; the failure is logged and
// counted.
//
// # Metrics
//
// authgate_refresh_requests_total{op, outcome} counts logins, code
// exchanges, refreshes and logouts (op: login, code_exchange, refresh,
// logout) by outcome: ok, login_required, reuse, denied, invalid_request,
// misconfigured, rate_limited, provider_unavailable, store_unavailable,
// canceled (the caller left before the answer).
// authgate_refresh_provider_calls_total{call, outcome} counts the calls to
// the provider (call: password, authorization_code, refresh_token,
// revocation). Every series exists from the start.
package refresh
