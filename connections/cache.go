package connections

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
)

// Cache is the memory every instance shares for what is short-lived: the
// current access tokens (sealed), pending authorizations (sealed), and the
// locks that make one instance at a time refresh a connection. Losing it
// loses nothing durable: the grants live in the Store. It is treated as
// untrusted: names are keyed hashes and values are sealed.
// Implementations are safe for concurrent use.
type Cache interface {
	// Get returns the value under key, or ErrCacheMiss.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key for ttl (> 0).
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Add stores value under key for ttl only if key is absent, else
	// returns ErrNotStored.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key, or returns ErrCacheMiss when it was absent: of
	// two concurrent deletes of a key, exactly one succeeds.
	Delete(ctx context.Context, key string) error
}

// Cache answers.
var (
	ErrCacheMiss = errors.New("connections: cache miss")
	ErrNotStored = errors.New("connections: cache key already present")
)

// memcache is a Cache on memcached through internal/memcached (its
// circuit breaker and context checks).
type memcacheCache struct{ c *memcached.Cluster }

// NewMemcache returns a Cache on the memcached cluster the service's
// other tiers share (cache.NewCluster). Its entries have one copy: a node
// lost costs a pending connection its state (the user starts again) and the
// shared access tokens on it (they are refreshed again), nothing more.
func NewMemcache(cluster *memcached.Cluster) Cache {
	return memcacheCache{cluster}
}

func (m memcacheCache) Get(ctx context.Context, key string) ([]byte, error) {
	it, err := m.c.Get(ctx, key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, ErrCacheMiss
	}
	if err != nil {
		return nil, err
	}
	return it.Value, nil
}

func (m memcacheCache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	exp, ok := memcached.Expiration(ttl, time.Now())
	if !ok {
		return nil
	}
	return m.c.Set(ctx, &memcache.Item{Key: key, Value: value, Expiration: exp})
}

func (m memcacheCache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	exp, ok := memcached.Expiration(ttl, time.Now())
	if !ok {
		return errors.New("connections: Add needs a positive TTL")
	}
	err := m.c.Add(ctx, &memcache.Item{Key: key, Value: value, Expiration: exp})
	if errors.Is(err, memcache.ErrNotStored) {
		return ErrNotStored
	}
	return err
}

func (m memcacheCache) Delete(ctx context.Context, key string) error {
	err := m.c.Delete(ctx, key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return ErrCacheMiss
	}
	return err
}

// MemoryCache is a Cache in this process's memory, for a single instance
// and for tests. Its zero value is not usable; call NewMemoryCache.
type MemoryCache struct {
	now func() time.Time

	mu      sync.Mutex // guards entries and swept
	entries map[string]memoryEntry
	swept   int // len(entries) after the last sweep
}

type memoryEntry struct {
	value   []byte
	expires time.Time
}

// NewMemoryCache returns an empty MemoryCache on the clock now (time.Now
// when nil).
func NewMemoryCache(now func() time.Time) *MemoryCache {
	if now == nil {
		now = time.Now
	}
	return &MemoryCache{now: now, entries: map[string]memoryEntry{}}
}

// Get implements Cache.
func (c *MemoryCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.liveLocked(key)
	if !ok {
		return nil, ErrCacheMiss
	}
	return append([]byte(nil), e.value...), nil
}

// Set implements Cache.
func (c *MemoryCache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(key, value, ttl)
	return nil
}

// Add implements Cache.
func (c *MemoryCache) Add(_ context.Context, key string, value []byte, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.liveLocked(key); ok {
		return ErrNotStored
	}
	c.putLocked(key, value, ttl)
	return nil
}

// Delete implements Cache.
func (c *MemoryCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.liveLocked(key)
	delete(c.entries, key)
	if !ok {
		return ErrCacheMiss
	}
	return nil
}

func (c *MemoryCache) liveLocked(key string) (memoryEntry, bool) {
	e, ok := c.entries[key]
	if ok && !c.now().Before(e.expires) {
		delete(c.entries, key)
		return e, false
	}
	return e, ok
}

// putLocked stores an entry; whenever the map has doubled since its last
// sweep, expired entries are dropped first.
func (c *MemoryCache) putLocked(key string, value []byte, ttl time.Duration) {
	now := c.now()
	if len(c.entries) >= 2*max(c.swept, 512) {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		c.swept = len(c.entries)
	}
	c.entries[key] = memoryEntry{append([]byte(nil), value...), now.Add(ttl)}
}
