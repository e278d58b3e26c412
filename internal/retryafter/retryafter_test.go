package retryafter_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/retryafter"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"30", 30 * time.Second, true},
		{"0", time.Second, true}, // at least a second
		{"86400", retryafter.Max, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, ok := retryafter.Parse(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if d, ok := retryafter.Of(http.Header{"Retry-After": {"7"}}, now); d != 7*time.Second || !ok {
		t.Errorf("Of = %v, %v", d, ok)
	}
}

// FuzzParse: any Retry-After a server sends gives no wait, or one between
// a second and Max.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "1", "120", "Sun, 06 Nov 1994 08:49:37 GMT", "-1", "1e9"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryafter.Parse(v, now)
		if ok && (d < time.Second || d > retryafter.Max) || !ok && d != 0 {
			t.Fatalf("Parse(%q) = %v, %v", v, d, ok)
		}
	})
}
