package authn

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
)

// A revocation mark refuses every token of a subject, of a grant (a
// subject through one client) or of an organization issued before a time
// T. It is kept in this process (for the instance that revoked) and in the
// shared tier (for every other), under a digest of its kind and value:
// not bound to the policy, so that a subject revoked is revoked for every
// API of the namespace, and never naming the subject, client or
// organization in a key (the tier's keyed hash of the digest names it).
type markKind uint8

const (
	markSubject markKind = iota
	markGrant
	markOrganization
	numMarkKinds
)

func (k markKind) String() string {
	switch k {
	case markSubject:
		return "subject"
	case markGrant:
		return "grant"
	}
	return "organization"
}

// markDigest names the mark of kind for values: a SHA-256 of the kind and
// the values, each prefixed with its length so that no two lists of values
// share a digest.
func markDigest(kind markKind, values ...string) cache.Digest {
	var stack [256]byte
	b := append(stack[:0], "authgate authn revocation mark v1\x00"...)
	b = append(b, byte(kind))
	for _, v := range values {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return sha256.Sum256(b)
}

// markSet is the marks that could refuse a token: its subject's, its
// grant's (subject and client) and its organization's, those it has.
type markSet struct {
	n     int
	kinds [numMarkKinds]markKind
	ds    [numMarkKinds]cache.Digest
}

func marksFor(subject, client, org string) markSet {
	var s markSet
	add := func(k markKind, values ...string) {
		s.kinds[s.n], s.ds[s.n] = k, markDigest(k, values...)
		s.n++
	}
	if subject != "" {
		add(markSubject, subject)
		if client != "" {
			add(markGrant, subject, client)
		}
	}
	if org != "" {
		add(markOrganization, org)
	}
	return s
}

func marksOf(p *claims.Principal) markSet { return marksFor(p.Subject, p.AuthorizedParty, p.OrgID) }

func (s *markSet) digests() []cache.Digest { return s.ds[:s.n] }

// refusedBy reports whether a mark of time before refuses p: p was issued
// before it. A token without iat cannot show when it was issued, and is
// refused by every mark that names it.
func refusedBy(p *claims.Principal, before time.Time) bool {
	return p.IssuedAt.IsZero() || p.IssuedAt.Before(before)
}

// A mark's value in the shared tier: entryMark, then T in Unix nanoseconds,
// big-endian.
const markLen = 1 + 8

func encodeMark(before time.Time) []byte {
	v := make([]byte, markLen)
	v[0] = entryMark
	binary.BigEndian.PutUint64(v[1:], uint64(before.UnixNano()))
	return v
}

func decodeMark(v []byte) (time.Time, bool) {
	if len(v) != markLen || v[0] != entryMark {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v[1:]))), true
}

// peekClaims reads, without verifying anything, the claims of a JWT that
// name its marks — sub, azp (else client_id) and org_id — so that a
// shared-tier lookup can fetch the token's entry and its marks in one
// round trip. It is a guess, and a quick one: it looks for each name as
// the compact JSON a provider writes ("sub":"…", no space, no escape in
// the value) and gives up otherwise. The marks checked are always those of
// the Principal the entry holds, fetched in a second round trip when the
// guess differs from it (another claim mapping, an opaque token, a claim
// nested elsewhere under the same name).
func peekClaims(token string) (subject, client, org string, ok bool) {
	_, rest, found := strings.Cut(token, ".")
	if !found {
		return "", "", "", false
	}
	payload, _, found := strings.Cut(rest, ".")
	var buf [maxPeek]byte
	if !found || base64.RawURLEncoding.DecodedLen(len(payload)) > len(buf) {
		return "", "", "", false
	}
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(payload))
	if err != nil {
		return "", "", "", false
	}
	b := buf[:n]
	subject = claimString(b, `"sub":"`)
	if client = claimString(b, `"azp":"`); client == "" {
		client = claimString(b, `"client_id":"`)
	}
	return subject, client, claimString(b, `"org_id":"`), subject != ""
}

// maxPeek bounds the payload peekClaims decodes (a larger one is not
// peeked at); Auth0's tokens are about 1 KB.
const maxPeek = 4 << 10

// claimString returns the value of the first "name":"value" in b, or "".
func claimString(b []byte, prefix string) string {
	i := bytes.Index(b, []byte(prefix))
	if i < 0 {
		return ""
	}
	v := b[i+len(prefix):]
	end := bytes.IndexByte(v, '"')
	if end < 0 || bytes.IndexByte(v[:end], '\\') >= 0 {
		return ""
	}
	return string(v[:end])
}
