package dpop

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNormalizeURI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.example.com/v1/venues", "https://api.example.com/v1/venues"},
		{"HTTPS://API.Example.COM/v1/venues", "https://api.example.com/v1/venues"},
		{"https://api.example.com:443/v1", "https://api.example.com/v1"},
		{"http://api.example.com:80/v1", "http://api.example.com/v1"},
		{"http://api.example.com:443/v1", "http://api.example.com:443/v1"},
		{"https://api.example.com:8443/v1", "https://api.example.com:8443/v1"},
		{"https://api.example.com:/v1", "https://api.example.com/v1"},
		{"https://api.example.com", "https://api.example.com/"},
		{"https://api.example.com?x=1#f", "https://api.example.com/"},
		{"https://api.example.com/v1/venues?page=2#top", "https://api.example.com/v1/venues"},
		{"https://api.example.com/a/./b/../c", "https://api.example.com/a/c"},
		{"https://api.example.com/a/..", "https://api.example.com/"},
		{"https://api.example.com/../a", "https://api.example.com/a"},
		{"https://api.example.com/a/.", "https://api.example.com/a/"},
		{"https://api.example.com/v1.2/x", "https://api.example.com/v1.2/x"},
		{"https://api.example.com/%7Ealice/%2f", "https://api.example.com/~alice/%2F"},
		{"https://api.example.com/a%2db", "https://api.example.com/a-b"},
		{"https://api.example.com/caf%c3%a9", "https://api.example.com/caf%C3%A9"},
		{"https://api.example.com/a b", "https://api.example.com/a%20b"},
		{"http://[::1]:8080/x", "http://[::1]:8080/x"},
		{"http://[::1]:80/x", "http://[::1]/x"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/"},
	} {
		got, err := NormalizeURI(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeURI(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeURIRejects(t *testing.T) {
	for _, in := range []string{
		"", "/v1/venues", "api.example.com/v1", "ftp://api.example.com/", "mailto:a@b",
		"https://user:pw@api.example.com/", "https:///v1", "https://api.example.com/%zz", "https://:443/",
	} {
		if got, err := NormalizeURI(in); err == nil {
			t.Errorf("NormalizeURI(%q) = %q, want an error", in, got)
		}
	}
}

// TestTokenHashExample is RFC 9449 Figure 13 and 14: the ath of the example
// access token.
func TestTokenHashExample(t *testing.T) {
	const token, ath = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
	if got := TokenHash(token); got != ath {
		t.Fatalf("TokenHash = %q, want %q", got, ath)
	}
	if !TokenHashMatches(ath, token) {
		t.Fatal("TokenHashMatches refuses the example")
	}
	for _, bad := range []string{"", ath[:42], ath + "=", strings.ToLower(ath), TokenHash(token + "x")} {
		if TokenHashMatches(bad, token) {
			t.Errorf("TokenHashMatches(%q) accepted", bad)
		}
	}
	if n := testing.AllocsPerRun(50, func() { TokenHashMatches(ath, token) }); n != 0 {
		t.Errorf("TokenHashMatches allocates %v times", n)
	}
	sum := sha256.Sum256([]byte(token))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != ath {
		t.Fatal("the example is not base64url(SHA-256)")
	}
}

// FuzzNormalizeURI: normalization is idempotent, and what it returns has
// neither query nor fragment.
func FuzzNormalizeURI(f *testing.F) {
	for _, s := range []string{"https://a.example/x/../y?q#f", "HTTP://A:80/%7e", "http://[::1]:8080/a/./b", "https://a/%2F%2f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := NormalizeURI(in)
		if err != nil {
			return
		}
		if strings.ContainsAny(n, "?#") {
			t.Fatalf("NormalizeURI(%q) = %q keeps a query or fragment", in, n)
		}
		n2, err := NormalizeURI(n)
		if err != nil || n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, n, n2, err)
		}
	})
}
