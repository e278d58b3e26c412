// Package tokenhash computes the digest by which a token is known inside
// authgate, so that the token itself is never used as a key.
package tokenhash

import (
	"crypto/sha256"
	"unsafe"
)

// Digest is the SHA-256 of a token.
type Digest [sha256.Size]byte

// Sum returns the SHA-256 of token without copying it: the hot path of every
// request hashes the token, and converting a 1 KB string to a new []byte would
// be its only allocation.
func Sum(token string) Digest {
	// sha256.Sum256 only reads its argument, so viewing the string's bytes in
	// place is safe.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}
