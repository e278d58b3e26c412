package claims_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/claims"
)

// The payloads below are shaped as each provider's documentation shows its
// access tokens (claim names, types and the claims around them), with the
// service's own apps called venue-app (first-party), partner-app and
// venue-worker (a backend).

const (
	entraTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraIssV2  = "https://login.microsoftonline.com/" + entraTenant + "/v2.0"
	entraIssV1  = "https://sts.windows.net/" + entraTenant + "/"
)

// dexSubject is the sub Dex writes: base64url of the protobuf
// IDTokenSubject{user_id = 1, conn_id = 2}, an empty conn_id left out
// (ids here are shorter than 128 bytes: one-byte lengths).
func dexSubject(user, conn string) string {
	b := append([]byte{0x0a, byte(len(user))}, user...)
	if conn != "" {
		b = append(append(b, 0x12, byte(len(conn))), conn...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// want is what a case expects of the Principal.
type want struct {
	subject, party, orgID, orgName string
	scopes, permissions            []string
	kind                           claims.Kind
}

func (w want) check(t *testing.T, p *claims.Principal) {
	t.Helper()
	if p.Subject != w.subject || p.AuthorizedParty != w.party || p.OrgID != w.orgID || p.OrgName != w.orgName || p.Kind != w.kind {
		t.Errorf("got sub %q party %q org %q/%q kind %v\nwant sub %q party %q org %q/%q kind %v",
			p.Subject, p.AuthorizedParty, p.OrgID, p.OrgName, p.Kind, w.subject, w.party, w.orgID, w.orgName, w.kind)
	}
	if got, want := p.Scopes.Strings(), claims.NewSet(w.scopes...).Strings(); !slices.Equal(got, want) {
		t.Errorf("scopes %q, want %q", got, want)
	}
	if got, want := p.Permissions.Strings(), claims.NewSet(w.permissions...).Strings(); !slices.Equal(got, want) {
		t.Errorf("permissions %q, want %q", got, want)
	}
}

func TestPresets(t *testing.T) {
	first := []string{"venue-app"}
	for _, tc := range []struct {
		name    string
		mapping claims.Mapping
		payload string
		want    want
	}{
		// Auth0: the default.
		{"auth0 user", claims.Mapping{FirstPartyClients: first}, auth0Payload, want{
			subject: "auth0|alice", party: "venue-app", orgID: "org_acme", orgName: "acme",
			scopes: []string{"openid", "profile", "read:venues", "book:venues"}, permissions: []string{"read:venues", "book:venues"}, kind: claims.KindUser}},
		{"auth0 machine", claims.Mapping{FirstPartyClients: first},
			`{"iss":"https://tenant.auth0.com/","sub":"venue-worker@clients","aud":"https://api.venue.example","iat":1763856000,"exp":1763942400,"scope":"read:venues","gty":"client-credentials","azp":"venue-worker","permissions":["read:venues"]}`,
			want{subject: "venue-worker@clients", party: "venue-worker", scopes: []string{"read:venues"}, permissions: []string{"read:venues"}, kind: claims.KindMachine}},
		{"auth0 rfc9068 dialect", claims.Mapping{FirstPartyClients: first},
			`{"iss":"https://tenant.auth0.com/","sub":"auth0|alice","aud":"https://api.venue.example","client_id":"venue-app","azp":"venue-app","scope":"read:venues","jti":"j"}`,
			want{subject: "auth0|alice", party: "venue-app", scopes: []string{"read:venues"}, kind: claims.KindUser}},

		// RFC 9068, as panva/oidc-provider issues them.
		{"rfc9068 user", claims.Mapping{Preset: claims.PresetRFC9068, FirstPartyClients: first},
			`{"jti":"Xr1","sub":"alice","iat":1763856000,"exp":1763942400,"scope":"openid read:venues","client_id":"venue-app","iss":"https://op.example","aud":"https://api.venue.example"}`,
			want{subject: "alice", party: "venue-app", scopes: []string{"openid", "read:venues"}, kind: claims.KindUser}},
		{"rfc9068 partner", claims.Mapping{Preset: claims.PresetRFC9068, FirstPartyClients: first},
			`{"jti":"Xr2","sub":"alice","scope":"read:venues","client_id":"partner-app","iss":"https://op.example","aud":"https://api.venue.example"}`,
			want{subject: "alice", party: "partner-app", scopes: []string{"read:venues"}, kind: claims.KindDelegated}},
		{"rfc9068 client credentials", claims.Mapping{Preset: claims.PresetRFC9068, FirstPartyClients: first},
			`{"jti":"Xr3","sub":"venue-worker","scope":"read:venues","client_id":"venue-worker","iss":"https://op.example","aud":"https://api.venue.example"}`,
			want{subject: "venue-worker", party: "venue-worker", scopes: []string{"read:venues"}, kind: claims.KindMachine}},
		{"rfc9068 no party, first-party clients set", claims.Mapping{Preset: claims.PresetRFC9068, FirstPartyClients: first},
			`{"sub":"alice","iss":"https://op.example"}`, want{subject: "alice", kind: claims.KindDelegated}},
		{"rfc9068 no party, no first-party clients", claims.Mapping{Preset: claims.PresetRFC9068},
			`{"sub":"alice","iss":"https://op.example"}`, want{subject: "alice", kind: claims.KindUser}},

		// Okta's custom authorization server.
		{"okta user", claims.Mapping{Preset: claims.PresetOkta, FirstPartyClients: []string{"0oa1venueapp"}}, oktaPayload,
			want{subject: "00u1alice", party: "0oa1venueapp", scopes: []string{"openid", "read:venues"}, kind: claims.KindUser}},
		{"okta client credentials", claims.Mapping{Preset: claims.PresetOkta, FirstPartyClients: []string{"0oa1venueapp"}},
			`{"ver":1,"jti":"AT.q2","iss":"https://acme.okta.com/oauth2/default","aud":"api://default","iat":1763856000,"exp":1763859600,"cid":"0oa1worker","scp":["read:venues"],"sub":"0oa1worker"}`,
			want{subject: "0oa1worker", party: "0oa1worker", scopes: []string{"read:venues"}, kind: claims.KindMachine}},
		{"okta introspection answer", claims.Mapping{Preset: claims.PresetOkta, FirstPartyClients: []string{"0oa1venueapp"}},
			`{"active":true,"scope":"openid read:venues","username":"alice@acme.example","exp":1763859600,"iat":1763856000,"sub":"alice@acme.example","aud":"api://default","iss":"https://acme.okta.com/oauth2/default","jti":"AT.q1","token_type":"Bearer","client_id":"0oa1venueapp","uid":"00u1alice"}`,
			want{subject: "00u1alice", party: "0oa1venueapp", scopes: []string{"openid", "read:venues"}, kind: claims.KindUser}},
		{"okta groups as permissions", claims.Mapping{Preset: claims.PresetOkta, PermissionsClaim: "groups"},
			`{"cid":"c","uid":"u","sub":"s","groups":["Everyone","Bookers"]}`,
			want{subject: "u", party: "c", permissions: []string{"Everyone", "Bookers"}, kind: claims.KindUser}},

		// Keycloak 26.
		{"keycloak user, realm roles", claims.Mapping{Preset: claims.PresetKeycloak, FirstPartyClients: first}, keycloakUser,
			want{subject: "5c3a51d6-8c11-4f0e-9d59-1a2b3c4d5e6f", party: "venue-app", scopes: []string{"openid", "email", "profile"},
				permissions: []string{"default-roles-venue", "offline_access", "uma_authorization", "venue-booker"}, kind: claims.KindUser}},
		{"keycloak user, the API client's roles", claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "venue-api", FirstPartyClients: first}, keycloakUser,
			want{subject: "5c3a51d6-8c11-4f0e-9d59-1a2b3c4d5e6f", party: "venue-app", scopes: []string{"openid", "email", "profile"},
				permissions: []string{"read:venues", "book:venues"}, kind: claims.KindUser}},
		{"keycloak roles of an absent client", claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "other-api", FirstPartyClients: first}, keycloakUser,
			want{subject: "5c3a51d6-8c11-4f0e-9d59-1a2b3c4d5e6f", party: "venue-app", scopes: []string{"openid", "email", "profile"}, kind: claims.KindUser}},
		{"keycloak service account", claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "venue-api", FirstPartyClients: first}, keycloakServiceAccount,
			want{subject: "9d0e7b62-3f4a-4c1b-8e2d-6f5a4b3c2d1e", party: "venue-worker", scopes: []string{"email", "profile"},
				permissions: []string{"read:venues"}, kind: claims.KindMachine}},
		{"keycloak user named like another client's service account", claims.Mapping{Preset: claims.PresetKeycloak, FirstPartyClients: first},
			`{"sub":"u1","azp":"venue-app","preferred_username":"service-account-venue-worker"}`,
			want{subject: "u1", party: "venue-app", kind: claims.KindUser}},

		// Microsoft Entra ID.
		{"entra v2 user", claims.Mapping{Preset: claims.PresetEntra, FirstPartyClients: []string{"ab5f7c0a-0b8d-4a3e-9f6e-1c2d3e4f5a6b"}}, entraV2User,
			want{subject: "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA", party: "ab5f7c0a-0b8d-4a3e-9f6e-1c2d3e4f5a6b", orgID: entraTenant,
				scopes: []string{"Venues.Read", "Venues.Book"}, permissions: []string{"Venue.Admin"}, kind: claims.KindUser}},
		{"entra v2 app-only", claims.Mapping{Preset: claims.PresetEntra, FirstPartyClients: []string{"ab5f7c0a-0b8d-4a3e-9f6e-1c2d3e4f5a6b"}}, entraV2App,
			want{subject: "3b8e1a52-6c7d-4e8f-9a0b-1c2d3e4f5a6b", party: "e5c9a1b2-3d4e-4f5a-8b6c-7d8e9f0a1b2c", orgID: entraTenant,
				permissions: []string{"Venues.Read.All"}, kind: claims.KindMachine}},
		{"entra v1 user", claims.Mapping{Preset: claims.PresetEntra, FirstPartyClients: []string{"ab5f7c0a-0b8d-4a3e-9f6e-1c2d3e4f5a6b"}}, entraV1User,
			want{subject: "x9z_Wq1", party: "ab5f7c0a-0b8d-4a3e-9f6e-1c2d3e4f5a6b", orgID: entraTenant, scopes: []string{"Venues.Read"}, kind: claims.KindUser}},
		{"entra partner app", claims.Mapping{Preset: claims.PresetEntra, FirstPartyClients: []string{"ab5f7c0a-0b8d-4a3e-9f6e-1c2d3e4f5a6b"}},
			`{"azp":"11111111-2222-4333-8444-555555555555","sub":"s","oid":"o","scp":"Venues.Read","tid":"` + entraTenant + `"}`,
			want{subject: "s", party: "11111111-2222-4333-8444-555555555555", orgID: entraTenant, scopes: []string{"Venues.Read"}, kind: claims.KindDelegated}},
		{"entra idtyp app decides", claims.Mapping{Preset: claims.PresetEntra},
			`{"azp":"a","sub":"s","scp":"x","idtyp":"app"}`, want{subject: "s", party: "a", scopes: []string{"x"}, kind: claims.KindMachine}},
		{"entra idtyp user decides", claims.Mapping{Preset: claims.PresetEntra},
			`{"azp":"a","sub":"s","idtyp":"user"}`, want{subject: "s", party: "a", kind: claims.KindUser}},

		// Dex.
		{"dex user", claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: first},
			`{"iss":"https://dex.example/dex","sub":"` + dexSubject("alice", "local") + `","aud":"venue-app","exp":1763942400,"iat":1763856000,"email":"alice@acme.example","email_verified":true,"groups":["venue-booker"],"name":"Alice","preferred_username":"alice"}`,
			want{subject: dexSubject("alice", "local"), party: "venue-app", permissions: []string{"venue-booker"}, kind: claims.KindUser}},
		{"dex partner (cross-client audience)", claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: first},
			`{"iss":"https://dex.example/dex","sub":"` + dexSubject("alice", "local") + `","aud":["venue-app","partner-app"],"azp":"partner-app","exp":1763942400,"iat":1763856000}`,
			want{subject: dexSubject("alice", "local"), party: "partner-app", kind: claims.KindDelegated}},
		{"dex client credentials", claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: first},
			`{"iss":"https://dex.example/dex","sub":"` + dexSubject("venue-worker", "") + `","aud":"venue-worker","exp":1763942400,"iat":1763856000}`,
			want{subject: dexSubject("venue-worker", ""), party: "venue-worker", kind: claims.KindMachine}},
		{"dex user of a connector named like nothing", claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: first},
			`{"sub":"` + dexSubject("venue-app", "local") + `","aud":"venue-app"}`,
			want{subject: dexSubject("venue-app", "local"), party: "venue-app", kind: claims.KindUser}},
		{"dex several audiences and no azp", claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: first},
			`{"sub":"s","aud":["venue-app","partner-app"]}`, want{subject: "s", kind: claims.KindDelegated}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.mapping.Decode([]byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.check(t, p)
		})
	}
}

const oktaPayload = `{"ver":1,"jti":"AT.q1","iss":"https://acme.okta.com/oauth2/default","aud":"api://default","iat":1763856000,"exp":1763859600,"cid":"0oa1venueapp","uid":"00u1alice","scp":["openid","read:venues"],"auth_time":1763855990,"sub":"alice@acme.example"}`

const keycloakUser = `{"exp":1763856300,"iat":1763856000,"jti":"onrtro:8e1f","iss":"https://kc.example/realms/venue",
 "aud":["venue-api","account"],"sub":"5c3a51d6-8c11-4f0e-9d59-1a2b3c4d5e6f","typ":"Bearer","azp":"venue-app",
 "sid":"0b1c","acr":"1","allowed-origins":["https://venue.example"],
 "realm_access":{"roles":["default-roles-venue","offline_access","uma_authorization","venue-booker"]},
 "resource_access":{"venue-api":{"roles":["read:venues","book:venues"]},"account":{"roles":["manage-account","view-profile"]}},
 "scope":"openid email profile","email_verified":true,"name":"Alice Archer","preferred_username":"alice",
 "given_name":"Alice","family_name":"Archer","email":"alice@acme.example"}`

const keycloakServiceAccount = `{"exp":1763856300,"iat":1763856000,"jti":"trrtcc:1d2e","iss":"https://kc.example/realms/venue",
 "aud":["venue-api","account"],"sub":"9d0e7b62-3f4a-4c1b-8e2d-6f5a4b3c2d1e","typ":"Bearer","azp":"venue-worker","acr":"1",
 "realm_access":{"roles":["default-roles-venue","offline_access","uma_authorization"]},
 "resource_access":{"venue-api":{"roles":["read:venues"]},"account":{"roles":["manage-account"]}},
 "scope":"email profile","clientHost":"10.0.0.5","email_verified":false,"preferred_username":"service-account-venue-worker",
 "clientAddress":"10.0.0.5","client_id":"venue-worker"}`

const entraV2User = `{"aud":"6e74172b-be56-4843-9ff4-e66a39bb12e3","iss":"` + entraIssV2 + `","iat":1763856000,"nbf":1763856000,"exp":1763859900,
 "aio":"AWQAm/8","azp":"ab5f7c0a-0b8d-4a3e-9f6e-1c2d3e4f5a6b","azpacr":"0","name":"Alice Archer",
 "oid":"690222be-ff1a-4d56-abd1-7e4f7d38e474","preferred_username":"alice@contoso.com","rh":"0.AR","roles":["Venue.Admin"],
 "scp":"Venues.Read Venues.Book","sub":"l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA","tid":"` + entraTenant + `","uti":"fqiBqXL","ver":"2.0"}`

const entraV2App = `{"aud":"6e74172b-be56-4843-9ff4-e66a39bb12e3","iss":"` + entraIssV2 + `","iat":1763856000,"nbf":1763856000,"exp":1763859900,
 "aio":"E2Z","azp":"e5c9a1b2-3d4e-4f5a-8b6c-7d8e9f0a1b2c","azpacr":"1","oid":"3b8e1a52-6c7d-4e8f-9a0b-1c2d3e4f5a6b","rh":"0.AR",
 "roles":["Venues.Read.All"],"sub":"3b8e1a52-6c7d-4e8f-9a0b-1c2d3e4f5a6b","tid":"` + entraTenant + `","uti":"Kq0","ver":"2.0"}`

const entraV1User = `{"aud":"api://venue","iss":"` + entraIssV1 + `","iat":1763856000,"nbf":1763856000,"exp":1763859900,
 "acr":"1","aio":"ASQA2","amr":["pwd"],"appid":"ab5f7c0a-0b8d-4a3e-9f6e-1c2d3e4f5a6b","appidacr":"0","family_name":"Archer",
 "given_name":"Alice","ipaddr":"203.0.113.7","name":"Alice Archer","oid":"690222be-ff1a-4d56-abd1-7e4f7d38e474","rh":"0.AR",
 "scp":"Venues.Read","sub":"x9z_Wq1","tid":"` + entraTenant + `","unique_name":"alice@contoso.com","upn":"alice@contoso.com","uti":"w1","ver":"1.0"}`

// TestPresetRejects: each preset checks the type of what it reads, and
// the claims naming the party must agree.
func TestPresetRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mapping claims.Mapping
		payload string
	}{
		{"okta scp not an array of strings", claims.Mapping{Preset: claims.PresetOkta}, `{"scp":[1]}`},
		{"okta uid a number", claims.Mapping{Preset: claims.PresetOkta}, `{"uid":7}`},
		{"okta cid and client_id disagree", claims.Mapping{Preset: claims.PresetOkta}, `{"cid":"a","client_id":"b"}`},
		{"keycloak realm_access not an object", claims.Mapping{Preset: claims.PresetKeycloak}, `{"realm_access":["admin"]}`},
		{"keycloak realm roles not strings", claims.Mapping{Preset: claims.PresetKeycloak}, `{"realm_access":{"roles":[{"name":"admin"}]}}`},
		{"keycloak client entry not an object", claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "api"}, `{"resource_access":{"api":["admin"]}}`},
		{"keycloak client roles a string", claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "api"}, `{"resource_access":{"api":{"roles":"admin"}}}`},
		{"keycloak preferred_username a number", claims.Mapping{Preset: claims.PresetKeycloak}, `{"preferred_username":1}`},
		{"keycloak azp and client_id disagree", claims.Mapping{Preset: claims.PresetKeycloak}, `{"azp":"a","client_id":"b"}`},
		{"entra tid a number", claims.Mapping{Preset: claims.PresetEntra}, `{"tid":1}`},
		{"entra roles a string", claims.Mapping{Preset: claims.PresetEntra}, `{"roles":"admin"}`},
		{"entra scp null", claims.Mapping{Preset: claims.PresetEntra}, `{"scp":null}`},
		{"entra idtyp a bool", claims.Mapping{Preset: claims.PresetEntra}, `{"idtyp":true}`},
		{"entra azp and appid disagree", claims.Mapping{Preset: claims.PresetEntra}, `{"azp":"a","appid":"b"}`},
		{"dex groups a string", claims.Mapping{Preset: claims.PresetDex}, `{"groups":"admins"}`},
		{"rfc9068 client_id a number", claims.Mapping{Preset: claims.PresetRFC9068}, `{"client_id":5}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.mapping.Decode([]byte(tc.payload))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if r, ok := claims.ReasonOf(err); !ok || r != claims.ReasonMalformed {
				t.Fatalf("error %v: want ReasonMalformed", err)
			}
		})
	}
}

// TestPresetsReadOnlyTheirClaims: a claim a preset does not read is not
// checked, and may be kept as a custom claim.
func TestPresetsReadOnlyTheirClaims(t *testing.T) {
	for _, tc := range []struct {
		mapping claims.Mapping
		payload string
	}{
		{claims.Mapping{}, `{"scp":5,"cid":5,"uid":5,"tid":5,"roles":5,"groups":5,"realm_access":5,"idtyp":5}`},
		{claims.Mapping{Preset: claims.PresetOkta}, `{"azp":5,"gty":5,"permissions":5,"org_id":5}`},
		{claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "api"}, `{"realm_access":5,"gty":5}`},
		{claims.Mapping{Preset: claims.PresetEntra}, `{"cid":5,"permissions":5,"org_id":5,"groups":5}`},
		{claims.Mapping{Preset: claims.PresetDex}, `{"scp":5,"roles":5,"org_id":5}`},
		{claims.Mapping{Preset: claims.PresetEntra, PermissionsClaim: "wids"}, `{"roles":5,"wids":["62e90394-69f5-4237-9190-012177145e10"]}`},
	} {
		if _, err := tc.mapping.Decode([]byte(tc.payload)); err != nil {
			t.Errorf("%v %s: %v", tc.mapping.Preset, tc.payload, err)
		}
	}
	p, err := claims.Mapping{Preset: claims.PresetOkta, CustomClaimPrefixes: []string{"a"}}.Decode([]byte(`{"azp":"x","aud":"y"}`))
	if err != nil || string(p.Custom["azp"]) != `"x"` || len(p.Custom) != 1 {
		t.Errorf("Okta's azp as a custom claim: %v, %v", p, err)
	}
}

func TestPresetNames(t *testing.T) {
	names := []string{"auth0", "rfc9068", "okta", "keycloak", "entra", "dex"}
	ps := claims.Presets()
	if len(ps) != len(names) || ps[0] != claims.PresetAuth0 {
		t.Fatalf("Presets() = %v", ps)
	}
	for i, name := range names {
		p, err := claims.ParsePreset(strings.ToUpper(name))
		if err != nil || p != ps[i] || p.String() != name {
			t.Errorf("ParsePreset(%q) = %v, %v", name, p, err)
		}
		text, err := p.MarshalText()
		var q claims.Preset
		if err != nil || string(text) != name || q.UnmarshalText(text) != nil || q != p {
			t.Errorf("text round trip of %v: %q %v → %v", p, text, err, q)
		}
	}
	for _, bad := range []string{"", "azure", "auth0 "} {
		if _, err := claims.ParsePreset(bad); err == nil {
			t.Errorf("ParsePreset(%q) accepted", bad)
		}
	}
	if s := claims.Preset(42).String(); s != "Preset(42)" {
		t.Errorf("String of an unknown preset = %q", s)
	}
	if _, err := claims.Preset(42).MarshalText(); err == nil {
		t.Error("MarshalText of an unknown preset succeeded")
	}
	var p claims.Preset
	if err := json.Unmarshal([]byte(`"keycloak"`), &p); err != nil || p != claims.PresetKeycloak {
		t.Errorf("JSON %v %v", p, err)
	}
}

// TestUnknownPreset: a Mapping with no such preset cannot check tokens —
// a configuration mistake, answered as unavailable, never as an invalid
// token — and Check says so before any token arrives.
func TestUnknownPreset(t *testing.T) {
	m := claims.Mapping{Preset: 42}
	_, err := m.Decode([]byte(auth0Payload))
	if !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("Decode: %v, want ErrUnavailable only", err)
	}
	if m.Check() == nil {
		t.Error("Check accepted an unknown preset")
	}
}

func TestCheck(t *testing.T) {
	for _, m := range []claims.Mapping{
		{}, {Preset: claims.PresetKeycloak, RolesClient: "venue-api"}, {FirstPartyClients: []string{"venue-app"}},
	} {
		if err := m.Check(); err != nil {
			t.Errorf("%+v: %v", m, err)
		}
	}
	for _, m := range []claims.Mapping{
		{Preset: claims.PresetEntra, RolesClient: "venue-api"},
		{FirstPartyClients: []string{"venue-app", ""}},
	} {
		if err := m.Check(); err == nil {
			t.Errorf("%+v: accepted", m)
		}
	}
}

// TestKindOfKeepsMachines: after a caller changes a Principal, KindOf keeps
// what Decode marked a machine (from claims the Principal no longer shows),
// and still finds the marks the Principal shows.
func TestKindOfKeepsMachines(t *testing.T) {
	m := claims.Mapping{Preset: claims.PresetEntra, FirstPartyClients: []string{"app"}}
	p, err := m.Decode([]byte(entraV2App))
	if err != nil || p.Kind != claims.KindMachine {
		t.Fatalf("Decode: %v %v", p, err)
	}
	if k := m.KindOf(p); k != claims.KindMachine {
		t.Errorf("KindOf an app-only token = %v", k)
	}
	for _, tc := range []struct {
		m    claims.Mapping
		p    claims.Principal
		want claims.Kind
	}{
		{claims.Mapping{Preset: claims.PresetRFC9068, FirstPartyClients: []string{"app"}}, claims.Principal{Subject: "w", AuthorizedParty: "w"}, claims.KindMachine},
		{claims.Mapping{FirstPartyClients: []string{"app"}}, claims.Principal{Subject: "w@clients", AuthorizedParty: "app"}, claims.KindMachine},
		{claims.Mapping{Preset: claims.PresetOkta, FirstPartyClients: []string{"app"}}, claims.Principal{Subject: "w@clients", AuthorizedParty: "app"}, claims.KindUser},
		{claims.Mapping{FirstPartyClients: []string{"app"}}, claims.Principal{Subject: "u", AuthorizedParty: "partner"}, claims.KindDelegated},
	} {
		if k := tc.m.KindOf(&tc.p); k != tc.want {
			t.Errorf("%v %+v: KindOf = %v, want %v", tc.m.Preset, tc.p, k, tc.want)
		}
	}
}

func TestMatchIssuerTemplate(t *testing.T) {
	const tmpl = "https://login.microsoftonline.com/{tenantid}/v2.0"
	const other = "0e3e2a4f-1b2c-4d5e-8f9a-0b1c2d3e4f5a"
	for _, tc := range []struct {
		template, iss, tenant string
		want                  bool
	}{
		{tmpl, entraIssV2, entraTenant, true},
		{"https://sts.windows.net/{tenantid}/", entraIssV1, entraTenant, true},
		{tmpl, entraIssV2, other, false}, // the token's tenant is not the issuer's
		{tmpl, "https://login.microsoftonline.com/" + other + "/v2.0", entraTenant, false},
		{tmpl, entraIssV2 + "/", entraTenant, false}, // trailing slash
		{tmpl, "https://login.microsoftonline.com/" + entraTenant + "/v2.0x", entraTenant, false},
		{tmpl, "https://evil.example/" + entraTenant + "/v2.0", entraTenant, false},
		{tmpl, "https://login.microsoftonline.com/common/v2.0", "common", false}, // not a tenant id
		{tmpl, "https://login.microsoftonline.com/a/b/v2.0", "a/b", false},
		{tmpl, "https://login.microsoftonline.com//v2.0", "", false},
		{"https://login.microsoftonline.com/x/v2.0", "https://login.microsoftonline.com/x/v2.0", entraTenant, false}, // no placeholder
		{"https://{tenantid}.example/{tenantid}", "https://" + entraTenant + ".example/" + entraTenant, entraTenant, false},
		{tmpl, strings.Replace(entraIssV2, entraTenant, strings.ToUpper(entraTenant), 1), strings.ToUpper(entraTenant), true},
	} {
		if got := claims.MatchIssuerTemplate(tc.template, tc.iss, tc.tenant); got != tc.want {
			t.Errorf("MatchIssuerTemplate(%q, %q, %q) = %v, want %v", tc.template, tc.iss, tc.tenant, got, tc.want)
		}
	}
}
