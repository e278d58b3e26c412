// Package integrations keeps which partner apps users have enabled to act
// for them (seed 001: a CMS syncing a user's contacts to the service in
// the background), lets a partner's calls through only while the user's
// integration is enabled, and cuts the partner off everywhere when the
// user disables it.
//
// A partner app gets tokens for a user the OAuth way — the authorization
// code flow, with the user's consent at the provider — so its tokens carry
// the user's sub and the partner's client id (azp): a delegated call. The
// service decides whether the user wants it: [Service.Enable] records that
// user U has enabled partner P (for U's organization, when there is one),
// [Service.Disable] ends it, [Service.List] lists them. The
// [Service.IntegrationEnabled] check answers middleware.RequireIntegration:
//
//	svc, err := integrations.New(store, gate, integrations.Config{}) // gate: an *authn.Gate
//	mux.Handle("GET /v1/venues", mw.Handler(mw.RequireIntegration(svc)(listVenues)))
//
// Disabling revokes the partner's access for the user through the
// [Revoker] (authn's Gate): the partner's tokens for the user issued until
// then are refused on every instance — at once on this one, at their next
// validation or shared-tier lookup on the others, within authn's MemoryTTL
// where an instance holds one in memory — and the user's grant to the
// partner is deleted at the provider, which revokes the refresh tokens
// the partner holds. Re-enabling needs the user's consent again.
//
// Each instance caches the answers: "enabled" for Config.CacheTTL (30 s),
// "not enabled" for Config.NegativeTTL (2 s); an Enable or Disable takes
// effect at once on the instance that made it. Stores: [SQLStore] (one
// table, [Migration]; PostgreSQL with [OpenPostgres], SQLite with
// [OpenSQLite] and a file path — it can share the database of connections'
// SQLStore) and [MemoryStore]. A Service is safe for concurrent use.
package integrations
