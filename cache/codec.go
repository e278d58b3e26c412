package cache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

// The stored form of an entry (version 1), all of it authenticated:
//
//	offset  size  field
//	0       1     version, 1
//	1       1     MAC key id (MACKey.ID)
//	2       8     expiry: Unix seconds, big-endian, two's complement
//	10      n     payload (Entry.Value)
//	10+n    32    HMAC-SHA256 under the MAC key's secret of
//	              key name | bytes 0 to 10+n
//
// The MAC covers the memcached key name too, so an entry cannot be moved to
// another key, and the whole value before it, so it cannot be changed,
// truncated or extended. The expiry is whole seconds, rounded down.
const (
	entryVersion = 1
	headerLen    = 1 + 1 + 8
	macLen       = sha256.Size
)

// Key names are keyPrefix + namespace + ":" + base64url(HMAC-SHA256(HashKey,
// digest)), at most maxKeyName bytes, well within memcached's 250.
const (
	keyPrefix      = "ag1:"
	maxNamespace   = 64
	encodedNameLen = 43 // base64.RawURLEncoding.EncodedLen(sha256.Size)
	maxKeyName     = len(keyPrefix) + maxNamespace + 1 + encodedNameLen
	// logNameLen is how much of a key name's hash a log line shows.
	logNameLen = 8
)

// reason says why an entry read from memcached was refused.
type reason uint8

const (
	accepted reason = iota
	rejectMalformed
	rejectUnknownKey
	rejectBadMAC
	rejectExpired
	numReasons
)

// String returns the reason's metric label.
func (r reason) String() string {
	switch r {
	case rejectMalformed:
		return "malformed"
	case rejectUnknownKey:
		return "unknown_key"
	case rejectBadMAC:
		return "bad_mac"
	case rejectExpired:
		return "expired"
	}
	return "accepted"
}

// codec names entries and turns them into stored bytes and back. It is
// safe for concurrent use.
type codec struct {
	prefix string         // keyPrefix + namespace + ":"
	names  *hmacPool      // keyed with the hash key
	signID byte           // the key new entries are signed with
	macs   [256]*hmacPool // by key id; nil for an unknown id
}

func newCodec(cfg MemcacheConfig) (*codec, error) {
	if err := checkNamespace(cfg.Namespace); err != nil {
		return nil, err
	}
	if len(cfg.HashKey) < 32 {
		return nil, fmt.Errorf("cache: MemcacheConfig.HashKey must be at least 32 bytes, has %d", len(cfg.HashKey))
	}
	if len(cfg.MACKeys) == 0 {
		return nil, errors.New("cache: MemcacheConfig.MACKeys needs at least one key")
	}
	c := &codec{
		prefix: keyPrefix + cfg.Namespace + ":",
		names:  newHMACPool(cfg.HashKey),
		signID: cfg.MACKeys[0].ID,
	}
	for _, k := range cfg.MACKeys {
		if len(k.Secret) < 32 {
			return nil, fmt.Errorf("cache: MemcacheConfig.MACKeys: key %d must be at least 32 bytes, has %d", k.ID, len(k.Secret))
		}
		if c.macs[k.ID] != nil {
			return nil, fmt.Errorf("cache: MemcacheConfig.MACKeys: key id %d given twice", k.ID)
		}
		c.macs[k.ID] = newHMACPool(k.Secret)
	}
	return c, nil
}

// checkNamespace makes sure a namespace keeps key names within memcached's
// rules: printable ASCII, no space, and short enough.
func checkNamespace(ns string) error {
	if len(ns) == 0 || len(ns) > maxNamespace {
		return fmt.Errorf("cache: MemcacheConfig.Namespace must be 1 to %d characters, has %d", maxNamespace, len(ns))
	}
	for i := range len(ns) {
		if ns[i] <= ' ' || ns[i] > '~' {
			return fmt.Errorf("cache: MemcacheConfig.Namespace %q has a space, control or non-ASCII byte at %d", ns, i)
		}
	}
	return nil
}

// appendKeyName appends the key name of d to dst.
func (c *codec) appendKeyName(dst []byte, d Digest) []byte {
	sum := c.names.sum(d[:], nil)
	dst = append(dst, c.prefix...)
	return base64.RawURLEncoding.AppendEncode(dst, sum[:])
}

// seal returns the stored form of e under name, authenticated with the
// MAC key id, which must be known.
func (c *codec) seal(name []byte, e Entry, id byte) []byte {
	v := make([]byte, headerLen, headerLen+len(e.Value)+macLen)
	v[0], v[1] = entryVersion, id
	binary.BigEndian.PutUint64(v[2:headerLen], uint64(e.Expires.Unix()))
	v = append(v, e.Value...)
	tag := c.macs[id].sum(name, v)
	return append(v, tag[:]...)
}

// open checks v, read from memcached under name, and returns its entry, or
// why it is refused. The entry's Value is a part of v.
func (c *codec) open(name, v []byte, now time.Time) (Entry, reason) {
	if len(v) < headerLen+macLen || v[0] != entryVersion {
		return Entry{}, rejectMalformed
	}
	mac := c.macs[v[1]]
	if mac == nil {
		return Entry{}, rejectUnknownKey
	}
	body, tag := v[:len(v)-macLen], v[len(v)-macLen:]
	want := mac.sum(name, body)
	if !hmac.Equal(tag, want[:]) {
		return Entry{}, rejectBadMAC
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(v[2:headerLen])), 0)
	if !now.Before(expires) {
		return Entry{}, rejectExpired
	}
	return Entry{Value: body[headerLen:len(body):len(body)], Expires: expires}, accepted
}

// hmacPool reuses HMAC-SHA256 states keyed with one secret: building one
// costs allocations and two SHA-256 blocks, and every shared-tier lookup
// needs two HMACs (the key name, the entry's MAC). It is safe for
// concurrent use.
type hmacPool struct {
	pool sync.Pool // of *hmacState
}

type hmacState struct {
	h       hash.Hash
	scratch [maxKeyName]byte // sum's a passes through it
	out     [sha256.Size]byte
}

func newHMACPool(secret []byte) *hmacPool {
	key := append([]byte(nil), secret...)
	return &hmacPool{pool: sync.Pool{New: func() any {
		return &hmacState{h: hmac.New(sha256.New, key)}
	}}}
}

// sum returns HMAC-SHA256(secret, a | b). a, a digest or a key name, is
// copied into the state before it is hashed, so that it does not escape
// and a caller's array for it can stay on the stack; b, the bulk of a
// stored entry, is hashed where it is.
func (p *hmacPool) sum(a, b []byte) [sha256.Size]byte {
	st := p.pool.Get().(*hmacState)
	st.h.Reset()
	for len(a) > 0 {
		n := copy(st.scratch[:], a)
		st.h.Write(st.scratch[:n])
		a = a[n:]
	}
	st.h.Write(b)
	sum := [sha256.Size]byte(st.h.Sum(st.out[:0]))
	p.pool.Put(st)
	return sum
}
