package cache

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"io"
	"sync"
)

// hmacPool reuses HMAC-SHA256 states keyed with one secret: building one
// costs several allocations and two SHA-256 blocks, and every shared-tier
// lookup needs two (the key name, the entry's MAC).
type hmacPool struct {
	pool sync.Pool // of *hmacState
}

type hmacState struct {
	h   hash.Hash
	buf [sha256.Size]byte
}

func newHMACPool(secret []byte) *hmacPool {
	key := append([]byte(nil), secret...)
	return &hmacPool{pool: sync.Pool{New: func() any { return &hmacState{h: hmac.New(sha256.New, key)} }}}
}

// sum returns HMAC(secret, a | s | b).
func (p *hmacPool) sum(a []byte, s string, b []byte) [sha256.Size]byte {
	st := p.pool.Get().(*hmacState)
	st.h.Reset()
	st.h.Write(a)
	io.WriteString(st.h, s)
	st.h.Write(b)
	sum := [sha256.Size]byte(st.h.Sum(st.buf[:0]))
	p.pool.Put(st)
	return sum
}
