package connections

import (
	"context"
	"errors"
	"time"
)

// Record is one connection as a Store keeps it: who, at which party, a
// version that grows with every write, and the grant sealed by the
// Service — a Store never sees a token. The seal binds subject, party and
// version: a record copied to another user, party or version does not
// open.
type Record struct {
	Subject string
	Party   string
	Version int64 // 1 for a new record
	Data    []byte
}

// Store keeps connections durably. Implementations are safe for
// concurrent use; their errors other than the sentinels below mean the
// store could not be reached or failed.
type Store interface {
	// Get returns subject's connection to party, or ErrNotFound.
	Get(ctx context.Context, subject, party string) (Record, error)
	// List returns every connection of subject, in no set order.
	List(ctx context.Context, subject string) ([]Record, error)
	// Put writes rec if the stored version is rec.Version-1 (no record
	// stored for version 1), and returns ErrConflict otherwise.
	Put(ctx context.Context, rec Record) error
	// Delete removes subject's connection to party; an absent one is not
	// an error.
	Delete(ctx context.Context, subject, party string) error
}

// Locker is implemented by a Store that can itself make one instance at a
// time refresh a connection (SQLStore: a lease on the row), so that
// refreshes do not depend on the Cache. Without it the Service locks in the
// Cache.
type Locker interface {
	// Lock takes the lock on subject's connection to party for at most
	// ttl, or returns ErrLocked while someone else holds it. release gives
	// it back early.
	Lock(ctx context.Context, subject, party string, ttl time.Duration) (release func(), err error)
}

// Store errors.
var (
	ErrNotFound = errors.New("connections: no such connection")
	ErrConflict = errors.New("connections: the record changed meanwhile")
	ErrLocked   = errors.New("connections: locked by another refresh")
)
