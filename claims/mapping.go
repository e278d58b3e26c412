package claims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Mapping says where a provider puts what authgate reads, and which clients
// are the service's own. The zero Mapping reads Auth0's claim names. A Mapping
// is not changed by Decode and is safe for concurrent use.
type Mapping struct {
	// OrgIDClaim names the organization id claim; default "org_id".
	OrgIDClaim string
	// OrgNameClaim names the organization name claim; default "org_name".
	OrgNameClaim string
	// PermissionsClaim names the RBAC permissions array; default "permissions".
	PermissionsClaim string
	// CustomClaimPrefixes selects the custom claims kept in Principal.Custom:
	// those whose name starts with one of the prefixes. Default: URL-like
	// names ("https://", "http://"), as Auth0 recommends for custom claims.
	CustomClaimPrefixes []string
	// FirstPartyClients lists the client ids of the service's own apps. A
	// user's token whose authorized party is not among them is KindDelegated
	// (a partner app acting for the user). When empty, no token is delegated.
	FirstPartyClients []string
}

var defaultCustomPrefixes = []string{"https://", "http://"}

// The NumericDate range accepted: the Unix epoch to the end of year 9999.
const maxNumericDate = 253402300799

// Decode reads a JSON claims object — a JWT payload, an introspection answer
// or a userinfo answer — into a Principal. It checks the type of every claim
// it reads (exp must be a number, aud a string or an array of strings, …) and
// fails with a *TokenError of ReasonMalformed otherwise. Decode does not judge
// the token: expiry, issuer and audience are the caller's to check.
func (m Mapping) Decode(data []byte) (*Principal, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, malformed("claims are not a JSON object", nil)
	}
	if raw == nil {
		return nil, malformed("claims are null", nil)
	}
	p := &Principal{}
	var clientID string
	var err error
	for name, v := range raw {
		switch name {
		case "iss":
			p.Issuer, err = decodeString(v)
		case "sub":
			p.Subject, err = decodeString(v)
		case "azp":
			p.AuthorizedParty, err = decodeString(v)
		case "client_id":
			clientID, err = decodeString(v)
		case "gty":
			p.GrantType, err = decodeString(v)
		case "jti":
			p.TokenID, err = decodeString(v)
		case "aud":
			p.Audience, err = decodeStrings(v, true)
		case "exp":
			p.ExpiresAt, err = decodeNumericDate(v)
		case "nbf":
			p.NotBefore, err = decodeNumericDate(v)
		case "iat":
			p.IssuedAt, err = decodeNumericDate(v)
		case "scope":
			p.Scopes, err = decodeScope(v)
		case "cnf":
			p.Confirmation, err = decodeConfirmation(v)
		case m.orgIDClaim():
			p.OrgID, err = decodeString(v)
		case m.orgNameClaim():
			p.OrgName, err = decodeString(v)
		case m.permissionsClaim():
			var perms []string
			perms, err = decodeStrings(v, false)
			p.Permissions = NewSet(perms...)
		default:
			if m.isCustom(name) {
				err = p.addCustom(name, v)
			}
		}
		if err != nil {
			return nil, malformed("claim "+strconv.Quote(truncate(name)), err)
		}
	}
	switch {
	case p.AuthorizedParty == "":
		p.AuthorizedParty = clientID
	case clientID != "" && clientID != p.AuthorizedParty:
		return nil, malformed("azp and client_id disagree", nil)
	}
	p.Kind = m.kindOf(p)
	return p, nil
}

// kindOf tells machines from users and users from partner apps. A client id
// in sub (RFC 9068 client-credentials tokens) or Auth0's "@clients" suffix
// marks a machine, so a client can never pass for a user (RFC 9700 §4.15).
func (m Mapping) kindOf(p *Principal) Kind {
	switch {
	case p.GrantType == "client-credentials" || p.GrantType == "client_credentials",
		strings.HasSuffix(p.Subject, "@clients"),
		p.Subject != "" && p.Subject == p.AuthorizedParty:
		return KindMachine
	case len(m.FirstPartyClients) > 0 && !slices.Contains(m.FirstPartyClients, p.AuthorizedParty):
		return KindDelegated
	default:
		return KindUser
	}
}

// KindOf recomputes the Kind of p under this mapping's FirstPartyClients.
func (m Mapping) KindOf(p *Principal) Kind { return m.kindOf(p) }

func (m Mapping) orgIDClaim() string       { return orDefault(m.OrgIDClaim, "org_id") }
func (m Mapping) orgNameClaim() string     { return orDefault(m.OrgNameClaim, "org_name") }
func (m Mapping) permissionsClaim() string { return orDefault(m.PermissionsClaim, "permissions") }

func (m Mapping) isCustom(name string) bool {
	prefixes := m.CustomClaimPrefixes
	if prefixes == nil {
		prefixes = defaultCustomPrefixes
	}
	for _, prefix := range prefixes {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

func (p *Principal) addCustom(name string, v json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return err
	}
	if p.Custom == nil {
		p.Custom = make(map[string]json.RawMessage)
	}
	p.Custom[name] = buf.Bytes()
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var (
	errNotString      = errors.New("not a string")
	errNotStringArray = errors.New("not a string or an array of strings")
	errNotNumericDate = errors.New("not a NumericDate (a number of seconds since the epoch)")
)

func decodeString(v json.RawMessage) (string, error) {
	if len(v) == 0 || v[0] != '"' {
		return "", errNotString
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errNotString
	}
	return s, nil
}

// decodeStrings reads an array of strings, or also a single string when
// single is true (as "aud" may be).
func decodeStrings(v json.RawMessage, single bool) ([]string, error) {
	if single && len(v) > 0 && v[0] == '"' {
		s, err := decodeString(v)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	if len(v) == 0 || v[0] != '[' {
		return nil, errNotStringArray
	}
	var ss []string
	if err := json.Unmarshal(v, &ss); err != nil {
		return nil, errNotStringArray
	}
	if len(ss) == 0 {
		return nil, nil
	}
	return ss, nil
}

// decodeScope reads a space-delimited scope string, or an array of scope
// names as some providers send.
func decodeScope(v json.RawMessage) (Set, error) {
	if len(v) > 0 && v[0] == '"' {
		s, err := decodeString(v)
		return ParseScope(s), err
	}
	ss, err := decodeStrings(v, false)
	return NewSet(ss...), err
}

// decodeNumericDate reads an RFC 7519 NumericDate: a JSON number, possibly
// fractional (the fraction is dropped), between the epoch and year 9999.
// Strings, even of digits, are rejected.
func decodeNumericDate(v json.RawMessage) (time.Time, error) {
	s := string(v)
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

func malformed(what string, err error) *TokenError {
	if err != nil {
		return Invalid(ReasonMalformed, fmt.Errorf("claims: %s: %w", what, err))
	}
	return Invalid(ReasonMalformed, errors.New("claims: "+what))
}

// truncate shortens attacker-controlled text before it goes into an error.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// Canonical describes everything in m that decides what Decode makes of a
// claims set, defaults resolved and lists sorted, so that two Mappings that
// decode alike describe alike. Cache entries are bound to it: a Principal
// decoded under one mapping is never served to a service with another.
func (m Mapping) Canonical() string {
	prefixes := m.CustomClaimPrefixes
	if prefixes == nil {
		prefixes = defaultCustomPrefixes
	}
	var b strings.Builder
	field := func(name string, values ...string) {
		b.WriteString(name)
		b.WriteByte('=')
		for i, v := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(v))
		}
		b.WriteByte(';')
	}
	field("org_id", m.orgIDClaim())
	field("org_name", m.orgNameClaim())
	field("permissions", m.permissionsClaim())
	field("custom_prefixes", sortedCopy(prefixes)...)
	field("first_party", sortedCopy(m.FirstPartyClients)...)
	return b.String()
}

func sortedCopy(ss []string) []string {
	c := slices.Clone(ss)
	slices.Sort(c)
	return slices.Compact(c)
}
