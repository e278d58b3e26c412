package refresh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
)

// MemcacheStore is a Store on the memcached cluster every instance of the
// service shares (cache.NewCluster; the validated-token cache can use the
// same one). Records and locks are written to two nodes — the key's own and
// the next on the continuum — and read from either, so that losing or
// hanging one node loses no session and leaves every lock held: a write
// that missed a node that was out is replayed to it when it rejoins. A
// lock is an item added with memcached add on both nodes, whose value is
// its owner token; Unlock removes each copy with a compare-and-swap that
// succeeds only while it still holds that token. The Service takes a
// refresh lock and reads the record under it in one call
// (memcached.Cluster.LockAndGet), which also reads the lock's copies, so
// that their release needs no read; it then writes a rotation's three
// records and releases the lock in one pipelined round trip per node
// (memcached.Lock.SetAndUnlock). It is safe for concurrent use.
type MemcacheStore struct {
	c *memcached.Cluster
}

// NewMemcacheStore returns a Store on cluster (cache.NewCluster).
func NewMemcacheStore(cluster *memcached.Cluster) *MemcacheStore {
	return &MemcacheStore{c: cluster}
}

// Get implements Store: the copy on the key's own node, else the other.
func (s *MemcacheStore) Get(ctx context.Context, name string) ([]byte, error) {
	cp, err := s.c.GetReplicated(ctx, name)
	if err != nil {
		return nil, err
	}
	it := cp.Item()
	if it == nil {
		return nil, ErrNotFound
	}
	return it.Value, nil
}

// Set implements Store, on both nodes. A ttl past memcached's 30-day limit
// for relative expirations is sent as an absolute time, as memcached
// requires.
func (s *MemcacheStore) Set(ctx context.Context, name string, value []byte, ttl time.Duration) error {
	exp, ok := memcached.Expiration(ttl, time.Now())
	if !ok {
		return s.Delete(ctx, name)
	}
	_, err := s.c.SetReplicated(ctx, &memcache.Item{Key: name, Value: value, Expiration: exp})
	return err
}

// setThenUnlock stores entries, as Set stores each, then releases l, with
// l.SetAndUnlock; it returns each entry's error and the release's.
func (s *MemcacheStore) setThenUnlock(ctx context.Context, l *memcached.Lock, entries []entry) ([]error, error) {
	errs := make([]error, len(entries))
	var items []*memcache.Item
	var at []int // the entry of each item
	for i, e := range entries {
		exp, ok := memcached.Expiration(e.ttl, time.Now())
		if !ok {
			errs[i] = s.Delete(ctx, e.name)
			continue
		}
		items = append(items, &memcache.Item{Key: e.name, Value: e.value, Expiration: exp})
		at = append(at, i)
	}
	cps, err, unlockErr := l.SetAndUnlock(ctx, items)
	for j, i := range at {
		switch {
		case err != nil:
			errs[i] = err
		case cps[j].Answered() == 0:
			errs[i] = fmt.Errorf("memcached: set: no copy written: %w", errors.Join(cps[j].Errs[0], cps[j].Errs[1]))
		}
	}
	return errs, unlockErr
}

// Delete implements Store, on both nodes.
func (s *MemcacheStore) Delete(ctx context.Context, name string) error {
	_, err := s.c.DeleteReplicated(ctx, name)
	return err
}

// Lock implements Store with memcached add on both nodes. Two owners can
// both hold a lock only when each sees a different one of its two nodes
// out at the same moment.
func (s *MemcacheStore) Lock(ctx context.Context, name, owner string, ttl time.Duration) error {
	_, err := s.c.LockAs(ctx, name, []byte(owner), ttl)
	if errors.Is(err, memcached.ErrLocked) {
		return ErrLocked
	}
	return err
}

// lockGet implements lockReader with Cluster.LockAndGet: the lock's adds,
// then one gets per node for the record and the lock's copies, whose CAS
// ids let the release skip Unlock's read.
func (s *MemcacheStore) lockGet(ctx context.Context, lock, owner string, ttl time.Duration, name string) (*lockedRead, error) {
	l, cps, err := s.c.LockAndGet(ctx, lock, []byte(owner), ttl, []string{name})
	switch {
	case errors.Is(err, memcached.ErrLocked):
		return nil, ErrLocked
	case l == nil:
		return nil, err
	}
	r := &lockedRead{unlock: l.Unlock, err: err}
	r.setThenUnlock = func(ctx context.Context, entries []entry) ([]error, error) {
		return s.setThenUnlock(ctx, l, entries)
	}
	if err == nil {
		if it := cps[0].Item(); it != nil {
			r.value = it.Value
		} else {
			r.err = ErrNotFound
		}
	}
	return r, nil
}

// Unlock implements Store: on each node it reads the lock (gets, which
// returns its CAS id) and, if it holds owner, compare-and-swaps it to an
// item with a negative expiration, which memcached expires at once. A get
// then delete would not do: between the two the lock could expire and be
// taken by another owner, whose lock the delete would remove.
func (s *MemcacheStore) Unlock(ctx context.Context, name, owner string) error {
	return s.c.UnlockAs(ctx, name, []byte(owner))
}
