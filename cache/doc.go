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
//	client, err := cache.NewMemcacheClient([]string{"memcached:11211"})
//	shared, err := cache.NewMemcache(client, cache.MemcacheConfig{
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
// Calls are bounded by the client's timeout (100 ms with
// [NewMemcacheClient]). After consecutive failures a circuit breaker opens
// and calls fail at once until a probe finds memcached answering again;
// authgate_cache_memcache_breaker_open and the log say so. Callers treat
// any error from the shared tier as a miss.
//
// # Remembering what must be accepted once
//
// [Replay] remembers ids (of DPoP proofs) until they expire: [NewReplay] in
// this process, [NewSharedReplay] on every instance, through the shared
// tier's add — the first instance to add an id wins, every later one sees a
// replay. When memcached cannot be asked it falls back on the process's
// memory unless [ReplayConfig].RequireShared says to fail.
package cache
