package refresh

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
)

// MemcacheStore is a Store on memcached, shared by every instance of the
// service: the same *memcache.Client can serve the validated-token cache.
// Its locks are memcached add: the first writer wins until the lock's TTL.
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

// Lock implements Store with memcached add. Release deletes the lock only
// while it still holds this caller's id, so a lock that outlived its TTL and
// was taken by someone else is left alone.
func (s *MemcacheStore) Lock(ctx context.Context, name string, ttl time.Duration) (func(), error) {
	exp, ok := memcached.Expiration(ttl, time.Now())
	if !ok {
		return nil, errors.New("refresh: lock TTL must be positive")
	}
	id := []byte(rand.Text())
	err := s.c.Add(ctx, &memcache.Item{Key: name, Value: id, Expiration: exp})
	if errors.Is(err, memcache.ErrNotStored) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, err
	}
	return func() {
		// The request's context may be done by now; releasing is cleanup.
		ctx := context.WithoutCancel(ctx)
		if it, err := s.c.Get(ctx, name); err == nil && string(it.Value) == string(id) {
			_ = s.c.Delete(ctx, name)
		}
	}, nil
}
