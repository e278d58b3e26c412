package authn

import (
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
)

// SharedDigest returns the digest under which a keeps token's entries in
// the shared tier, for tests that look at memcached directly.
func SharedDigest(a *Authenticator, token string) cache.Digest {
	return a.sharedDigest(cache.DigestOf(token))
}

// EncodePrincipal is the shared tier's form of p.
func EncodePrincipal(p *claims.Principal) []byte {
	v, err := encodePrincipal(p)
	if err != nil {
		panic(err)
	}
	return v
}
