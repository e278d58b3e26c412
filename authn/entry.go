package authn

import (
	"errors"

	"github.com/authgate/authgate/claims"
)

// What the shared tier holds under a token's key: a validated Principal, or
// the mark that the token was invalidated (logout, rotation) and must be
// refused by every instance until it expires.
const (
	entryPrincipal byte = 1
	entryRevoked   byte = 2
	// entryMark is a revocation by subject, grant or organization (see
	// marks.go), under a key of its own.
	entryMark byte = 3
)

var errEntry = errors.New("authn: malformed cache entry")

func encodePrincipal(p *claims.Principal) ([]byte, error) {
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append([]byte{entryPrincipal}, b...), nil
}

// decodeEntry reads a shared-tier value: a Principal, or nil for a
// revocation mark.
func decodeEntry(v []byte) (*claims.Principal, error) {
	switch {
	case len(v) == 1 && v[0] == entryRevoked:
		return nil, nil
	case len(v) > 1 && v[0] == entryPrincipal:
		p := new(claims.Principal)
		if err := p.UnmarshalBinary(v[1:]); err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, errEntry
}
