package cache

import (
	"sync"
	"time"

	"github.com/authgate/authgate/internal/tokenhash"
)

// Digest identifies a token in both tiers: the SHA-256 of the token. The
// token itself is never a key.
type Digest [32]byte

// DigestOf returns the digest of token without allocating.
func DigestOf(token string) Digest { return Digest(tokenhash.Sum(token)) }

// MemoryConfig configures a Memory.
type MemoryConfig struct {
	// MaxEntries bounds the number of entries. Default 100,000.
	MaxEntries int
}

// shardCount splits the map so that concurrent requests rarely meet on one
// lock. The digest is uniformly random, so its first byte picks a shard.
const shardCount = 64

// evictSample is how many entries a full shard looks at to choose a victim.
const evictSample = 8

// Memory is the in-process tier: a map from digest to value with a
// per-entry expiry, bounded by entry count. When a shard is full, Set evicts
// the entry that expires first among a few it samples — approximate, cheap,
// and it never evicts for nothing. It is safe for concurrent use.
type Memory[V any] struct {
	shards   [shardCount]shard[V]
	perShard int
}

type shard[V any] struct {
	mu sync.RWMutex // guards m
	m  map[Digest]entry[V]
	_  [40]byte // keeps neighbouring shards' locks off one cache line
}

type entry[V any] struct {
	v       V
	expires int64 // Unix nanoseconds
}

// NewMemory returns an empty Memory.
func NewMemory[V any](cfg MemoryConfig) *Memory[V] {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	m := &Memory[V]{perShard: max(1, (cfg.MaxEntries+shardCount-1)/shardCount)}
	for i := range m.shards {
		m.shards[i].m = make(map[Digest]entry[V])
	}
	return m
}

func (m *Memory[V]) shard(d Digest) *shard[V] { return &m.shards[d[0]%shardCount] }

// Get returns the value stored under d if it has not expired at now. It
// does not allocate.
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

// Set stores v under d until expires.
func (m *Memory[V]) Set(d Digest, v V, expires time.Time) {
	s := m.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[d]; !ok && len(s.m) >= m.perShard {
		s.evict()
	}
	s.m[d] = entry[V]{v: v, expires: expires.UnixNano()}
}

// evict removes the entry expiring first among a sample; s.mu is held. Map
// iteration starts at a random place, which makes the sample random.
func (s *shard[V]) evict() {
	var victim Digest
	soonest, n := int64(0), 0
	for d, e := range s.m {
		if n == 0 || e.expires < soonest {
			victim, soonest = d, e.expires
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(s.m, victim)
}

// Delete removes d.
func (m *Memory[V]) Delete(d Digest) {
	s := m.shard(d)
	s.mu.Lock()
	delete(s.m, d)
	s.mu.Unlock()
}

// Len returns the number of entries, expired ones included until evicted
// or overwritten.
func (m *Memory[V]) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
