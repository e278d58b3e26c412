package tokenvalidator_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/tokenvalidator"
)

// notPolicy lists the JWKSConfig fields that change how keys are fetched,
// not which tokens are accepted. Every other field must change the policy's
// fingerprint: a new field has to be put in one group or the other.
var notPolicy = map[string]bool{
	"RefreshInterval": true, "UnknownKeyInterval": true, "UnknownKeyWait": true, "FetchTimeout": true,
}

func TestPolicyCoversJWKSConfig(t *testing.T) {
	idp, base := newJWKS(t)
	baseFP := base.Policy().Fingerprint()
	typ := reflect.TypeOf(tokenvalidator.JWKSConfig{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		v := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) {
			field := reflect.ValueOf(c).Elem().Field(i)
			switch f.Name {
			case "Issuer":
				c.Issuer = "https://other.example/"
			case "Audiences":
				c.Audiences = []string{"https://other-api.example"}
			case "JWKSURL":
				c.JWKSURL = idp.JWKSURL()
			case "Algorithms":
				c.Algorithms = []string{"RS256"}
			case "RSAKeyAlgorithm":
				c.RSAKeyAlgorithm = "PS256"
			case "SharedSecret":
				c.SharedSecret, c.Algorithms = []byte("0123456789abcdef0123456789abcdef"), []string{"RS256", "HS256"}
			case "Mapping":
				c.Mapping.OrgIDClaim = "https://venue.example/org"
			default:
				switch field.Kind() {
				case reflect.Bool:
					field.SetBool(!field.Bool())
				case reflect.Int, reflect.Int64:
					field.SetInt(field.Int() + int64(time.Minute))
				default:
					t.Fatalf("JWKSConfig.%s: teach this test how to change it", f.Name)
				}
			}
		})
		changed := v.Policy().Fingerprint() != baseFP
		if changed == notPolicy[f.Name] {
			t.Errorf("JWKSConfig.%s: fingerprint changed = %v; want %v", f.Name, changed, !notPolicy[f.Name])
		}
	}
}

func TestPolicy(t *testing.T) {
	idp, v := newJWKS(t, func(c *tokenvalidator.JWKSConfig) { c.Audiences = []string{"a", api} })
	same := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) { c.Audiences = []string{api, "a", api} })
	if v.Policy().Fingerprint() != same.Policy().Fingerprint() {
		t.Error("the order or repetition of audiences changes the fingerprint")
	}
	p := v.Policy()
	if p.Leeway != 30*time.Second {
		t.Errorf("Leeway = %v, want the default 30s", p.Leeway)
	}
	for _, tc := range []struct {
		name string
		pr   claims.Principal
		want bool
	}{
		{"issuer and audience", claims.Principal{Issuer: idp.Issuer(), Audience: []string{"x", api}}, true},
		{"other audience", claims.Principal{Issuer: idp.Issuer(), Audience: []string{"x"}}, false},
		{"no audience", claims.Principal{Issuer: idp.Issuer()}, false},
		{"other issuer", claims.Principal{Issuer: "https://evil.example/", Audience: []string{api}}, false},
	} {
		if got := p.Admits(&tc.pr); got != tc.want {
			t.Errorf("%s: Admits = %v, want %v", tc.name, got, tc.want)
		}
	}

	ui, err := tokenvalidator.NewUserInfo(tokenvalidator.UserInfoConfig{URL: idp.UserinfoURL(), Issuer: idp.Issuer()})
	if err != nil {
		t.Fatal(err)
	}
	if !ui.Policy().Admits(&claims.Principal{Issuer: idp.Issuer()}) {
		t.Error("userinfo checks no audience, yet its policy refuses a Principal without one")
	}
	auto := tokenvalidator.Auto{JWT: v, Opaque: ui}
	ap := auto.Policy()
	if ap.Fingerprint() == p.Fingerprint() || ap.Fingerprint() == ui.Policy().Fingerprint() || len(ap.Rules) != 2 {
		t.Errorf("Auto's policy is not the union of its validators': %+v", ap)
	}
	other := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) { c.Issuer = "https://int.example/" })
	is, err := tokenvalidator.NewIssuers(v, other)
	if err != nil {
		t.Fatal(err)
	}
	if !is.Policy().Admits(&claims.Principal{Issuer: "https://int.example/", Audience: []string{api}}) {
		t.Error("Issuers' policy refuses its second issuer")
	}
}
