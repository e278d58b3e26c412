package bearer

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestFromHeader(t *testing.T) {
	long := strings.Repeat("a", 101)
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
		err     error
	}{
		{"none", nil, "", ErrMissing},
		{"bearer", []string{"Bearer abc.def-ghi_jkl~+/=="}, "abc.def-ghi_jkl~+/==", nil},
		{"scheme case", []string{"bEaReR tok"}, "tok", nil},
		{"extra spaces", []string{"Bearer   tok"}, "tok", nil},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", ErrMissing},
		{"scheme only", []string{"Bearer"}, "", ErrShape},
		{"empty token", []string{"Bearer "}, "", ErrShape},
		{"two tokens", []string{"Bearer a b"}, "", ErrShape},
		{"comma list", []string{"Bearer a, Bearer b"}, "", ErrShape},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", ErrMultiple},
		// A malformed token is the validator's to refuse (invalid_token).
		{"quote", []string{`Bearer a"b`}, `a"b`, nil},
		{"too large", []string{"Bearer " + long}, "", ErrTooLarge},
		{"at the limit", []string{"Bearer " + long[:100]}, long[:100], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.headers {
				h.Add("Authorization", v)
			}
			got, err := FromHeader(h, 100)
			if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("FromHeader = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestValid(t *testing.T) {
	for tok, want := range map[string]bool{
		"abc.DEF-123_~+/": true, "a==": true, "": false, "==": false,
		`a"b`: false, "a=b": false, "a\nb": false, "a b": false, "ä": false,
	} {
		if got := Valid(tok); got != want {
			t.Errorf("Valid(%q) = %v", tok, got)
		}
	}
}

func TestFromHeaderDoesNotAllocate(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer " + strings.Repeat("x", 1000)}}
	if n := testing.AllocsPerRun(100, func() { _, _ = FromHeader(h, 4096) }); n != 0 {
		t.Fatalf("FromHeader allocates %v times", n)
	}
}

func FuzzFromHeader(f *testing.F) {
	f.Add("Bearer abc")
	f.Add("bearer a.b.c==")
	f.Add("Basic x")
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := FromHeader(http.Header{"Authorization": {v}}, 64)
		if err != nil {
			return
		}
		if tok == "" || strings.Contains(tok, " ") || len(tok) > 64 || !strings.Contains(v, tok) {
			t.Fatalf("FromHeader(%q) = %q", v, tok)
		}
	})
}

func BenchmarkFromHeader1KB(b *testing.B) {
	h := http.Header{"Authorization": {"Bearer " + strings.Repeat("eyJhbGciOiJSUzI1NiIs", 52)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromHeader(h, 16<<10); err != nil {
			b.Fatal(err)
		}
	}
}
