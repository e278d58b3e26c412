// Package seal encrypts small records at rest with AES-256-GCM under
// rotating keys: the newest key seals, every listed key opens, and the key
// id travels in the record. Associated data binds a record to where it
// belongs, so one moved elsewhere does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// Key is an AES-256 key and the id written into every record it seals.
type Key struct {
	ID     byte
	Secret []byte // 32 bytes
}

// version is the first byte of a sealed record.
const version = 1

// ErrOpen is every failure to open: a record that is tampered, cut, moved
// (other associated data) or sealed under a key that is not listed.
var ErrOpen = errors.New("seal: record does not open under any known key")

// Box seals and opens records. It is safe for concurrent use.
type Box struct {
	current byte
	aeads   map[byte]cipher.AEAD
}

// New returns a Box that seals with keys[0] and opens with any of keys.
func New(keys []Key) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: at least one encryption key is required")
	}
	b := &Box{current: keys[0].ID, aeads: make(map[byte]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("seal: encryption key %d must be 32 bytes (AES-256), not %d", k.ID, len(k.Secret))
		}
		if _, dup := b.aeads[k.ID]; dup {
			return nil, fmt.Errorf("seal: encryption key id %d given twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		b.aeads[k.ID] = aead
	}
	return b, nil
}

// Seal returns version | key id | nonce | ciphertext-and-tag. The header
// (version and key id) is authenticated with ad.
func (b *Box) Seal(plaintext, ad []byte) []byte {
	aead := b.aeads[b.current]
	n := aead.NonceSize()
	out := make([]byte, 2+n, 2+n+len(plaintext)+aead.Overhead())
	out[0], out[1] = version, b.current
	rand.Read(out[2 : 2+n]) // never fails (Go 1.24+: it crashes the program instead)
	return aead.Seal(out, out[2:2+n], plaintext, header(out[:2], ad))
}

// Open returns the plaintext of sealed, or ErrOpen.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 2 || sealed[0] != version {
		return nil, ErrOpen
	}
	aead, ok := b.aeads[sealed[1]]
	if !ok || len(sealed) < 2+aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[2:2+n], sealed[2+n:], header(sealed[:2], ad))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

func header(h, ad []byte) []byte {
	return append(append(make([]byte, 0, len(h)+len(ad)), h...), ad...)
}

// AD builds associated data from parts, each length-prefixed so that no two
// lists of parts give the same bytes ("a|b", "c" differs from "a", "b|c").
func AD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}
