package claims

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// Preset names the provider whose access tokens a Mapping reads: it says
// where the authorized party, the scopes, the permissions and the
// organization come from, and what marks a machine (a client acting for
// itself). The zero Preset is PresetAuth0. Every preset also reads the
// registered claims (iss, sub, aud, exp, nbf, iat, jti), the space-delimited
// "scope" and "client_id" — the names RFC 7662 introspection answers and
// RFC 9068 tokens use — the key binding cnf (RFC 9449), and the custom
// claims selected by
// Mapping.CustomClaimPrefixes among the claims it does not read otherwise.
//
// Every preset classifies a token whose sub is its own authorized party as
// a machine (RFC 9068 §2.2: a client-credentials token names its client in
// sub), so that a client can never pass for a user (RFC 9700 §4.15). A
// token that names no authorized party cannot be shown to come through a
// first-party app: with Mapping.FirstPartyClients set it is a delegated
// (partner) call, without it a user's.
//
// The table in preset.go (presets) is where the code says all of this, one
// row per preset.
type Preset uint8

// The presets. Mapping's OrgIDClaim, OrgNameClaim and PermissionsClaim,
// when set, replace the preset's source of that field.
const (
	// PresetAuth0 reads Auth0's access tokens (both its default and its
	// RFC 9068 dialect). Party: azp, or client_id (they must agree).
	// Scopes: scope. Permissions: permissions (RBAC). Organization: org_id
	// and org_name. Grant type: gty. Machine: gty "client-credentials",
	// or a sub ending in "@clients".
	PresetAuth0 Preset = iota
	// PresetRFC9068 reads RFC 9068 access tokens (panva/oidc-provider and
	// other certified providers). Party: client_id (azp, if also present,
	// must agree). Scopes: scope. Permissions and organization: none (set
	// PermissionsClaim or OrgIDClaim to read a claim of your provider's).
	// Machine: sub equal to client_id.
	PresetRFC9068
	// PresetOkta reads Okta's custom authorization server tokens. Subject:
	// uid — the user's stable id, which Okta's ID tokens and userinfo also
	// call sub — falling back to sub (a user's login, or the client id of a
	// client-credentials token). Party: cid (client_id in introspection
	// answers). Scopes: scp (an array), or scope. Permissions and
	// organization: none (groups are a custom claim at Okta: set
	// PermissionsClaim). Machine: sub equal to cid.
	PresetOkta
	// PresetKeycloak reads Keycloak's tokens. Party: azp (client_id, in
	// service-account tokens and introspection answers, must agree).
	// Scopes: scope. Permissions: the realm's roles (realm_access.roles),
	// or, when Mapping.RolesClient names a client, that client's roles
	// (resource_access.<RolesClient>.roles) instead — never both, so that a
	// realm role and a client role of the same name cannot be mistaken for
	// each other. Organization: none (set OrgIDClaim). Machine: a
	// service-account token, whose preferred_username is
	// "service-account-" followed by the party (Keycloak's username of a
	// client's service account; it comes with the default profile scope).
	PresetKeycloak
	// PresetEntra reads Microsoft Entra ID's access tokens, v1 and v2.
	// Party: azp (v2) or appid (v1). Scopes: scp (space-delimited, user
	// tokens only). Permissions: roles (app roles: a user's assigned roles,
	// or an application's permissions). Organization: tid, the tenant (see
	// MatchIssuerTemplate for multi-tenant issuers); no name. Machine: the
	// optional claim idtyp "app"; without idtyp, a token without scp, which
	// Entra puts in every user token and in no app-only token.
	PresetEntra
	// PresetDex reads Dex's access tokens, which are shaped like its ID
	// tokens. Party: azp, which Dex sets only when aud has several
	// entries; otherwise the single aud, which is the client id. Scopes:
	// none (Dex puts no scope claim in its tokens). Permissions: groups (the
	// connector's groups, with the groups scope). Organization: none.
	// Machine: a client-credentials token, whose sub is Dex's subject of the
	// party under the empty connector id (which only that grant uses).
	PresetDex
)

// machineRule is a preset's own mark of a machine, beside sub == party.
type machineRule uint8

const (
	machineSubjectIsParty   machineRule = iota // no other mark
	machineAuth0                               // gty client-credentials, or sub "…@clients"
	machineKeycloakAccount                     // preferred_username "service-account-<party>"
	machineEntraAppOnly                        // idtyp "app"; without idtyp, no scp
	machineDexClientSubject                    // sub = Dex's subject of (party, connector "")
)

// presetSpec is where one provider puts what a Principal holds. An empty
// name means the provider has no such claim.
type presetSpec struct {
	name string
	// parties name the authorized party, read before client_id; every one
	// present with a non-empty value must agree.
	parties []string
	// partyFromAudience takes the party from a single-valued aud when no
	// party claim names one (Dex).
	partyFromAudience bool
	scopes            string // a scope claim read beside "scope"
	subject           string // a claim that names the caller in place of sub, when present
	grantType         string
	// Defaults of the Mapping's OrgIDClaim, OrgNameClaim, PermissionsClaim.
	orgID, orgName, permissions string
	// keycloakRoles reads the permissions from realm_access.roles, or from
	// resource_access.<RolesClient>.roles, when PermissionsClaim is unset.
	keycloakRoles bool
	machine       machineRule
	// kindClaim is the claim machine reads beside the registered ones.
	kindClaim string
}

// presets is the one place that says where each provider puts what.
var presets = [...]presetSpec{
	PresetAuth0: {
		name: "auth0", parties: []string{"azp"}, grantType: "gty",
		orgID: "org_id", orgName: "org_name", permissions: "permissions",
		machine: machineAuth0,
	},
	PresetRFC9068: {
		name: "rfc9068", parties: []string{"azp"},
		machine: machineSubjectIsParty,
	},
	PresetOkta: {
		name: "okta", parties: []string{"cid"}, scopes: "scp", subject: "uid",
		machine: machineSubjectIsParty,
	},
	PresetKeycloak: {
		name: "keycloak", parties: []string{"azp"}, keycloakRoles: true,
		machine: machineKeycloakAccount, kindClaim: "preferred_username",
	},
	PresetEntra: {
		name: "entra", parties: []string{"azp", "appid"}, scopes: "scp",
		orgID: "tid", permissions: "roles",
		machine: machineEntraAppOnly, kindClaim: "idtyp",
	},
	PresetDex: {
		name: "dex", parties: []string{"azp"}, partyFromAudience: true,
		permissions: "groups",
		machine:     machineDexClientSubject,
	},
}

func (p Preset) spec() (*presetSpec, bool) {
	if int(p) < len(presets) {
		return &presets[p], true
	}
	return nil, false
}

// Presets lists every Preset, for configuration help and tests.
func Presets() []Preset {
	ps := make([]Preset, len(presets))
	for i := range ps {
		ps[i] = Preset(i)
	}
	return ps
}

// String returns the preset's name as ParsePreset takes it, such as
// "okta", or "Preset(9)" for a value that is no preset.
func (p Preset) String() string {
	if s, ok := p.spec(); ok {
		return s.name
	}
	return fmt.Sprintf("Preset(%d)", uint8(p))
}

// ParsePreset returns the preset named name: "auth0", "rfc9068", "okta",
// "keycloak", "entra" or "dex", in any case. Anything else, the empty
// string included, is an error.
func ParsePreset(name string) (Preset, error) {
	for i := range presets {
		if strings.EqualFold(name, presets[i].name) {
			return Preset(i), nil
		}
	}
	names := make([]string, len(presets))
	for i := range presets {
		names[i] = presets[i].name
	}
	return 0, fmt.Errorf("claims: unknown preset %q (want one of %s)", truncate(name), strings.Join(names, ", "))
}

// MarshalText returns the preset's name; it fails for a value that is no
// preset.
func (p Preset) MarshalText() ([]byte, error) {
	if _, ok := p.spec(); !ok {
		return nil, fmt.Errorf("claims: unknown preset %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText sets p to the preset named by text, as ParsePreset reads it.
func (p *Preset) UnmarshalText(text []byte) error {
	q, err := ParsePreset(string(text))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// TenantPlaceholder stands for the tenant id in a multi-tenant issuer
// template, as Microsoft Entra ID's "common" metadata writes it:
// "https://login.microsoftonline.com/{tenantid}/v2.0".
const TenantPlaceholder = "{tenantid}"

// MatchIssuerTemplate reports whether iss is template with its one
// TenantPlaceholder replaced by tenant — the tenant the token itself names
// (Entra's tid, which PresetEntra reads into Principal.OrgID) — so that a
// multi-tenant service accepts any tenant's tokens but never a token whose
// issuer and tenant disagree. tenant must have the form of an Entra tenant
// id (a GUID: 8-4-4-4-12 hexadecimal digits), so that no tenant value can
// reach into the template's other parts. A template without exactly one
// placeholder matches nothing: compare a fixed issuer directly.
func MatchIssuerTemplate(template, iss, tenant string) bool {
	before, after, ok := strings.Cut(template, TenantPlaceholder)
	if !ok || strings.Contains(after, TenantPlaceholder) || !isGUID(tenant) {
		return false
	}
	return len(iss) == len(before)+len(tenant)+len(after) &&
		strings.HasPrefix(iss, before) && strings.HasSuffix(iss, after) &&
		iss[len(before):len(before)+len(tenant)] == tenant
}

// isGUID reports whether s has the form 8-4-4-4-12 of hexadecimal digits.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isDexClientSubject reports whether sub is the sub Dex gives a
// client-credentials token of client: the base64url of the protobuf
// IDTokenSubject{user_id: client, conn_id: ""} (field 1, a length-prefixed
// string; the empty field 2 is left out), in Dex's default subject format.
// It builds that encoding on the stack for client ids of up to 64 bytes.
func isDexClientSubject(sub, client string) bool {
	var stack [1 + binary.MaxVarintLen64 + 64]byte
	b := append(stack[:0], 0x0a)
	b = binary.AppendUvarint(b, uint64(len(client)))
	b = append(b, client...)
	enc := base64.RawURLEncoding
	if enc.EncodedLen(len(b)) != len(sub) {
		return false
	}
	var out [(len(stack)*4 + 2) / 3]byte
	if len(sub) > len(out) {
		return enc.EncodeToString(b) == sub
	}
	enc.Encode(out[:], b)
	return string(out[:len(sub)]) == sub
}
