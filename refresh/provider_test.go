package refresh

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"30", 30 * time.Second, true},
		{"0", time.Second, true}, // at least a second
		{"86400", maxRetryAfter, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzRetryAfter: any Retry-After a provider sends gives no wait, or one
// between a second and maxRetryAfter.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "120", "Sun, 06 Nov 1994 08:49:37 GMT", "-1", "1e9"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryAfter(v, now)
		if ok && (d < time.Second || d > maxRetryAfter) || !ok && d != 0 {
			t.Fatalf("retryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}

// FuzzPlainCode: what passes on to a client is the provider's code
// unchanged or nothing, at most 64 bytes of visible ASCII without quotes,
// backslashes or spaces (safe in JSON, in a header, in a log).
func FuzzPlainCode(f *testing.F) {
	for _, s := range []string{"mfa_required", "invalid_grant", `a"b`, "x\r\ny", "ünïcode"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		got := plainCode(code)
		if got != "" && got != code || len(got) > 64 {
			t.Fatalf("plainCode(%q) = %q", code, got)
		}
		for i := range len(got) {
			if c := got[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
				t.Fatalf("plainCode(%q) passes %q", code, c)
			}
		}
	})
}
