package cache

import "github.com/authgate/authgate/internal/tokenhash"

// Digest identifies a token in both tiers: the SHA-256 of the token. The
// token itself is never a key, in memory or in memcached.
type Digest [32]byte

// DigestOf returns the digest of token. It does not allocate.
func DigestOf(token string) Digest { return Digest(tokenhash.Sum(token)) }
