// Package cache stores the results of token validations in two tiers,
// keyed by the token's [Digest], never by the token.
//
// [Memory] is the in-process tier: a sharded map from digest to any value
// with a per-entry expiry, bounded by entry count, with no allocation on a
// hit. [Memcache] is the tier every instance of a service shares: opaque
// bytes in memcached with an expiry. A request asks Memory, then Memcache,
// and only then validates the token:
//
//	d := cache.DigestOf(token)
//	if p, ok := memory.Get(d, now); ok {
//		return p, nil
//	}
//	e, err := shared.Get(ctx, d) // ErrMiss, or memcached unavailable: validate
//	if err == nil {
//		p := decode(e.Value)
//		memory.Set(d, p, e.Expires)
//		return p, nil
//	}
//	p, until := validate(token)
//	memory.Set(d, p, until)
//	_ = shared.Set(ctx, d, cache.Entry{Value: encode(p), Expires: until})
//
// The shared tier is built once per process:
//
//	cluster, err := cache.NewCluster([]string{"mc1:11211", "mc2:11211", "mc3:11211"}, cache.ClusterConfig{},
//		cache.WithLogger(logger), cache.WithRegisterer(registry))
//	defer cluster.Close()
//	shared, err := cache.NewMemcache(cluster, cache.MemcacheConfig{
//		Namespace: "prod/venue-api", // dev, int and prod can share a memcached
//		HashKey:   hashKey,          // 32+ bytes, the same on every instance
//		MACKeys:   []cache.MACKey{{ID: 2, Secret: newKey}, {ID: 1, Secret: oldKey}},
//	}, cache.WithLogger(logger), cache.WithRegisterer(registry))
//
// # memcached is untrusted
//
// Anyone who can reach memcached can read and write it, so the shared tier
// trusts it only to forget. An entry's key name is
// "ag1:" + namespace + ":" + base64url(HMAC-SHA256(HashKey, digest)): it
// reveals nothing about the token and differs per hash key. Its value is
//
//	version (1) | MAC key id (1) | expiry (8, big-endian Unix seconds) | payload | MAC (32)
//
// where the MAC is HMAC-SHA256, under the MAC key with that id, of the key
// name followed by everything before the MAC. An entry that is malformed,
// names an unknown key, fails its MAC (written without the key, changed,
// truncated, extended or moved from another key name) or has expired is a
// miss ([ErrMiss]), counted in authgate_cache_rejected_entries_total by
// reason and logged, never an error. Values are readable by anyone who can
// read memcached (package authn stores encoded Principals), so an enricher
// should put no secrets in them.
//
// # memcached is a cache, not a dependency
//
// [Cluster] places keys on a ketama continuum (libmemcached's: services in
// other languages place keys alike), so adding or removing one node of n
// moves about 1/n of the keys. Reads are bounded by 50 ms and writes by
// 100 ms by default. Each node has its own circuit breaker: a node that
// times out, or fails ClusterConfig.BreakerThreshold times in a row, is
// taken out, and its keys go to the next live node on the continuum (the
// gutter, where entries live at most ClusterConfig.GutterTTL) while the
// other nodes serve as before. A background probe puts it back: at once,
// in case the timeout was this process's own stall, then every
// ClusterConfig.BreakerCooldown. authgate_cache_memcache_node_up and the
// log say so. Callers treat any error from the shared tier as a miss.
//
// What must survive the loss of a node — revocation marks, and the refresh
// package's sessions and locks — is written to two nodes (the key's and
// the next on the continuum) and read from either ([Memcache.SetReplicated],
// [Memcache.GetCopies]); [Memcache.SetReplicatedIf] writes a mark that
// must only move forward (a compare-and-swap per copy), and
// [Memcache.GetMulti] reads several keys' copies in one round trip per
// node (one gets of every key a node holds, the nodes at once), so that a
// token's entry and the marks that could revoke it cost one round trip.
// A write that missed a node that was out is
// replayed to it when it rejoins, before it serves again. What a node
// missed while another instance saw it out reaches it when that instance's
// probe finds it, within one BreakerCooldown; until then the copy on the
// other node answers for it. Validated tokens have one copy.
//
// So one node of n out (hung, dead, or back empty) costs no session and no
// logout; in the cache, revalidations of the tokens whose entries were on
// it (about 1/n of the shared misses, each a local verification for a
// JWT); in latency, one timeout for the calls in flight when it hangs, then
// nothing until it returns. Two nodes out at once lose the replicated keys
// they both held.
//
// The commands used are gets (gomemcache's Get sends gets, not get), set,
// add, cas, delete, version and, only to a node that missed more writes
// than ClusterConfig.MaxHints while out, flush_all. Past a handful of
// nodes, front the pool with mcrouter: give the Cluster two nodes, two
// mcrouter endpoints each routing to one replica pool ("PoolRoute|A",
// "PoolRoute|B"), so that replicated keys keep one copy in each pool, read
// from both; a single endpoint with mcrouter's own replication returns the
// first copy found, which need not be the revocation mark. See
// internal/memcached's notes for the configuration and what it costs.
//
// # Remembering what must be accepted once
//
// [Replay] remembers ids (of DPoP proofs) until they expire: [NewReplay] in
// this process, [NewSharedReplay] on every instance, through the shared
// tier's add — the first instance to add an id wins, every later one sees a
// replay. When memcached cannot be asked it falls back on the process's
// memory unless [ReplayConfig].RequireShared says to fail.
package cache
