package bearer

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCredentials(t *testing.T) {
	for _, tc := range []struct {
		name          string
		headers       []string
		scheme, token string
		err           error
	}{
		{"none", nil, "", "", ErrMissing},
		{"bearer", []string{"Bearer abc"}, SchemeBearer, "abc", nil},
		{"dpop", []string{"DPoP Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"}, SchemeDPoP, "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", nil},
		{"dpop case", []string{"dpop abc"}, SchemeDPoP, "abc", nil},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", "", ErrMissing},
		{"dpop two tokens", []string{"DPoP a b"}, SchemeDPoP, "", ErrShape},
		{"dpop empty", []string{"DPoP "}, SchemeDPoP, "", ErrShape},
		{"two headers", []string{"DPoP a", "Bearer a"}, "", "", ErrMultiple},
		{"too large", []string{"DPoP " + strings.Repeat("a", 101)}, SchemeDPoP, "", ErrTooLarge},
		{"far too large", []string{"DPoP " + strings.Repeat("a", 200)}, "", "", ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.headers {
				h.Add("Authorization", v)
			}
			scheme, tok, err := Credentials(h, 100)
			if scheme != tc.scheme || tok != tc.token || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("Credentials = %q, %q, %v; want %q, %q, %v", scheme, tok, err, tc.scheme, tc.token, tc.err)
			}
		})
	}
	// FromHeader still knows Bearer alone.
	if _, err := FromHeader(http.Header{"Authorization": {"DPoP a b"}}, 100); !errors.Is(err, ErrMissing) {
		t.Errorf("FromHeader(DPoP …) = %v, want ErrMissing", err)
	}
}

func TestDPoPChallenge(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{DPoPChallenge("api", "", "", "", "ES256 PS256"), `DPoP realm="api", algs="ES256 PS256"`},
		{DPoPChallenge("api", "invalid_token", "Invalid DPoP key binding", "", "ES256"),
			`DPoP realm="api", error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256"`},
		{DPoPChallenge(`a"pi`, "use_dpop_nonce", `say "nonce"`, "read:venues", "ES256"),
			`DPoP realm="api", error="use_dpop_nonce", error_description="say nonce", scope="read:venues", algs="ES256"`},
		{Challenge("api", "invalid_token", "", ""), `Bearer realm="api", error="invalid_token"`},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}

func TestCredentialsDoesNotAllocate(t *testing.T) {
	h := http.Header{"Authorization": {"DPoP " + strings.Repeat("x", 1000)}}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = Credentials(h, 4096) }); n != 0 {
		t.Fatalf("Credentials allocates %v times", n)
	}
}

func FuzzCredentials(f *testing.F) {
	f.Add("DPoP abc")
	f.Add("Bearer a.b.c==")
	f.Add("dPoP  x")
	f.Fuzz(func(t *testing.T, v string) {
		scheme, tok, err := Credentials(http.Header{"Authorization": {v}}, 64)
		if err != nil {
			return
		}
		if (scheme != SchemeBearer && scheme != SchemeDPoP) || tok == "" || strings.Contains(tok, " ") || len(tok) > 64 || !strings.Contains(v, tok) {
			t.Fatalf("Credentials(%q) = %q, %q", v, scheme, tok)
		}
	})
}
