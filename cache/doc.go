// Package cache stores the results of token validations in two tiers.
//
// [Memory] is the in-process tier: a sharded map from a token's [Digest] to
// a value with an expiry, bounded by entry count, with no allocation on a
// hit. [Memcache] is the tier every instance of a service shares: entries in
// memcached, named by a keyed hash of the digest under a namespace (so dev,
// int and prod can share one memcached), and authenticated with an HMAC
// under a key the service holds — memcached is trusted only to forget. An
// entry that fails its MAC, does not parse or has expired is a miss, never
// an error, and memcached failing opens a circuit breaker rather than
// slowing requests down:
//
//	client, _ := cache.NewMemcacheClient([]string{"memcached:11211"})
//	shared, err := cache.NewMemcache(client, cache.MemcacheConfig{
//		Namespace: "prod/venue-api",
//		HashKey:   hashKey,                                     // 32+ bytes, same on every instance
//		MACKeys:   []cache.MACKey{{ID: 2, Secret: newKey}, {ID: 1, Secret: oldKey}},
//	})
//
// Entries are opaque bytes here; package authn stores encoded Principals.
// Anyone who can read memcached sees those (never a token), so put no
// secrets in an enricher's output.
package cache
