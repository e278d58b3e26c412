package refresh

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Store keeps sealed records by name, and the per-name locks that make a
// refresh happen once across every instance of the service. Records reach it
// already encrypted: a Store never sees a refresh token. Implementations are
// safe for concurrent use.
//
// A lock belongs to the owner token its taker chose (a random string, new
// for every Lock): only that owner can release it, so a lock that outlived
// its TTL and was taken by another request is never released by the first.
// The Service holds a lock for Config.Timeout + 5s; each Store operation
// must end well within a second (MemcacheStore: the cluster's timeouts, 50
// and 100 ms with cache.NewCluster's defaults), or a write that started
// before the lock's work was cut off could land after the lock expired.
type Store interface {
	// Get returns the value stored under name, or ErrNotFound.
	Get(ctx context.Context, name string) ([]byte, error)
	// Set stores value under name for ttl.
	Set(ctx context.Context, name string, value []byte, ttl time.Duration) error
	// Delete removes name; an absent name is not an error.
	Delete(ctx context.Context, name string) error
	// Lock takes the lock on name for owner, for at most ttl, or returns
	// ErrLocked if it is held (by anyone, owner included).
	Lock(ctx context.Context, name, owner string, ttl time.Duration) error
	// Unlock releases the lock on name if owner holds it, and does nothing
	// otherwise: a lock that has expired, or was taken since by another
	// owner, is not an error.
	Unlock(ctx context.Context, name, owner string) error
}

// lockReader is a Store that takes a lock and reads a value under it, and
// then writes and releases the lock, in fewer round trips than Lock, Get,
// Set and Unlock: MemcacheStore. The Service uses it when a Store has it.
type lockReader interface {
	// lockGet takes the lock on lock for owner, as Lock does, and once it
	// is held reads name. It returns ErrLocked, or why the lock could not
	// be taken; otherwise the lock is held, and lockedRead says what the
	// read found and how to release it.
	lockGet(ctx context.Context, lock, owner string, ttl time.Duration, name string) (*lockedRead, error)
}

// lockedRead is what lockGet read under the lock it took.
type lockedRead struct {
	value  []byte                          // what name holds, when err is nil
	err    error                           // ErrNotFound, or the store failing
	unlock func(ctx context.Context) error // releases the lock, as Unlock does
	// setThenUnlock stores each entry as Set does, then releases the
	// lock, in one round trip per node where it can; it returns each
	// entry's error and the release's.
	setThenUnlock func(ctx context.Context, entries []entry) ([]error, error)
}

// entry is a value for lockedRead.setThenUnlock to store.
type entry struct {
	name  string
	value []byte
	ttl   time.Duration
}

// Store errors.
var (
	ErrNotFound = errors.New("refresh: no such record")
	ErrLocked   = errors.New("refresh: locked by another refresh")
)

// MemoryStore is a Store in this process's memory, for a single instance or
// for tests. Its zero value is not usable; call NewMemoryStore.
type MemoryStore struct {
	now func() time.Time

	mu      sync.Mutex // guards records, locks and swept
	records map[string]memoryEntry
	locks   map[string]memoryEntry // value is the owner token
	swept   int                    // len(records) after the last sweep
}

type memoryEntry struct {
	value   []byte
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore that reads time from now
// (time.Now when nil).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, records: map[string]memoryEntry{}, locks: map[string]memoryEntry{}}
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.records[name]
	if !ok || !s.now().Before(e.expires) {
		delete(s.records, name)
		return nil, ErrNotFound
	}
	return append([]byte(nil), e.value...), nil
}

// Set implements Store. Whenever the store has doubled since its last
// sweep, expired records are dropped, so abandoned logins do not pile up.
func (s *MemoryStore) Set(_ context.Context, name string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.records) >= 2*max(s.swept, 512) {
		for k, e := range s.records {
			if !now.Before(e.expires) {
				delete(s.records, k)
			}
		}
		for k, l := range s.locks {
			if !now.Before(l.expires) {
				delete(s.locks, k)
			}
		}
		s.swept = len(s.records)
	}
	s.records[name] = memoryEntry{append([]byte(nil), value...), now.Add(ttl)}
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, name)
	return nil
}

// Lock implements Store. The lock's TTL follows the store's clock.
func (s *MemoryStore) Lock(_ context.Context, name, owner string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, held := s.locks[name]; held && s.now().Before(l.expires) {
		return ErrLocked
	}
	s.locks[name] = memoryEntry{[]byte(owner), s.now().Add(ttl)}
	return nil
}

// Unlock implements Store.
func (s *MemoryStore) Unlock(_ context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, held := s.locks[name]; held && string(l.value) == owner {
		delete(s.locks, name)
	}
	return nil
}

// Len returns the number of records held, expired ones included until read.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}
