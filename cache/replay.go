package cache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Adder is the one call a shared [Replay] makes of the shared tier: store
// an entry only if its key holds none, and answer [ErrNotStored] when it
// does. [*Memcache] implements it; so may a tier over a replicated cluster,
// as long as an add that any replica refuses is refused.
type Adder interface {
	Add(ctx context.Context, d Digest, e Entry) error
}

// ReplayConfig configures a [Replay]. The zero value is ready to use.
type ReplayConfig struct {
	// MaxEntries bounds the ids held in process. Default 100,000. When it
	// is reached, ids close to expiry are forgotten first (roughly); size it
	// above the proofs a process accepts per second times the window they
	// are remembered for. With a shared tier the process's copy only
	// spares memcached the replays an instance sees twice.
	MaxEntries int
	// RequireShared makes Remember fail, rather than fall back on this
	// process's memory, when the shared tier cannot be asked (memcached
	// down, slow or behind an open circuit breaker): a proof is then
	// refused with 503 until memcached answers, instead of being protected
	// against replay on this instance only.
	RequireShared bool
}

// Replay remembers ids — of DPoP proofs, say — until they expire, so that
// each is accepted once. Built by [NewReplay] it remembers them in this
// process; by [NewSharedReplay], on every instance that shares the
// memcached tier, which is what a service behind a load balancer needs
// (RFC 9449 §11.1). It is safe for concurrent use.
type Replay struct {
	local  *Memory[struct{}]
	shared Adder // nil: this process only
	strict bool
	now    func() time.Time
}

// NewReplay returns a Replay that remembers ids in this process only: for a
// single instance, or where a replay on another instance is acceptable.
// Of opts only [WithClock] applies.
func NewReplay(cfg ReplayConfig, opts ...Option) *Replay {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return &Replay{local: NewMemory[struct{}](MemoryConfig{MaxEntries: cfg.MaxEntries}), strict: cfg.RequireShared, now: o.now}
}

// NewSharedReplay returns a Replay that remembers ids in shared — a
// [*Memcache] every instance uses with the same namespace and keys — with
// memcached's add, which lets one instance only be the first. Of opts only
// [WithClock] applies.
func NewSharedReplay(shared Adder, cfg ReplayConfig, opts ...Option) (*Replay, error) {
	if shared == nil {
		return nil, errors.New("cache: NewSharedReplay needs a shared tier")
	}
	r := NewReplay(cfg, opts...)
	r.shared = shared
	return r, nil
}

// replayMark is the value stored under a remembered id; it is never read.
var replayMark = []byte{'r'}

// replaySlack is added to a shared entry's lifetime: the tier keeps whole
// seconds, rounded down, and memcached's expiry is exact to a second either
// way.
const replaySlack = 2 * time.Second

// Remember records id until expires and reports whether it is new: false
// when id was recorded before (here or, when shared, on any instance) and
// has not expired. An error means the shared tier could not be asked and
// RequireShared is set; without it, such a failure falls back on this
// process's memory.
func (r *Replay) Remember(ctx context.Context, id [32]byte, expires time.Time) (bool, error) {
	now := r.now()
	d := replayDigest(id)
	if !r.local.add(d, struct{}{}, expires, now) {
		return false, nil
	}
	if r.shared == nil {
		return true, nil
	}
	err := r.shared.Add(ctx, d, Entry{Value: replayMark, Expires: expires.Add(replaySlack)})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotStored):
		return false, nil
	case r.strict:
		// Not accepted, so not to be held against a retry.
		r.local.Delete(d)
		return false, fmt.Errorf("cache: replay check: %w", err)
	default:
		return true, nil
	}
}

// replayDigest names id apart from token digests, which share the tiers'
// key space.
func replayDigest(id [32]byte) Digest {
	var b [len("authgate replay v1\x00") + len(id)]byte
	n := copy(b[:], "authgate replay v1\x00")
	copy(b[n:], id[:])
	return sha256.Sum256(b[:])
}

// add stores v under d until expires unless d holds an entry that has not
// expired at now, and reports whether it stored: Set's check-and-store
// under one lock. A full shard evicts as Set does.
func (m *Memory[V]) add(d Digest, v V, expires, now time.Time) bool {
	s := m.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.m[d]
	if ok && old.expires > now.UnixNano() {
		return false
	}
	if !ok && len(s.m) >= m.perShard {
		s.evict(now.UnixNano())
	}
	s.m[d] = entry[V]{v: v, expires: unixNano(expires)}
	return true
}
