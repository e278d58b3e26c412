package claims_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
)

// auth0Payload is an access token payload as Auth0 issues it for a user
// through the first-party app, with an organization and RBAC permissions.
const auth0Payload = `{
  "https://venue.example/tier": "gold",
  "https://venue.example/roles": ["booker", "viewer"],
  "iss": "https://tenant.auth0.com/",
  "sub": "auth0|alice",
  "aud": ["https://api.venue.example", "https://tenant.auth0.com/userinfo"],
  "iat": 1763856000,
  "exp": 1763942400,
  "scope": "openid profile read:venues book:venues",
  "azp": "venue-app",
  "gty": "password",
  "org_id": "org_acme",
  "org_name": "acme",
  "jti": "j-1",
  "permissions": ["read:venues", "book:venues"],
  "unlisted": "dropped"
}`

func TestDecodeAuth0(t *testing.T) {
	m := claims.Mapping{FirstPartyClients: []string{"venue-app"}}
	p, err := m.Decode([]byte(auth0Payload))
	if err != nil {
		t.Fatal(err)
	}
	want := &claims.Principal{
		Subject:         "auth0|alice",
		AuthorizedParty: "venue-app",
		OrgID:           "org_acme",
		OrgName:         "acme",
		Scopes:          claims.NewSet("openid", "profile", "read:venues", "book:venues"),
		Permissions:     claims.NewSet("read:venues", "book:venues"),
		GrantType:       "password",
		Issuer:          "https://tenant.auth0.com/",
		Audience:        []string{"https://api.venue.example", "https://tenant.auth0.com/userinfo"},
		IssuedAt:        time.Unix(1763856000, 0).UTC(),
		ExpiresAt:       time.Unix(1763942400, 0).UTC(),
		TokenID:         "j-1",
		Kind:            claims.KindUser,
		Custom: map[string]json.RawMessage{
			"https://venue.example/tier":  json.RawMessage(`"gold"`),
			"https://venue.example/roles": json.RawMessage(`["booker","viewer"]`),
		},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Decode =\n%+v\nwant\n%+v", p, want)
	}
	var tier string
	if ok, err := p.CustomClaim("https://venue.example/tier", &tier); !ok || err != nil || tier != "gold" {
		t.Errorf("CustomClaim = %q, %v, %v", tier, ok, err)
	}
	if ok, _ := p.CustomClaim("https://venue.example/none", &tier); ok {
		t.Error("CustomClaim reported an absent claim")
	}
}

func TestDecodeConfiguredNames(t *testing.T) {
	m := claims.Mapping{
		OrgIDClaim:          "https://venue.example/org",
		OrgNameClaim:        "tenant_name",
		PermissionsClaim:    "perms",
		CustomClaimPrefixes: []string{"x_"},
	}
	p, err := m.Decode([]byte(`{"sub":"u","https://venue.example/org":"o1","tenant_name":"n1","perms":["a"],"permissions":"ignored","x_k":{"b": 1},"https://other/c":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.OrgID != "o1" || p.OrgName != "n1" || !p.HasPermission("a") || p.Permissions.Len() != 1 {
		t.Errorf("configured names not read: %+v", p)
	}
	if len(p.Custom) != 1 || string(p.Custom["x_k"]) != `{"b":1}` {
		t.Errorf("Custom = %v, want only x_k compacted", p.Custom)
	}
}

func TestDecodeIntrospectionShape(t *testing.T) {
	p, err := claims.Mapping{}.Decode([]byte(`{"active":true,"client_id":"partner","sub":"auth0|bob","scope":"read:venues","exp":2000000000,"aud":"https://api"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.AuthorizedParty != "partner" || p.Audience[0] != "https://api" || !p.HasScope("read:venues") {
		t.Errorf("introspection answer not mapped: %+v", p)
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, payload := range map[string]string{
		"not json":            `{"sub":`,
		"array":               `["sub"]`,
		"null":                `null`,
		"string":              `"sub"`,
		"exp string":          `{"exp":"1763942400"}`,
		"exp rfc3339":         `{"exp":"2026-11-23T00:00:00Z"}`,
		"exp negative":        `{"exp":-1}`,
		"exp huge":            `{"exp":1e300}`,
		"exp bool":            `{"exp":true}`,
		"nbf object":          `{"nbf":{}}`,
		"iat null":            `{"iat":null}`,
		"aud number":          `{"aud":5}`,
		"aud mixed array":     `{"aud":["a",5]}`,
		"aud object":          `{"aud":{"a":1}}`,
		"sub number":          `{"sub":7}`,
		"sub null":            `{"sub":null}`,
		"iss array":           `{"iss":["a"]}`,
		"scope number":        `{"scope":1}`,
		"permissions string":  `{"permissions":"read:venues"}`,
		"permissions numbers": `{"permissions":[1,2]}`,
		"org_id number":       `{"org_id":1}`,
		"azp vs client_id":    `{"azp":"a","client_id":"b"}`,
		"cnf string":          `{"cnf":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}`,
		"cnf array":           `{"cnf":[{"jkt":"k"}]}`,
		"cnf null":            `{"cnf":null}`,
		"cnf.jkt number":      `{"cnf":{"jkt":1}}`,
		"cnf.jkt empty":       `{"cnf":{"jkt":""}}`,
		"cnf.jkt null":        `{"cnf":{"jkt":null}}`,
	} {
		t.Run(name, func(t *testing.T) {
			p, err := claims.Mapping{}.Decode([]byte(payload))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if r, ok := claims.ReasonOf(err); !ok || r != claims.ReasonMalformed || !errors.Is(err, claims.ErrInvalidToken) {
				t.Fatalf("error %v: want ReasonMalformed matching ErrInvalidToken", err)
			}
		})
	}
}

// TestDecodeConfirmation: cnf.jkt (RFC 9449 §6.1, Figure 9, and the same
// member in an introspection answer, §6.2) becomes Confirmation.JKT; other
// confirmation methods are not read.
func TestDecodeConfirmation(t *testing.T) {
	for _, tc := range []struct{ payload, jkt string }{
		{`{"sub":"someone@example.com","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		{`{"active":true,"token_type":"DPoP","cnf":{"jkt":"abc","x5t#S256":"def"}}`, "abc"},
		{`{"cnf":{"x5t#S256":"def"}}`, ""},
		{`{"cnf":{}}`, ""},
		{`{"sub":"a"}`, ""},
	} {
		p, err := claims.Mapping{}.Decode([]byte(tc.payload))
		if err != nil || p.Confirmation.JKT != tc.jkt || p.Confirmation.Bound() != (tc.jkt != "") {
			t.Errorf("Decode(%s) = %+v, %v; want jkt %q", tc.payload, p.Confirmation, err, tc.jkt)
		}
	}
}

func TestDecodeNumericDates(t *testing.T) {
	p, err := claims.Mapping{}.Decode([]byte(`{"exp":1763942400.75,"iat":0,"nbf":1e9}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ExpiresAt.Unix() != 1763942400 || p.IssuedAt.Unix() != 0 || p.NotBefore.Unix() != 1e9 {
		t.Errorf("times = %v %v %v", p.ExpiresAt, p.IssuedAt, p.NotBefore)
	}
}

func TestKind(t *testing.T) {
	m := claims.Mapping{FirstPartyClients: []string{"venue-app"}}
	for _, tc := range []struct {
		payload string
		want    claims.Kind
	}{
		{`{"sub":"auth0|alice","azp":"venue-app","gty":"password"}`, claims.KindUser},
		{`{"sub":"auth0|alice","azp":"partner-app"}`, claims.KindDelegated},
		{`{"sub":"auth0|alice"}`, claims.KindDelegated}, // no azp: cannot be shown first-party
		{`{"sub":"worker@clients","azp":"worker","gty":"client-credentials"}`, claims.KindMachine},
		{`{"sub":"worker@clients","azp":"venue-app"}`, claims.KindMachine},
		{`{"sub":"auth0|x","azp":"venue-app","gty":"client-credentials"}`, claims.KindMachine},
		{`{"sub":"worker","client_id":"worker"}`, claims.KindMachine}, // RFC 9068 client credentials
	} {
		p, err := m.Decode([]byte(tc.payload))
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind != tc.want {
			t.Errorf("%s: Kind = %v, want %v", tc.payload, p.Kind, tc.want)
		}
	}
	p, _ := claims.Mapping{}.Decode([]byte(`{"sub":"auth0|alice","azp":"partner-app"}`))
	if p.Kind != claims.KindUser {
		t.Errorf("without FirstPartyClients Kind = %v, want user", p.Kind)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[claims.Kind]string{claims.KindUnknown: "unknown", claims.KindUser: "user", claims.KindDelegated: "delegated", claims.KindMachine: "machine", 99: "unknown"} {
		if k.String() != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(auth0Payload))
	f.Add([]byte(`{"aud":"x","exp":1.5,"scope":["a","b"]}`))
	f.Add([]byte(`{"client_id":"c","https://x/y":{"z":[1,null]}}`))
	f.Add([]byte(`{"sub":"s","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`))
	m := claims.Mapping{FirstPartyClients: []string{"venue-app"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := m.Decode(data)
		if err != nil {
			if _, ok := claims.ReasonOf(err); !ok {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		// Whatever decodes must survive the cache encoding unchanged.
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q claims.Principal
		if err := q.UnmarshalBinary(b); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if !reflect.DeepEqual(p, &q) {
			t.Fatalf("round trip changed the principal:\n%+v\n%+v", p, &q)
		}
	})
}

// BenchmarkDecode decodes each provider's token payload with its preset:
//
//	go test -run '^$' -bench Decode -benchmem -count 6 ./claims
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name    string
		mapping claims.Mapping
		payload string
	}{
		{"auth0", claims.Mapping{FirstPartyClients: []string{"venue-app"}}, auth0Payload},
		{"okta", claims.Mapping{Preset: claims.PresetOkta, FirstPartyClients: []string{"0oa1venueapp"}}, oktaPayload},
		{"keycloak", claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "venue-api", FirstPartyClients: []string{"venue-app"}}, keycloakUser},
		{"entra", claims.Mapping{Preset: claims.PresetEntra}, entraV2User},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(bc.payload)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := bc.mapping.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCanonicalCoversEveryField: changing any field of a Mapping changes
// its Canonical form, so a new field cannot be forgotten there (and two
// services decoding differently never share cache entries).
func TestCanonicalCoversEveryField(t *testing.T) {
	base := claims.Mapping{}.Canonical()
	typ := reflect.TypeOf(claims.Mapping{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		var m claims.Mapping
		v := reflect.ValueOf(&m).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			v.SetString("x-changed")
		case reflect.Slice:
			v.Set(reflect.ValueOf([]string{"x-changed"}))
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Uint8: // Preset
			v.SetUint(uint64(claims.PresetDex))
		default:
			t.Fatalf("field %s of kind %s: teach this test (and Canonical) about it", f.Name, f.Type.Kind())
		}
		if m.Canonical() == base {
			t.Errorf("changing Mapping.%s does not change Canonical()", f.Name)
		}
	}
	same := []claims.Mapping{
		{},
		{OrgIDClaim: "org_id", OrgNameClaim: "org_name", PermissionsClaim: "permissions", CustomClaimPrefixes: []string{"http://", "https://"}},
	}
	for _, m := range same {
		if m.Canonical() != base {
			t.Errorf("%+v: %q, want the defaults' %q", m, m.Canonical(), base)
		}
	}
	if (claims.Mapping{FirstPartyClients: []string{"b", "a"}}).Canonical() != (claims.Mapping{FirstPartyClients: []string{"a", "b", "a"}}).Canonical() {
		t.Error("the order or repetition of FirstPartyClients changes Canonical()")
	}
	// The zero Mapping describes itself as before presets existed, so that
	// services upgraded in place keep sharing their cache entries.
	const before = `org_id="org_id";org_name="org_name";permissions="permissions";custom_prefixes="http://","https://";first_party=;`
	if base != before {
		t.Errorf("zero Mapping: %q, want %q", base, before)
	}
	// Every preset describes itself differently, and spelling out a
	// preset's own defaults changes nothing.
	seen := map[string]claims.Preset{}
	for _, p := range claims.Presets() {
		c := claims.Mapping{Preset: p}.Canonical()
		if q, dup := seen[c]; dup {
			t.Errorf("presets %v and %v describe alike: %q", p, q, c)
		}
		seen[c] = p
	}
	if a, b := (claims.Mapping{Preset: claims.PresetEntra}).Canonical(), (claims.Mapping{Preset: claims.PresetEntra, OrgIDClaim: "tid", PermissionsClaim: "roles"}).Canonical(); a != b {
		t.Errorf("Entra's defaults spelled out: %q, want %q", b, a)
	}
	if a, b := (claims.Mapping{Preset: claims.PresetKeycloak}).Canonical(), (claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "venue-api"}).Canonical(); a == b {
		t.Errorf("Keycloak's realm roles and a client's roles describe alike: %q", a)
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []claims.Kind{claims.KindUser, claims.KindDelegated, claims.KindMachine} {
		got, err := claims.ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	for _, s := range []string{"", "unknown", "User", " user", "admin"} {
		if k, err := claims.ParseKind(s); err == nil {
			t.Errorf("ParseKind(%q) = %v, want an error", s, k)
		}
	}
}
