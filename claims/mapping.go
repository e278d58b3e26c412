package claims

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mapping says where a provider puts what authgate reads, and which clients
// are the service's own. The zero Mapping reads Auth0's tokens; Preset picks
// another provider's (see [Preset] for where each reads what), and the other
// fields adjust it:
//
//	m := claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: []string{"venue-app"}}
//
// A Mapping is not changed by Decode and is safe for concurrent use.
type Mapping struct {
	// Preset is the provider whose tokens are read. Default PresetAuth0.
	Preset Preset
	// OrgIDClaim names the organization id claim. Default: the preset's
	// ("org_id" at Auth0, "tid" at Entra, none elsewhere).
	OrgIDClaim string
	// OrgNameClaim names the organization name claim. Default: the
	// preset's ("org_name" at Auth0, none elsewhere).
	OrgNameClaim string
	// PermissionsClaim names the array of permissions (or roles) read into
	// Principal.Permissions. Default: the preset's ("permissions" at Auth0,
	// "roles" at Entra, "groups" at Dex, the realm's or RolesClient's roles
	// at Keycloak, none elsewhere).
	PermissionsClaim string
	// RolesClient names the client whose roles are the permissions, for
	// PresetKeycloak: resource_access.<RolesClient>.roles in place of the
	// realm's roles. Usually the API's own client id. Check reports it set
	// with another preset.
	RolesClient string
	// CustomClaimPrefixes selects the custom claims kept in Principal.Custom:
	// those whose name starts with one of the prefixes, among the claims the
	// mapping does not read otherwise. Default: URL-like names ("https://",
	// "http://"), as Auth0 recommends for custom claims.
	CustomClaimPrefixes []string
	// FirstPartyClients lists the client ids of the service's own apps. A
	// user's token whose authorized party is not among them is KindDelegated
	// (a partner app acting for the user), and so is one that names no
	// party. When empty, no token is delegated.
	FirstPartyClients []string
}

var defaultCustomPrefixes = []string{"https://", "http://"}

// errUnknownPreset is Decode's error for a Mapping whose Preset is none of
// the presets: a configuration mistake, which makes every token
// uncheckable (ErrUnavailable), not invalid.
func errUnknownPreset(p Preset) error {
	return fmt.Errorf("claims: unknown preset %d: %w", uint8(p), ErrUnavailable)
}

// Check reports what makes m unusable or misleading: a Preset that is none
// of the presets (Decode then fails with ErrUnavailable), RolesClient with a
// preset other than PresetKeycloak (it would be ignored), or an empty string
// in FirstPartyClients (it would make tokens that name no party
// first-party).
func (m Mapping) Check() error {
	var errs []error
	if _, ok := m.Preset.spec(); !ok {
		errs = append(errs, fmt.Errorf("claims: unknown preset %d", uint8(m.Preset)))
	}
	if m.RolesClient != "" && m.Preset != PresetKeycloak {
		errs = append(errs, fmt.Errorf("claims: RolesClient is read only by the keycloak preset, not by %v", m.Preset))
	}
	if slices.Contains(m.FirstPartyClients, "") {
		errs = append(errs, errors.New("claims: FirstPartyClients holds an empty client id"))
	}
	return errors.Join(errs...)
}

// A slot is what Decode makes of a claim.
type slot uint8

const (
	slotNone slot = iota
	slotIssuer
	slotSubject
	slotAudience
	slotExpiresAt
	slotNotBefore
	slotIssuedAt
	slotTokenID
	slotScope
	slotConfirmation
	slotParty // one of the preset's party claims, or client_id
	slotExtraScopes
	slotPreferredSubject
	slotGrantType
	slotKind
	slotOrgID
	slotOrgName
	slotPermissions
	slotKeycloakRoles
	slotCustom
	numSlots
)

// slotOf says what the claim name is read as, and for slotParty which
// party claim it is (client_id last). The registered names come first, then
// the preset's own, then the organization and permission claims (configured
// or the preset's), then custom claims: of two readings of one name the
// first wins.
func (m Mapping) slotOf(spec *presetSpec, name string) (slot, int) {
	switch name {
	case "iss":
		return slotIssuer, 0
	case "sub":
		return slotSubject, 0
	case "aud":
		return slotAudience, 0
	case "exp":
		return slotExpiresAt, 0
	case "nbf":
		return slotNotBefore, 0
	case "iat":
		return slotIssuedAt, 0
	case "jti":
		return slotTokenID, 0
	case "scope":
		return slotScope, 0
	case "cnf":
		return slotConfirmation, 0
	case "client_id":
		return slotParty, len(spec.parties)
	}
	if i := slices.Index(spec.parties, name); i >= 0 {
		return slotParty, i
	}
	switch {
	case name == "":
		// No claim of the presets or of a Mapping is the empty name; the
		// specs use it to mean "none".
	case name == spec.scopes:
		return slotExtraScopes, 0
	case name == spec.subject:
		return slotPreferredSubject, 0
	case name == spec.grantType:
		return slotGrantType, 0
	case name == spec.kindClaim:
		return slotKind, 0
	case name == m.orgIDClaim(spec):
		return slotOrgID, 0
	case name == m.orgNameClaim(spec):
		return slotOrgName, 0
	case name == m.permissionsClaim(spec):
		return slotPermissions, 0
	case m.PermissionsClaim == "" && spec.keycloakRoles && name == m.keycloakRolesClaim():
		return slotKeycloakRoles, 0
	}
	if m.isCustom(name) {
		return slotCustom, 0
	}
	return slotNone, 0
}

// authorizedParty sets p.AuthorizedParty from the party claims' values (in
// spec.parties order, then client_id): the first non-empty one, which every
// other non-empty one must equal. Dex's party is otherwise its single aud.
func (spec *presetSpec) authorizedParty(p *Principal, values []string) error {
	first := -1
	for i, v := range values {
		switch {
		case v == "":
		case first < 0:
			first = i
		case v != values[first]:
			return malformed(spec.partyName(first)+" and "+spec.partyName(i)+" disagree", nil)
		}
	}
	switch {
	case first >= 0:
		p.AuthorizedParty = values[first]
	case spec.partyFromAudience && len(p.Audience) == 1:
		p.AuthorizedParty = p.Audience[0]
	}
	return nil
}

func (spec *presetSpec) partyName(i int) string {
	if i < len(spec.parties) {
		return spec.parties[i]
	}
	return "client_id"
}

// isMachine applies the preset's mark of a client acting for itself, given
// the token's sub, the value of its kind claim and whether the kind claim
// and the preset's extra scope claim were present.
func (spec *presetSpec) isMachine(p *Principal, sub, kindValue string, hasKindClaim, hasExtraScopes bool) bool {
	party := p.AuthorizedParty
	if sub != "" && sub == party {
		return true
	}
	switch spec.machine {
	case machineAuth0:
		return isAuth0Machine(p.GrantType, sub)
	case machineKeycloakAccount:
		const prefix = "service-account-"
		return party != "" && len(kindValue) == len(prefix)+len(party) &&
			strings.HasPrefix(kindValue, prefix) && strings.EqualFold(kindValue[len(prefix):], party)
	case machineEntraAppOnly:
		if hasKindClaim {
			return kindValue == "app"
		}
		return !hasExtraScopes
	case machineDexClientSubject:
		return party != "" && isDexClientSubject(sub, party)
	}
	return false
}

func isAuth0Machine(gty, sub string) bool {
	return gty == "client-credentials" || gty == "client_credentials" || strings.HasSuffix(sub, "@clients")
}

// kindOf tells users from partner apps, once machine says whether the
// preset marked the token as a machine's.
func (m Mapping) kindOf(p *Principal, machine bool) Kind {
	switch {
	case machine:
		return KindMachine
	case len(m.FirstPartyClients) > 0 && !slices.Contains(m.FirstPartyClients, p.AuthorizedParty):
		return KindDelegated
	default:
		return KindUser
	}
}

// KindOf recomputes the Kind of p under this mapping's FirstPartyClients,
// after a caller changed p (an introspection answer without sub gets the
// client's id as its subject). A Principal Decode made a machine stays one;
// otherwise the marks a Principal still shows decide: sub equal to the
// authorized party, and for PresetAuth0 the grant type and the "@clients"
// suffix.
func (m Mapping) KindOf(p *Principal) Kind {
	machine := p.Kind == KindMachine ||
		(p.Subject != "" && p.Subject == p.AuthorizedParty) ||
		(m.Preset == PresetAuth0 && isAuth0Machine(p.GrantType, p.Subject))
	return m.kindOf(p, machine)
}

func (m Mapping) orgIDClaim(spec *presetSpec) string { return orDefault(m.OrgIDClaim, spec.orgID) }
func (m Mapping) orgNameClaim(spec *presetSpec) string {
	return orDefault(m.OrgNameClaim, spec.orgName)
}
func (m Mapping) permissionsClaim(spec *presetSpec) string {
	return orDefault(m.PermissionsClaim, spec.permissions)
}

// keycloakRolesClaim is the top-level claim that holds Keycloak's roles:
// resource_access with a RolesClient, else realm_access.
func (m Mapping) keycloakRolesClaim() string {
	if m.RolesClient != "" {
		return "resource_access"
	}
	return "realm_access"
}

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

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
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
//
// The Auth0 preset is left unsaid, so that the zero Mapping describes itself
// as it did before presets existed and services upgraded in place keep
// sharing their cache entries.
func (m Mapping) Canonical() string {
	spec, ok := m.Preset.spec()
	if !ok {
		spec = &presetSpec{}
	}
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
	if m.Preset != PresetAuth0 {
		field("preset", m.Preset.String())
	}
	field("org_id", m.orgIDClaim(spec))
	field("org_name", m.orgNameClaim(spec))
	perms := m.permissionsClaim(spec)
	if perms == "" && spec.keycloakRoles {
		perms = m.keycloakRolesClaim() + ".roles"
	}
	field("permissions", perms)
	if m.RolesClient != "" {
		field("roles_client", m.RolesClient)
	}
	field("custom_prefixes", sortedCopy(prefixes)...)
	field("first_party", sortedCopy(m.FirstPartyClients)...)
	return b.String()
}

func sortedCopy(ss []string) []string {
	c := slices.Clone(ss)
	slices.Sort(c)
	return slices.Compact(c)
}
