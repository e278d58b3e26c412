package claims

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Decode reads a JSON claims object — a JWT payload, an introspection answer
// or a userinfo answer — into a Principal. It checks the type of every claim
// it reads (exp must be a number, aud a string or an array of strings, …) and
// fails with a *TokenError of ReasonMalformed otherwise, and when two claims
// naming the authorized party disagree. Claims it does not read are not
// checked, beyond the whole input being valid JSON. Of a claim given twice
// the last is read. Decode does not judge the token: expiry, issuer and
// audience are the caller's to check.
//
// It accepts exactly what encoding/json accepts (the same syntax, escapes,
// replacement of invalid UTF-8 and nesting limit) and reads it as
// json.Unmarshal would, but scans the input once and keeps one copy of it:
// every string of the Principal is a piece of that copy.
func (m Mapping) Decode(data []byte) (*Principal, error) {
	spec, ok := m.Preset.spec()
	if !ok {
		return nil, errUnknownPreset(m.Preset)
	}
	s := string(data)
	var (
		values  [numSlots]claimValue
		parties [maxParties]claimValue // the preset's, then client_id
		inline  [8]claimValue
		custom  = inline[:0]
	)
	i := skipSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		if strings.TrimRight(s[i:], jsonSpace) == "null" {
			return nil, malformed("claims are null", nil)
		}
		return nil, errNotJSONObject
	}
	end := scanObject(s, i, 1, func(name string, v value) {
		switch sl, k := m.slotOf(spec, name); sl {
		case slotNone:
		case slotCustom:
			custom = append(custom, claimValue{name, v})
		case slotParty:
			parties[k] = claimValue{name, v}
		default:
			values[sl] = claimValue{name, v}
		}
	})
	if end < 0 || skipSpace(s, end) != len(s) {
		return nil, errNotJSONObject
	}

	p := &Principal{}
	var (
		sub, subject, kindValue string
		partyValues             [maxParties]string
		extraScopes             Set
		err                     error
	)
	for sl, v := range values {
		if v.raw == "" {
			continue
		}
		switch slot(sl) {
		case slotIssuer:
			p.Issuer, err = decodeString(v.value)
		case slotSubject:
			sub, err = decodeString(v.value)
		case slotAudience:
			p.Audience, err = decodeStrings(v.value, true)
		case slotExpiresAt:
			p.ExpiresAt, err = decodeNumericDate(v.raw)
		case slotNotBefore:
			p.NotBefore, err = decodeNumericDate(v.raw)
		case slotIssuedAt:
			p.IssuedAt, err = decodeNumericDate(v.raw)
		case slotTokenID:
			p.TokenID, err = decodeString(v.value)
		case slotScope:
			p.Scopes, err = decodeScope(v.value)
		case slotConfirmation:
			p.Confirmation, err = decodeConfirmation(v.value)
		case slotExtraScopes:
			extraScopes, err = decodeScope(v.value)
		case slotPreferredSubject:
			subject, err = decodeString(v.value)
		case slotGrantType:
			p.GrantType, err = decodeString(v.value)
		case slotKind:
			kindValue, err = decodeString(v.value)
		case slotOrgID:
			p.OrgID, err = decodeString(v.value)
		case slotOrgName:
			p.OrgName, err = decodeString(v.value)
		case slotPermissions:
			var perms []string
			perms, err = decodeStrings(v.value, false)
			p.Permissions = ownedSet(perms)
		case slotKeycloakRoles:
			var perms []string
			perms, err = decodeKeycloakRoles(v.value, m.RolesClient)
			p.Permissions = ownedSet(perms)
		}
		if err != nil {
			return nil, claimError(v.name, err)
		}
	}
	nParties := len(spec.parties) + 1
	for k, v := range parties[:nParties] {
		if v.raw != "" {
			if partyValues[k], err = decodeString(v.value); err != nil {
				return nil, claimError(v.name, err)
			}
		}
	}
	if len(custom) > 0 {
		p.Custom = compactAll(custom)
	}

	hasExtraScopes := values[slotExtraScopes].raw != ""
	if hasExtraScopes {
		p.Scopes = p.Scopes.union(extraScopes)
	}
	p.Subject = sub
	if subject != "" {
		p.Subject = subject
	}
	if err := spec.authorizedParty(p, partyValues[:nParties]); err != nil {
		return nil, err
	}
	p.Kind = m.kindOf(p, spec.isMachine(p, sub, kindValue, values[slotKind].raw != "", hasExtraScopes))
	return p, nil
}

// maxParties bounds the claims that name the authorized party: a preset's
// (two at most, Entra's azp and appid) and client_id.
const maxParties = 3

// value is a JSON value as the scanner found it; raw is "" for a value
// that is absent (a JSON value is never empty).
type value struct {
	raw string
	// plain says that a string has no escapes and is valid UTF-8, so that
	// its content is the bytes between its quotes.
	plain bool
}

// claimValue is a claim as found in the input, its name unescaped.
type claimValue struct {
	name string
	value
}

var errNotJSONObject = malformed("claims are not a JSON object", nil)

func claimError(name string, err error) error {
	return malformed("claim "+strconv.Quote(truncate(name)), err)
}

var (
	errNotString      = errors.New("not a string")
	errNotStringArray = errors.New("not a string or an array of strings")
	errNotNumericDate = errors.New("not a NumericDate (a number of seconds since the epoch)")
	errNotObject      = errors.New("not an object")
)

// The value decoders read values the scanner found valid.

// decodeString reads a JSON string: a plain one is a piece of the input;
// any other is unquoted by encoding/json, so that escapes, surrogates and
// invalid UTF-8 come out as json.Unmarshal makes them.
func decodeString(v value) (string, error) {
	if v.raw[0] != '"' {
		return "", errNotString
	}
	return unquote(v.raw, v.plain), nil
}

// unquote returns the content of the valid JSON string q, which is plain
// or not (see value).
func unquote(q string, plain bool) string {
	if plain {
		return q[1 : len(q)-1]
	}
	var out string
	_ = json.Unmarshal([]byte(q), &out) // q is a valid JSON string
	return out
}

// decodeStrings reads an array of strings (null elements read as "", as
// json.Unmarshal reads them into a []string), or also a single string when
// single is true (as "aud" may be). An empty array is nil.
func decodeStrings(v value, single bool) ([]string, error) {
	if single && v.raw[0] == '"' {
		s, err := decodeString(v)
		return []string{s}, err
	}
	if v.raw[0] != '[' {
		return nil, errNotStringArray
	}
	var (
		inline [16]string
		ss     = inline[:0]
		err    error
	)
	scanArray(v.raw, 0, 1, func(e value) {
		switch e.raw[0] {
		case '"':
			ss = append(ss, unquote(e.raw, e.plain))
		case 'n':
			ss = append(ss, "")
		default:
			err = errNotStringArray
		}
	})
	if err != nil || len(ss) == 0 {
		return nil, err
	}
	return slices.Clone(ss), nil
}

// decodeScope reads a space-delimited scope string, or an array of scope
// names as some providers send.
func decodeScope(v value) (Set, error) {
	if v.raw[0] == '"' {
		s, err := decodeString(v)
		return ownedSet(strings.Fields(s)), err
	}
	ss, err := decodeStrings(v, false)
	return ownedSet(ss), err
}

// decodeKeycloakRoles reads Keycloak's roles: with client "",
// realm_access.roles; otherwise resource_access.<client>.roles. v is the
// realm_access or resource_access claim, which must be an object; the
// client's entry, when present, must be an object, and roles, when
// present, an array of strings.
func decodeKeycloakRoles(v value, client string) ([]string, error) {
	if v.raw[0] != '{' {
		return nil, errNotObject
	}
	if client != "" {
		if v = lastMember(v.raw, client); v.raw == "" {
			return nil, nil
		}
		if v.raw[0] != '{' {
			return nil, fmt.Errorf("%s: %w", strconv.Quote(truncate(client)), errNotObject)
		}
	}
	roles := lastMember(v.raw, "roles")
	if roles.raw == "" {
		return nil, nil
	}
	ss, err := decodeStrings(roles, false)
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	return ss, nil
}

// lastMember returns the last member named name of the valid JSON object
// v (names compared unescaped, as json.Unmarshal compares map keys), or
// the absent value.
func lastMember(v, name string) value {
	var found value
	scanObject(v, 0, 1, func(key string, mv value) {
		if key == name {
			found = mv
		}
	})
	return found
}

// The NumericDate range accepted: the Unix epoch to the end of year 9999.
const maxNumericDate = 253402300799

// decodeNumericDate reads an RFC 7519 NumericDate: a JSON number, possibly
// fractional (the fraction is dropped), between the epoch and year 9999.
// Strings, even of digits, are rejected.
func decodeNumericDate(s string) (time.Time, error) {
	if len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return time.Time{}, errNotNumericDate
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f {
			return time.Time{}, errNotNumericDate
		}
		if f < 0 || f > maxNumericDate {
			return time.Time{}, errNotNumericDate
		}
		sec = int64(f)
	}
	if sec < 0 || sec > maxNumericDate {
		return time.Time{}, errNotNumericDate
	}
	return time.Unix(sec, 0).UTC(), nil
}

// compactAll returns the custom claims as compact JSON (as json.Compact
// writes it), the last of a name winning. The values share one buffer;
// each is capped, so appending to one cannot reach the next.
func compactAll(custom []claimValue) map[string]json.RawMessage {
	size := 0
	for _, c := range custom {
		size += len(c.raw)
	}
	buf := make([]byte, 0, size)
	out := make(map[string]json.RawMessage, len(custom))
	for _, c := range custom {
		start := len(buf)
		buf = appendCompact(buf, c.raw)
		out[c.name] = buf[start:len(buf):len(buf)]
	}
	return out
}

// appendCompact appends the valid JSON value v without the whitespace
// outside its strings.
func appendCompact(b []byte, v string) []byte {
	for i := 0; i < len(v); {
		switch c := v[i]; c {
		case ' ', '\t', '\r', '\n':
			i++
		case '"':
			end, _ := scanString(v, i)
			b = append(b, v[i:end]...)
			i = end
		default:
			b = append(b, c)
			i++
		}
	}
	return b
}

// ownedSet returns the set of items, which it may reorder and keep.
func ownedSet(items []string) Set {
	items = slices.DeleteFunc(items, func(s string) bool { return s == "" })
	if len(items) == 0 {
		return Set{}
	}
	slices.Sort(items)
	return Set{items: slices.Clip(slices.Compact(items))}
}

// The scanner accepts what encoding/json accepts — RFC 8259 syntax, the
// escapes \" \\ \/ \b \f \n \r \t \uXXXX, no control character in a
// string, any other byte (valid UTF-8 or not) in a string, at most maxDepth
// nested arrays and objects — and says where each value ends, or -1 where
// the input is not valid.

// maxDepth is encoding/json's limit on nested arrays and objects.
const maxDepth = 10000

const jsonSpace = " \t\r\n"

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// scanValue scans the value starting at s[i], which depth arrays and
// objects enclose.
func scanValue(s string, i, depth int) (end int, plain bool) {
	if i >= len(s) {
		return -1, false
	}
	switch c := s[i]; {
	case c == '"':
		return scanString(s, i)
	case c == '{':
		return scanObject(s, i, depth+1, nil), false
	case c == '[':
		return scanArray(s, i, depth+1, nil), false
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(s, i), false
	case c == 't':
		return literal(s, i, "true"), false
	case c == 'f':
		return literal(s, i, "false"), false
	case c == 'n':
		return literal(s, i, "null"), false
	}
	return -1, false
}

func literal(s string, i int, lit string) int {
	if strings.HasPrefix(s[i:], lit) {
		return i + len(lit)
	}
	return -1
}

// scanObject scans the object starting at s[i], which is at depth, and
// gives member, when not nil, each member's unescaped name and value.
func scanObject(s string, i, depth int, member func(name string, v value)) int {
	if depth > maxDepth {
		return -1
	}
	if i = skipSpace(s, i+1); i < len(s) && s[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return -1
		}
		nameEnd, namePlain := scanString(s, i)
		if nameEnd < 0 {
			return -1
		}
		name := s[i:nameEnd]
		if i = skipSpace(s, nameEnd); i >= len(s) || s[i] != ':' {
			return -1
		}
		start := skipSpace(s, i+1)
		end, plain := scanValue(s, start, depth)
		if end < 0 {
			return -1
		}
		if member != nil {
			member(unquote(name, namePlain), value{s[start:end], plain})
		}
		var done bool
		if i, done = next(s, end, '}'); done {
			return i
		}
	}
}

// scanArray scans the array starting at s[i], which is at depth, and gives
// element, when not nil, each element.
func scanArray(s string, i, depth int, element func(v value)) int {
	if depth > maxDepth {
		return -1
	}
	if i = skipSpace(s, i+1); i < len(s) && s[i] == ']' {
		return i + 1
	}
	for {
		end, plain := scanValue(s, i, depth)
		if end < 0 {
			return -1
		}
		if element != nil {
			element(value{s[i:end], plain})
		}
		var done bool
		if i, done = next(s, end, ']'); done {
			return i
		}
	}
}

// next reads what follows an object's member or an array's element, which
// ends at s[i]: a comma, and then it returns where the next one starts, or
// the closing bracket, and then it returns where the container ends and
// done — or -1 and done.
func next(s string, i int, closing byte) (int, bool) {
	if i = skipSpace(s, i); i < len(s) {
		switch s[i] {
		case ',':
			return skipSpace(s, i+1), false
		case closing:
			return i + 1, true
		}
	}
	return -1, true
}

// scanString returns where the string starting at s[i] ends (after its
// closing quote), or -1, and whether it is plain: without escapes and in
// valid UTF-8, so that its content is the bytes between the quotes.
func scanString(s string, i int) (end int, plain bool) {
	var high byte // the OR of the bytes seen: its top bit says one was not ASCII
	plain = true
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if plainByte[c] {
			high |= c
			continue
		}
		switch {
		case c == '"':
			if plain && high >= utf8.RuneSelf {
				plain = utf8.ValidString(s[i+1 : j])
			}
			return j + 1, plain
		case c == '\\':
			plain = false
			if j++; j >= len(s) {
				return -1, false
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s) || !isHex(s[j+1]) || !isHex(s[j+2]) || !isHex(s[j+3]) || !isHex(s[j+4]) {
					return -1, false
				}
				j += 4
			default:
				return -1, false
			}
		default: // a control character
			return -1, false
		}
	}
	return -1, false
}

// plainByte tells the bytes a string may hold as they are: all but the
// control characters, the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at s[i].
func scanNumber(s string, i int) int {
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(s, i)
	default:
		return -1
	}
	if i < len(s) && s[i] == '.' {
		if j := digits(s, i+1); j > i+1 {
			i = j
		} else {
			return -1
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if j := digits(s, i); j > i {
			i = j
		} else {
			return -1
		}
	}
	return i
}

func digits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}
