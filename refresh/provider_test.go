package refresh

import "testing"

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
