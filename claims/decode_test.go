package claims_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/authgate/authgate/claims"
)

// mappings are the Mappings the decoder is compared under: every preset,
// with and without first-party clients, and the knobs that change which
// claims are read.
var mappings = func() []claims.Mapping {
	var ms []claims.Mapping
	for _, p := range claims.Presets() {
		ms = append(ms, claims.Mapping{Preset: p}, claims.Mapping{Preset: p, FirstPartyClients: []string{"venue-app", "0oa1venueapp"}})
	}
	return append(ms,
		claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "venue-api", FirstPartyClients: []string{"venue-app"}},
		claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "api"},
		claims.Mapping{OrgIDClaim: "https://venue.example/org", OrgNameClaim: "tenant_name", PermissionsClaim: "perms", CustomClaimPrefixes: []string{"x_", "sub"}},
		claims.Mapping{CustomClaimPrefixes: []string{""}}, // every claim not read otherwise is custom
		claims.Mapping{Preset: claims.PresetEntra, OrgIDClaim: "sub", PermissionsClaim: "wids"},
		claims.Mapping{Preset: claims.PresetDex, PermissionsClaim: "roles", CustomClaimPrefixes: []string{}},
		claims.Mapping{Preset: 42},
	)
}()

// edgeCases exercise the JSON reader: syntax, escapes, invalid UTF-8,
// duplicates, nulls in arrays, numbers and nesting, each under every
// preset's claim names.
var edgeCases = []string{
	``, ` `, "\t\r\n", `{}`, " { } ", `null`, " null\n", `nul`, `nullx`, `{"a":1}x`, `{"a":1}}`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`,
	`{a:1}`, `{'a':1}`, `[1]`, `[]`, `"x"`, `1`, `true`, "\ufeff{}", `{"a":1 "b":2}`, `{"a":1,,"b":2}`, `{"a":[1,]}`, `{"a":[,1]}`,
	`{"a":{"b":}}`, `{"a":{"b" 1}}`, `{"a":tru}`, `{"a":nulll}`, `{"a":True}`, "{\"a\":1}\x00", "\x00{}",
	`{"sub":"a","sub":"b"}`, `{"sub":1,"sub":"b"}`, `{"sub":"b","sub":1}`, `{"\u0073ub":"x"}`, `{"s\u0075b":"x","sub":"y"}`,
	`{"sub":"\u00e9\ud83d\ude00"}`, `{"sub":"\ud800"}`, `{"sub":"\udc00\ud800x"}`, "{\"sub\":\"a\xffb\"}", "{\"sub\xff\":\"a\"}",
	"{\"https://x/\xff\":1,\"https://x/\xfe\":2}", `{"sub":"a\u0000b"}`, "{\"sub\":\"tab\there\"}", "{\"sub\":\"\x7f\"}",
	`{"sub":"\q"}`, `{"sub":"\u12"}`, `{"sub":"\u12g4"}`, `{"sub":"\/\b\f\n\r\t\"\\"}`, `{"sub":"a`, `{"sub":"a\`, "{\"sub\":\"\xc3\"}",
	"{\"sub\":\"\xe2\x82\xac\"}", "{\"sub\":\"\xed\xa0\x80\"}",
	`{"aud":["a",null,"b"]}`, `{"aud":[null]}`, `{"aud":[]}`, `{"aud":null}`, `{"aud":["a",["b"]]}`, `{"aud":"x"}`, `{"aud":[ "a" , "b" ]}`,
	`{"aud":["a",1]}`, `{"aud":[true]}`, `{"aud":[{}]}`, `{"aud":"\u0041"}`, `{"aud":["\u0041","\ud800"]}`,
	`{"scope":"  a  b\u00a0c a "}`, `{"scope":"a\u0085b\u2028c"}`, `{"scope":["a b","c"]}`, `{"scope":[]}`, `{"scope":[null,""]}`,
	`{"scope":null}`, `{"scope":{}}`, `{"scp":["x"],"scope":"y x"}`, `{"scp":"x y","scope":["z"]}`, `{"scp":[]}`,
	`{"exp":1e3}`, `{"exp":1E3}`, `{"exp":-0}`, `{"exp":0.5}`, `{"exp":01}`, `{"exp":1.}`, `{"exp":.5}`, `{"exp":-}`, `{"exp":1e}`,
	`{"exp":1e+}`, `{"exp":+1}`, `{"exp":9223372036854775808}`, `{"exp":253402300799}`, `{"exp":253402300800}`, `{"exp":253402300799.9}`,
	`{"exp":1e-7}`, `{"exp":-1e-7}`, `{"exp":-0.5}`, `{"exp":-1}`, `{"exp":0}`, `{"nbf":1.5e2,"iat":2E-0}`, `{"exp":1e400}`, `{"exp":-0.0e0}`,
	`{"https://x/a": { "b" : [ 1 , 2 , { "c" : "d e" } ] , "e":null } }`, `{"https://x":" a\n\"b\" \u00e9"}`,
	`{"https://x":1,"https://x":[ 2 ]}`, `{"https://x":{},"https://y":[],"https://z":""}`, "{\"https://x\":\"\xff\"}",
	`{"permissions":["b","a","b",""]}`, `{"permissions":"a"}`, `{"permissions":[null]}`, `{"perms":["x"],"permissions":5}`,
	`{"realm_access":{"roles":["a"],"roles":["b"]}}`, `{"realm_access":{"roles":[1],"roles":["b"]}}`, `{"realm_access":{"roles":null}}`,
	`{"realm_access":{}}`, `{"realm_access":[]}`, `{"realm_access":null}`, `{"realm_access":{"ro\u006ces":["a"]}}`,
	`{"resource_access":{"api":[1],"api":{"roles":["x"]}}}`, `{"resource_access":{"api":{"roles":["x"]},"api":[1]}}`,
	`{"resource_access":{"\u0061pi":{"roles":["x"]}}}`, `{"resource_access":{"venue-api":{"roles":["r"]},"account":{"roles":["m"]}}}`,
	`{"resource_access":{"api":{}}}`, `{"resource_access":{"api":{"roles":"x"}}}`, `{"resource_access":"x"}`,
	`{"azp":"","client_id":"b"}`, `{"azp":"a","client_id":""}`, `{"azp":"a","client_id":"a"}`, `{"azp":"a","appid":"b"}`,
	`{"cid":"a","client_id":"b"}`, `{"cid":"a","sub":"a"}`, `{"uid":"u","sub":"s","cid":"s"}`, `{"uid":"","sub":"s"}`,
	`{"sub":"x@clients"}`, `{"gty":"client_credentials","sub":"u"}`, `{"gty":5}`,
	`{"azp":"w","preferred_username":"service-account-W"}`, `{"azp":"w","preferred_username":"Service-account-w"}`,
	`{"azp":"a","sub":"s","idtyp":"app","scp":"x"}`, `{"azp":"a","sub":"s","idtyp":"user"}`, `{"azp":"a","sub":"s"}`, `{"idtyp":null}`,
	`{"aud":"venue-app","sub":"Cgx2ZW51ZS13b3JrZXI"}`, `{"aud":["a"],"sub":"CgFh"}`, `{"aud":["a","b"],"sub":"CgFh"}`,
	`{"tid":"t","org_id":"o","org_name":"n","tenant_name":"n2","https://venue.example/org":"o2","wids":["w"],"groups":["g"],"roles":["r"]}`,
	`{"active":true,"client_id":"c","username":"u","token_type":"Bearer"}`,
	`{"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`, `{"cnf":{"jkt":""}}`, `{"cnf":{"jkt":1}}`, `{"cnf":{}}`, `{"cnf":[]}`,
	`{"cnf":null}`, `{"cnf":{"jkt":"a","jkt":"b"}}`, `{"cnf":{"jkt":1,"jkt":"b"}}`, `{"cnf":{"j\u006bt":"x"}}`, `{"cnf":{"x5t#S256":"y"}}`, ` {"iss" : "i" ,` + "\n" + `"sub":"s"} `,
}

// depthCases nest arrays up to encoding/json's limit and one past it.
func depthCases() []string {
	nest := func(n int) string { return `{"https://x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}` }
	return []string{nest(9998), nest(9999), nest(10000), `{"a":` + strings.Repeat(`{"b":`, 9999) + `1` + strings.Repeat("}", 9999) + `}`,
		`{"a":` + strings.Repeat(`{"b":`, 10000) + `1` + strings.Repeat("}", 10000) + `}`}
}

// sameOutcome fails t unless Decode and the reference decoder agree on
// data under m: both accept with equal Principals, or both reject with the
// same Reason (or both as unavailable).
func sameOutcome(t *testing.T, m claims.Mapping, data []byte) {
	t.Helper()
	got, gerr := m.Decode(data)
	want, werr := claims.DecodeReference(m, data)
	switch {
	case (gerr == nil) != (werr == nil):
		t.Fatalf("%v %q: Decode = %v, %v; reference = %v, %v", m.Preset, truncated(data), got, gerr, want, werr)
	case gerr != nil:
		gr, gok := claims.ReasonOf(gerr)
		wr, wok := claims.ReasonOf(werr)
		if gr != wr || gok != wok || errors.Is(gerr, claims.ErrUnavailable) != errors.Is(werr, claims.ErrUnavailable) {
			t.Fatalf("%v %q: Decode error %v; reference %v", m.Preset, truncated(data), gerr, werr)
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%v %q:\nDecode    %+v\nreference %+v", m.Preset, truncated(data), got, want)
	}
}

func truncated(data []byte) string {
	if len(data) > 200 {
		return string(data[:200]) + fmt.Sprintf("… (%d bytes)", len(data))
	}
	return string(data)
}

// TestDecodeMatchesReference compares Decode with the reference decoder on
// the providers' payloads and every prefix of them, and on the edge cases,
// under every mapping.
func TestDecodeMatchesReference(t *testing.T) {
	payloads := []string{auth0Payload, oktaPayload, keycloakUser, keycloakServiceAccount, entraV2User, entraV2App, entraV1User}
	for _, m := range mappings {
		for _, p := range payloads {
			for n := range len(p) + 1 {
				sameOutcome(t, m, []byte(p[:n]))
			}
		}
		for _, c := range edgeCases {
			sameOutcome(t, m, []byte(c))
		}
	}
	for _, c := range depthCases() {
		sameOutcome(t, claims.Mapping{}, []byte(c))
	}
}

// TestDecodeNestingLimit: like encoding/json, 10000 nested arrays and
// objects are accepted (the claims object counts), one more is not.
func TestDecodeNestingLimit(t *testing.T) {
	cases := depthCases()
	for i, want := range []bool{true, true, false, true, false} {
		if _, err := (claims.Mapping{}).Decode([]byte(cases[i])); (err == nil) != want {
			t.Errorf("case %d: err %v, want accepted %v", i, err, want)
		}
	}
}

// FuzzDecodeMatchesReference: on any input, under any mapping, Decode and
// the reference decoder agree.
func FuzzDecodeMatchesReference(f *testing.F) {
	for _, p := range []string{auth0Payload, oktaPayload, keycloakUser, keycloakServiceAccount, entraV2User, entraV2App, entraV1User} {
		f.Add([]byte(p), uint8(0))
	}
	for i, c := range edgeCases {
		f.Add([]byte(c), uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		sameOutcome(t, mappings[int(which)%len(mappings)], data)
	})
}
