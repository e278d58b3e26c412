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
//	svc, err := refresh.New(refresh.NewMemcacheStore(client), jwksValidator, refresh.Config{…},
//		refresh.WithTokenCache(authenticator))
//	mux.Handle("POST /auth/login", svc.LoginHandler())
//	mux.Handle("POST /auth/refresh", svc.RefreshHandler())
//	mux.Handle("POST /auth/logout", svc.LogoutHandler())
//
// An unreachable provider or store is a 503 and loses nothing. A Service is
// safe for concurrent use.
package refresh
