package idptest

import "testing"

// TestDPoPThumbprint is RFC 9449's example key (Figure 4), whose thumbprint
// Figure 9's token carries: parseJWK reads it and thumbprint hashes what
// it keeps.
func TestDPoPThumbprint(t *testing.T) {
	_, members, err := parseJWK(map[string]any{"kty": "EC", "crv": "P-256", "kid": "ignored",
		"x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"})
	if err != nil {
		t.Fatal(err)
	}
	if got := thumbprint(members); got != "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" {
		t.Fatalf("thumbprint %q", got)
	}
}

func TestParseJWKRefuses(t *testing.T) {
	for name, j := range map[string]map[string]any{
		"oct":        {"kty": "oct", "k": "c2VjcmV0"},
		"private EC": {"kty": "EC", "crv": "P-256", "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA", "d": "AA"},
		"off curve":  {"kty": "EC", "crv": "P-256", "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "y": "8VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"},
		"P-192":      {"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"},
		"small RSA":  {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
		"X25519":     {"kty": "OKP", "crv": "X25519", "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"},
		"no kty":     {"x": "AA"},
		"short Ed":   {"kty": "OKP", "crv": "Ed25519", "x": "AA"},
	} {
		if _, _, err := parseJWK(j); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
