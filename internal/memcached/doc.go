// Package memcached is authgate's access to memcached, shared by the
// validated-token cache (package cache) and the refresh-token store
// (package refresh): gomemcache calls that respect a context that has
// already ended, a circuit breaker, and memcached's expiration rules.
//
// Build one gomemcache client per process with [NewClient], which fails on
// an address that does not resolve (memcache.New would only fail later, on
// every call), and wrap it with [New]:
//
//	mc, err := memcached.NewClient([]string{"memcached:11211"}, 100*time.Millisecond, 64)
//	if err != nil {
//		return err
//	}
//	c := memcached.New(mc, memcached.Config{OnBreakerChange: gauge})
//	exp, ok := memcached.Expiration(ttl, time.Now())
//	if ok {
//		err = c.Set(ctx, &memcache.Item{Key: name, Value: v, Expiration: exp})
//	}
//
// gomemcache takes no context, so a call is bounded by the client's Timeout
// (for the dial and for each read and write), not by the context's
// deadline; a context that has already ended stops the call before it
// starts. Errors are wrapped with the operation ("memcached: get: …"), and
// gomemcache's sentinels (memcache.ErrCacheMiss, ErrNotStored, …) stay
// visible to errors.Is.
//
// # Circuit breaker
//
// A memcached that is down or hangs must not cost every request a timeout.
// After Config.BreakerThreshold consecutive failures (network errors,
// timeouts, server errors, no server) the breaker opens: calls fail at once
// with [ErrBreakerOpen] for Config.BreakerCooldown. Then exactly one call is
// let through as a probe while the others still fail fast; the probe's
// success closes the breaker and its failure opens it for another cooldown.
// Answers such as a miss, a lost add or compare-and-swap race, or a
// malformed key are not failures. While the breaker is closed a call costs
// two atomic loads more than gomemcache's own.
package memcached
