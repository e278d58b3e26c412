package claims

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// encodingVersion is the first byte of every encoded Principal. A decoder
// meeting another version refuses the data, so a change of format makes old
// cache entries misses rather than misreadings.
//
// Version 2 added Confirmation.JKT. Version 1 entries are refused, not read
// as unbound: they were written by code that ignored cnf, so one may hold a
// DPoP-bound token's Principal without its binding.
const encodingVersion = 2

// Presence bits for the optional times.
const (
	hasIssuedAt = 1 << iota
	hasNotBefore
	hasExpiresAt
)

var errEncoding = errors.New("claims: malformed encoded principal")

// MarshalBinary encodes p compactly for the cache. UnmarshalBinary gives back
// a Principal equal to p (reflect.DeepEqual) whenever p's times are in UTC
// and its empty sets and maps are nil, as Mapping.Decode produces them.
//
// Layout (version 2): version byte; Subject, AuthorizedParty, OrgID, OrgName,
// GrantType, Issuer, TokenID, Confirmation.JKT as strings; Scopes, Permissions, Audience as
// string lists; a byte of presence bits then each present time as varint
// seconds and uvarint nanoseconds; Kind; Custom and Enrichment as
// key-sorted lists. A string is a uvarint length and its bytes.
func (p *Principal) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, encodingVersion)
	for _, s := range [...]string{p.Subject, p.AuthorizedParty, p.OrgID, p.OrgName, p.GrantType, p.Issuer, p.TokenID, p.Confirmation.JKT} {
		b = appendString(b, s)
	}
	b = appendStrings(b, p.Scopes.items)
	b = appendStrings(b, p.Permissions.items)
	b = appendStrings(b, p.Audience)

	var flags byte
	times := [...]time.Time{p.IssuedAt, p.NotBefore, p.ExpiresAt}
	for i, t := range times {
		if !t.IsZero() {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	for _, t := range times {
		if !t.IsZero() {
			b = binary.AppendVarint(b, t.Unix())
			b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
		}
	}
	b = append(b, byte(p.Kind))

	b = binary.AppendUvarint(b, uint64(len(p.Custom)))
	for _, k := range slices.Sorted(maps.Keys(p.Custom)) {
		b = appendString(b, k)
		b = appendString(b, string(p.Custom[k]))
	}
	b = binary.AppendUvarint(b, uint64(len(p.Enrichment)))
	for _, k := range slices.Sorted(maps.Keys(p.Enrichment)) {
		b = appendString(b, k)
		b = appendStrings(b, p.Enrichment[k])
	}
	return b, nil
}

// UnmarshalBinary decodes data written by MarshalBinary into p. It rejects
// anything else — another version, truncated or trailing bytes, unsorted
// sets, invalid JSON in a custom claim — without panicking, whatever the
// input.
func (p *Principal) UnmarshalBinary(data []byte) error {
	// One copy of the input backs every string of the Principal: a handful
	// of allocations instead of one per claim.
	d := decoder{s: string(data)}
	if d.byte() != encodingVersion {
		return fmt.Errorf("%w: unknown version", errEncoding)
	}
	var q Principal
	for _, s := range [...]*string{&q.Subject, &q.AuthorizedParty, &q.OrgID, &q.OrgName, &q.GrantType, &q.Issuer, &q.TokenID, &q.Confirmation.JKT} {
		*s = d.string()
	}
	q.Scopes = d.set()
	q.Permissions = d.set()
	q.Audience = d.strings()

	flags := d.byte()
	if flags&^(hasIssuedAt|hasNotBefore|hasExpiresAt) != 0 {
		d.fail()
	}
	for i, t := range [...]*time.Time{&q.IssuedAt, &q.NotBefore, &q.ExpiresAt} {
		if flags&(1<<i) != 0 {
			*t = d.time()
		}
	}
	q.Kind = Kind(d.byte())
	if int(q.Kind) >= len(kindNames) {
		d.fail()
	}

	if n := d.count(2); n > 0 {
		q.Custom = make(map[string]json.RawMessage, n)
		prev := ""
		for i := range n {
			k, v := d.string(), d.string()
			raw := json.RawMessage(v)
			if (i > 0 && k <= prev) || !json.Valid(raw) {
				d.fail()
				break
			}
			q.Custom[k], prev = raw, k
		}
	}
	if n := d.count(2); n > 0 {
		q.Enrichment = make(map[string][]string, n)
		prev := ""
		for i := range n {
			k := d.string()
			if i > 0 && k <= prev {
				d.fail()
				break
			}
			q.Enrichment[k], prev = d.strings(), k
		}
	}
	if d.err || len(d.s) != 0 {
		return errEncoding
	}
	*p = q
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// decoder reads the encoding from s, whose substrings become the
// Principal's strings; after the first error every read returns a zero
// value and err stays set.
type decoder struct {
	s   string
	err bool
}

func (d *decoder) fail() { d.err, d.s = true, "" }

func (d *decoder) byte() byte {
	if len(d.s) < 1 {
		d.fail()
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break // overflows 64 bits
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if i > 0 && c == 0 {
				break // not the shortest encoding: not canonical
			}
			d.s = d.s[i+1:]
			return v
		}
	}
	d.fail()
	return 0
}

// count reads a number of items that each take at least min bytes, refusing
// counts the remaining input cannot hold (so a forged count cannot make the
// decoder allocate).
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.s)/min) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.fail()
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

// set reads a list that must already be sorted and free of duplicates and
// empty strings, as Set keeps it.
func (d *decoder) set() Set {
	ss := d.strings()
	for i, s := range ss {
		if s == "" || (i > 0 && s <= ss[i-1]) {
			d.fail()
			return Set{}
		}
	}
	return Set{items: ss}
}

func (d *decoder) time() time.Time {
	ux := d.uvarint() // zigzag, as binary.AppendVarint writes it
	sec := int64(ux >> 1)
	if ux&1 != 0 {
		sec = ^sec
	}
	nsec := d.uvarint()
	if nsec >= 1e9 || sec == math.MinInt64 {
		d.fail()
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.IsZero() {
		// The zero time is encoded by its absent presence bit, never as a value.
		d.fail()
	}
	return t
}
