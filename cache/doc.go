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
// times out, or fails repeatedly, is taken out — it costs at most one
// timeout per detection, not one per request — and its keys go to the next
// live node on the continuum (the gutter, where entries live at most
// ClusterConfig.GutterTTL) while the other nodes serve as before; a
// background probe puts it back. authgate_cache_memcache_node_up and the
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
// other node answers for it. Validated tokens have one copy: losing a node
// costs their revalidation, nothing more.
//
// The commands used are get (sent as gets), set, add, cas, delete, version
// and, only after a node missed more writes than ClusterConfig.MaxHints,
// flush_all. Behind mcrouter, give the Cluster one node (the local
// mcrouter), route gets as get, and replicate the keys of marks and
// sessions with mcrouter's own routes; see internal/memcached's notes.
package cache
