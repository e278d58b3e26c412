package claims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// This file keeps the decoder Decode replaced — json.Unmarshal into a map
// of json.RawMessage, then each claim decoded with encoding/json — as the
// reference the scanner is tested against (TestDecodeMatchesReference,
// FuzzDecodeMatchesReference): the same verdict, the same rejection reason
// and the same Principal on every input. Only what reads JSON differs; the
// slots, the authorized party and the kind are shared code.

// DecodeReference is the reference decoder, for the tests of package
// claims_test.
func DecodeReference(m Mapping, data []byte) (*Principal, error) { return m.decodeReference(data) }

func (m Mapping) decodeReference(data []byte) (*Principal, error) {
	spec, ok := m.Preset.spec()
	if !ok {
		return nil, errUnknownPreset(m.Preset)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, malformed("claims are not a JSON object", nil)
	}
	if raw == nil {
		return nil, malformed("claims are null", nil)
	}
	p := &Principal{}
	var (
		sub, subject, kindValue string
		parties                 = make([]string, len(spec.parties)+1) // the preset's, then client_id
		extraScopes             Set
		hasExtraScopes          bool
		hasKindClaim            bool
		err                     error
	)
	for name, v := range raw {
		switch slot, i := m.slotOf(spec, name); slot {
		case slotIssuer:
			p.Issuer, err = refString(v)
		case slotSubject:
			sub, err = refString(v)
		case slotAudience:
			p.Audience, err = refStrings(v, true)
		case slotExpiresAt:
			p.ExpiresAt, err = decodeNumericDate(string(v))
		case slotNotBefore:
			p.NotBefore, err = decodeNumericDate(string(v))
		case slotIssuedAt:
			p.IssuedAt, err = decodeNumericDate(string(v))
		case slotTokenID:
			p.TokenID, err = refString(v)
		case slotScope:
			p.Scopes, err = refScope(v)
		case slotConfirmation:
			p.Confirmation, err = refConfirmation(v)
		case slotParty:
			parties[i], err = refString(v)
		case slotExtraScopes:
			extraScopes, err = refScope(v)
			hasExtraScopes = true
		case slotPreferredSubject:
			subject, err = refString(v)
		case slotGrantType:
			p.GrantType, err = refString(v)
		case slotKind:
			kindValue, err = refString(v)
			hasKindClaim = true
		case slotOrgID:
			p.OrgID, err = refString(v)
		case slotOrgName:
			p.OrgName, err = refString(v)
		case slotPermissions:
			var perms []string
			perms, err = refStrings(v, false)
			p.Permissions = NewSet(perms...)
		case slotKeycloakRoles:
			var perms []string
			perms, err = refKeycloakRoles(v, m.RolesClient)
			p.Permissions = NewSet(perms...)
		case slotCustom:
			err = refCustom(p, name, v)
		}
		if err != nil {
			return nil, malformed("claim "+strconv.Quote(truncate(name)), err)
		}
	}
	if hasExtraScopes {
		p.Scopes = p.Scopes.union(extraScopes)
	}
	p.Subject = sub
	if subject != "" {
		p.Subject = subject
	}
	if err := spec.authorizedParty(p, parties); err != nil {
		return nil, err
	}
	p.Kind = m.kindOf(p, spec.isMachine(p, sub, kindValue, hasKindClaim, hasExtraScopes))
	return p, nil
}

func refCustom(p *Principal, name string, v json.RawMessage) error {
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

func refString(v json.RawMessage) (string, error) {
	if len(v) == 0 || v[0] != '"' {
		return "", errNotString
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errNotString
	}
	return s, nil
}

// refStrings reads an array of strings, or also a single string when
// single is true (as "aud" may be).
func refStrings(v json.RawMessage, single bool) ([]string, error) {
	if single && len(v) > 0 && v[0] == '"' {
		s, err := refString(v)
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

// refScope reads a space-delimited scope string, or an array of scope
// names as some providers send.
func refScope(v json.RawMessage) (Set, error) {
	if len(v) > 0 && v[0] == '"' {
		s, err := refString(v)
		return ParseScope(s), err
	}
	ss, err := refStrings(v, false)
	return NewSet(ss...), err
}

// refKeycloakRoles reads Keycloak's roles: with client "",
// realm_access.roles; otherwise resource_access.<client>.roles. v is the
// realm_access or resource_access claim, which must be an object; the
// client's entry, when present, must be an object, and roles, when
// present, an array of strings.
func refKeycloakRoles(v json.RawMessage, client string) ([]string, error) {
	obj, err := refObject(v)
	if err != nil {
		return nil, err
	}
	if client != "" {
		entry, ok := obj[client]
		if !ok {
			return nil, nil
		}
		if obj, err = refObject(entry); err != nil {
			return nil, fmt.Errorf("%s: %w", strconv.Quote(truncate(client)), err)
		}
	}
	roles, ok := obj["roles"]
	if !ok {
		return nil, nil
	}
	ss, err := refStrings(roles, false)
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	return ss, nil
}

func refObject(v json.RawMessage) (map[string]json.RawMessage, error) {
	if len(v) == 0 || v[0] != '{' {
		return nil, errNotObject
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil {
		return nil, errNotObject
	}
	return obj, nil
}

// refConfirmation reads a cnf claim: an object whose jkt, when present,
// is a non-empty string. Other confirmation methods are not read.
func refConfirmation(v json.RawMessage) (Confirmation, error) {
	var members map[string]json.RawMessage
	if len(v) == 0 || v[0] != '{' || json.Unmarshal(v, &members) != nil {
		return Confirmation{}, errors.New("not an object")
	}
	raw, ok := members["jkt"]
	if !ok {
		return Confirmation{}, nil
	}
	jkt, err := refString(raw)
	if err != nil || jkt == "" {
		// An empty thumbprint must not read as "not bound".
		return Confirmation{}, errors.New("jkt is not a non-empty string")
	}
	return Confirmation{JKT: jkt}, nil
}
