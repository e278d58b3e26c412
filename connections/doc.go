// Package connections holds grants users give the service at third
// parties: refresh tokens obtained with their consent, kept encrypted on
// the server, and used to get short-lived, narrowly scoped access tokens
// whenever the service acts for them (seed 000's "Lodging Picks" booking
// rooms at "RoomSMart" for enterprise users).
//
// # Connecting
//
// [Service.Connect] returns the third party's consent URL for a user: the
// authorization-code flow with PKCE (S256), the [Party]'s scopes and
// nothing more, and a state bound to the user's subject that works once,
// within StateTTL. The callback's parameters go through [ParseCallback] to
// [Service.Complete], which checks the state (unknown, replayed, expired:
// [ErrStateUnknown]; another user's: [ErrStateForeign]), exchanges the code
// with golang.org/x/oauth2, and stores the grant. A declined consent is an
// [*AuthorizationError] matching [ErrAccessDenied]; no refusal stores
// anything. A service that sends users to several authorization servers
// sets each [Party]'s Issuer: a callback whose iss (RFC 9207) names
// another server is [ErrIssuerMismatch] (a mix-up attack).
//
//	u, err := svc.Connect(ctx, p.Subject, "roomsmart", connections.AuthRequest{})
//	// … the user consents; the party redirects back with code and state …
//	cb, err := connections.ParseCallback(r.URL.Query())
//	conn, err := svc.Complete(ctx, p.Subject, "roomsmart", cb)
//
// # At rest
//
// A [Store] keeps one [Record] per user and party: a version and the grant
// sealed with AES-256-GCM (the first of EncryptionKeys seals, all open;
// the key id is in the record), with the subject, the party and the
// version as associated data, so a record moved to another user or
// version, or altered, does not open: the user must reconnect. Stores:
// [SQLStore] (one table, [Migration]; PostgreSQL with [OpenPostgres],
// SQLite with [OpenSQLite] and a file path) and [ManagementStore] (the
// user's app_metadata at Auth0 through the Management API, as seed 000
// does). The [Cache] — memcached ([NewMemcache]) shared by every instance,
// or [MemoryCache] for one — holds only what can be lost: the current
// access tokens (sealed, until they expire), pending authorizations, and
// locks; its names are keyed hashes, never a subject or a state.
//
// # Using a grant
//
// [Service.TokenSource] returns an oauth2.TokenSource for a user at a
// party. Its access token is shared by every instance and refreshed
// RefreshBefore its expiry by one instance at a time: one refresh per
// process (concurrent callers wait for it), one across processes (a lease
// on the SQL row, or a memcached add). Callers that find another instance
// refreshing keep using the current token while it lasts, or wait for the
// new one. A rotated refresh token is stored before the new access token
// is handed out. When the party answers invalid_grant (the user revoked
// access there) the connection is marked disconnected after that one call,
// and callers get a [*ReconnectError] (matching [ErrReconnect]), as they
// do without a connection. A party or store that cannot be reached is an
// error matching claims.ErrUnavailable (a *claims.RetryError when the party
// said when to retry).
//
//	client := oauth2.NewClient(ctx, svc.TokenSource(ctx, p.Subject, "roomsmart"))
//	resp, err := client.Post("https://api.roomsmart.example/v1/bookings", …)
//
// # Ending a grant
//
// [Service.Disconnect] revokes the refresh token at the party (RFC 7009,
// when it has a revocation endpoint), then deletes the record;
// [Service.Deprovision] does so for every connection of a user who left,
// deleting even when a party cannot be reached.
//
// # The service's own login
//
// A [Flow] is the start and callback steps alone, for any authorization
// server: the service's own login uses one with its provider as the Party
// (Audience set, [AuthRequest].Organization for multi-organization users)
// and a browser cookie as the binding, and hands the [Authorization]'s
// code and verifier to the refresh package's ExchangeCode, so the refresh
// token stays on the server (examples/venue does this).
//
// Tokens are never logged, put in metrics, errors or cache names. A
// Service, a Flow and the stores are safe for concurrent use.
package connections
