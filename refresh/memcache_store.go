package refresh

import (
	"context"
	"errors"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
)

// MemcacheStore is a Store on memcached, shared by every instance of the
// service: the same *memcache.Client can serve the validated-token cache.
// A lock is an item added with memcached add — the first writer wins until
// the lock's TTL — whose value is its owner token; Unlock removes it with a
// compare-and-swap that succeeds only while the item still holds that token.
// It is safe for concurrent use.
type MemcacheStore struct {
	c *memcached.Client
}

// NewMemcacheStore returns a Store on client (see cache.NewCluster
// for a client with sensible timeouts and pool size).
func NewMemcacheStore(client *memcache.Client) *MemcacheStore {
	return &MemcacheStore{c: memcached.New(client, memcached.Config{})}
}

// Get implements Store.
func (s *MemcacheStore) Get(ctx context.Context, name string) ([]byte, error) {
	it, err := s.c.Get(ctx, name)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return it.Value, nil
}

// Set implements Store. A ttl past memcached's 30-day limit for relative
// expirations is sent as an absolute time, as memcached requires.
func (s *MemcacheStore) Set(ctx context.Context, name string, value []byte, ttl time.Duration) error {
	exp, ok := memcached.Expiration(ttl, time.Now())
	if !ok {
		return s.Delete(ctx, name)
	}
	return s.c.Set(ctx, &memcache.Item{Key: name, Value: value, Expiration: exp})
}

// Delete implements Store.
func (s *MemcacheStore) Delete(ctx context.Context, name string) error {
	if err := s.c.Delete(ctx, name); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return err
	}
	return nil
}

// Lock implements Store with memcached add.
func (s *MemcacheStore) Lock(ctx context.Context, name, owner string, ttl time.Duration) error {
	exp, ok := memcached.Expiration(ttl, time.Now())
	if !ok {
		return errors.New("refresh: lock TTL must be positive")
	}
	err := s.c.Add(ctx, &memcache.Item{Key: name, Value: []byte(owner), Expiration: exp})
	if errors.Is(err, memcache.ErrNotStored) {
		return ErrLocked
	}
	return err
}

// Unlock implements Store: it reads the lock (gets, which returns its CAS
// id) and, if it holds owner, compare-and-swaps it to an item with a
// negative expiration, which memcached expires at once. A get then delete
// would not do: between the two the lock could expire and be taken by
// another owner, whose lock the delete would remove.
func (s *MemcacheStore) Unlock(ctx context.Context, name, owner string) error {
	it, err := s.c.Get(ctx, name)
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil
	case err != nil:
		return err
	case string(it.Value) != owner:
		return nil
	}
	it.Expiration = -1
	err = s.c.CompareAndSwap(ctx, it)
	if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrCacheMiss) || errors.Is(err, memcache.ErrNotStored) {
		return nil // changed or gone since the get: no longer ours
	}
	return err
}
