package tokenvalidator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"sync"
	"sync/atomic"
	"time"
)

// nonces issues and checks stateless DPoP server nonces (RFC 9449 §8, §9).
// Time is cut into windows of one lifetime; the nonce of window w is
// base64url(w as 8 bytes big-endian ‖ the first 16 bytes of HMAC-SHA256
// under the secret of a label and w). It cannot be predicted without the
// secret, every instance with the secret issues and accepts the same one,
// and a nonce is accepted in its own window and the next: for one to two
// lifetimes. Safe for concurrent use.
type nonces struct {
	lifetime time.Duration
	macs     sync.Pool                   // of hash.Hash keyed with the secret
	current  atomic.Pointer[issuedNonce] // the last window's nonce, kept to spare an HMAC per request
}

type issuedNonce struct {
	window int64
	nonce  string
}

const (
	nonceMACLen = 16
	nonceLen    = 32 // base64url of 8 + nonceMACLen bytes
	nonceLabel  = "authgate dpop nonce v1"
)

func newNonces(secret []byte, lifetime time.Duration) *nonces {
	key := append([]byte(nil), secret...)
	n := &nonces{lifetime: lifetime}
	n.macs.New = func() any { return hmac.New(sha256.New, key) }
	return n
}

func (n *nonces) window(now time.Time) int64 { return now.UnixNano() / int64(n.lifetime) }

// mac returns the MAC of window w.
func (n *nonces) mac(w int64) [nonceMACLen]byte {
	m := n.macs.Get().(hash.Hash)
	m.Reset()
	var buf [len(nonceLabel) + 8]byte
	copy(buf[:], nonceLabel)
	binary.BigEndian.PutUint64(buf[len(nonceLabel):], uint64(w))
	m.Write(buf[:])
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	n.macs.Put(m)
	return [nonceMACLen]byte(sum[:nonceMACLen])
}

// issue returns the nonce of now's window.
func (n *nonces) issue(now time.Time) string {
	w := n.window(now)
	if c := n.current.Load(); c != nil && c.window == w {
		return c.nonce
	}
	var raw [8 + nonceMACLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(w))
	mac := n.mac(w)
	copy(raw[8:], mac[:])
	c := &issuedNonce{window: w, nonce: base64.RawURLEncoding.EncodeToString(raw[:])}
	n.current.Store(c)
	return c.nonce
}

// check reports whether nonce is one of now's window or the one before
// (current), and whether it is now's (fresh).
func (n *nonces) check(nonce string, now time.Time) (current, fresh bool) {
	var raw [8 + nonceMACLen]byte
	if len(nonce) != nonceLen {
		return false, false
	}
	if k, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(nonce)); err != nil || k != len(raw) {
		return false, false
	}
	w, cur := int64(binary.BigEndian.Uint64(raw[:8])), n.window(now)
	if w != cur && w != cur-1 {
		return false, false
	}
	mac := n.mac(w)
	if !hmac.Equal(mac[:], raw[8:]) {
		return false, false
	}
	return true, w == cur
}
