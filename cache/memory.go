package cache

import (
	"math"
	"sync"
	"time"
	"unsafe"
)

// MemoryConfig configures a [Memory]. The zero value is ready to use.
type MemoryConfig struct {
	// MaxEntries bounds the number of entries. Default 100,000.
	MaxEntries int
}

const (
	// maxShards splits the map so that concurrent requests rarely meet on
	// one lock. A digest is uniformly random, so its first byte picks the
	// shard.
	maxShards = 64
	// evictScan is how many entries a full shard looks at before it
	// chooses what to evict.
	evictScan = 32
	// shardSize is the memory a shard takes: with its lock and map in the
	// first 32 bytes, no cache line holds two shards' locks.
	shardSize = 128
)

// Memory is the in-process tier: a map from [Digest] to a value with a
// per-entry expiry, bounded by entry count. It is safe for concurrent use.
//
// The map is split into shards, each with its own lock, and entries are
// stored by value, so Get takes a read lock and does not allocate, and Set
// does not allocate once the map has grown.
//
// The bound is kept per shard, and eviction is approximate: when a shard is
// full, Set looks at a few of its entries (map order, so an arbitrary
// few), drops every expired one among them (by the wall clock: Set is
// given no time), and when none has expired drops the one that expires
// first. An expired entry is never returned, but it takes room until it is
// overwritten, deleted or evicted.
//
// One entry read from many cores at once (a machine client's token, say)
// makes its shard's read lock the point they all meet on; see
// BenchmarkMemoryGet's "hot" runs.
type Memory[V any] struct {
	shards   [maxShards]shard[V]
	mask     byte // the shards in use are shards[:mask+1]
	perShard int  // entries a shard may hold
}

type shard[V any] struct {
	mu sync.RWMutex // guards m
	m  map[Digest]entry[V]
	_  [shardSize - unsafe.Sizeof(sync.RWMutex{}) - unsafe.Sizeof(uintptr(0))]byte
}

type entry[V any] struct {
	v       V
	expires int64 // Unix nanoseconds
}

// NewMemory returns an empty Memory that holds at most cfg.MaxEntries
// entries (and has room for at least seven eighths of that number).
func NewMemory[V any](cfg MemoryConfig) *Memory[V] {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	// n shards of MaxEntries/n entries: a power of two, so that a mask
	// picks the shard, and few enough that rounding down wastes at most an
	// eighth of the room (a small Memory needs no more shards).
	n := maxShards
	for n > 1 && n*8 > cfg.MaxEntries {
		n /= 2
	}
	m := &Memory[V]{mask: byte(n - 1), perShard: cfg.MaxEntries / n}
	for i := range n {
		m.shards[i].m = make(map[Digest]entry[V])
	}
	return m
}

func (m *Memory[V]) shard(d Digest) *shard[V] {
	return &m.shards[d[0]&m.mask%maxShards] // %maxShards spares a bounds check
}

// Get returns the value stored under d if it expires after now, and
// whether it did. It does not allocate.
func (m *Memory[V]) Get(d Digest, now time.Time) (V, bool) {
	s := m.shard(d)
	s.mu.RLock()
	e, ok := s.m[d]
	s.mu.RUnlock()
	if !ok || e.expires <= now.UnixNano() {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Set stores v under d until expires, replacing what d held. It stores
// whatever it is given: whether an entry is worth keeping is the caller's
// decision, and Get will not return one that has expired.
func (m *Memory[V]) Set(d Digest, v V, expires time.Time) {
	s := m.shard(d)
	e := entry[V]{v: v, expires: unixNano(expires)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[d]; !ok && len(s.m) >= m.perShard {
		s.evict(time.Now().UnixNano())
	}
	s.m[d] = e
}

// evict makes room in a full shard: it drops every expired entry among the
// first evictScan it meets (a Go map's iteration starts at a random place),
// or, when none has expired, the one of them that expires first. s.mu is
// held.
func (s *shard[V]) evict(now int64) {
	var soonest Digest
	soonestExpires := int64(math.MaxInt64)
	dropped, seen := false, 0
	for d, e := range s.m {
		switch {
		case e.expires <= now:
			delete(s.m, d)
			dropped = true
		case e.expires <= soonestExpires:
			soonest, soonestExpires = d, e.expires
		}
		if seen++; seen == evictScan {
			break
		}
	}
	if !dropped {
		delete(s.m, soonest)
	}
}

// Delete removes the entry for d, if any.
func (m *Memory[V]) Delete(d Digest) {
	s := m.shard(d)
	s.mu.Lock()
	delete(s.m, d)
	s.mu.Unlock()
}

// DeleteFunc removes every entry for which del returns true, and returns
// how many it removed. It holds one shard's lock at a time, so Gets of
// other shards go on meanwhile, and an entry Set while it runs may or may
// not be seen; del must not call m. It looks at every entry: a revocation
// sweeping the tier, not something for a request's path.
func (m *Memory[V]) DeleteFunc(del func(d Digest, v V) bool) int {
	n := 0
	for i := range int(m.mask) + 1 {
		s := &m.shards[i]
		s.mu.Lock()
		for d, e := range s.m {
			if del(d, e.v) {
				delete(s.m, d)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of entries, counting expired ones that have not
// yet been overwritten, deleted or evicted.
func (m *Memory[V]) Len() int {
	n := 0
	for i := range int(m.mask) + 1 {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// unixNano is t.UnixNano, saturated instead of undefined outside the years
// 1678 to 2262 (a zero time.Time must read as long expired).
func unixNano(t time.Time) int64 {
	const maxSec = math.MaxInt64 / int64(time.Second)
	switch s := t.Unix(); {
	case s >= maxSec:
		return math.MaxInt64
	case s <= -maxSec:
		return math.MinInt64
	}
	return t.UnixNano()
}
