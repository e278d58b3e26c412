package authn

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
)

func jwtWith(t testing.TB, payload any) string {
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// TestPeekClaims: the guess reads compact claims and gives up, rather than
// guess wrong, on what it does not read simply.
func TestPeekClaims(t *testing.T) {
	for _, tc := range []struct {
		name             string
		token            string
		sub, client, org string
		ok               bool
	}{
		{"auth0", jwtWith(t, map[string]any{"sub": "auth0|alice", "azp": "venue-app", "org_id": "org_acme", "scope": "a b"}), "auth0|alice", "venue-app", "org_acme", true},
		{"rfc 9068", jwtWith(t, map[string]any{"sub": "u1", "client_id": "c1"}), "u1", "c1", "", true},
		{"machine", jwtWith(t, map[string]any{"sub": "w@clients", "azp": "w"}), "w@clients", "w", "", true},
		{"no sub", jwtWith(t, map[string]any{"azp": "w"}), "", "w", "", false},
		{"escaped", jwtWith(t, map[string]any{"sub": `a"b`}), "", "", "", false},
		{"opaque", "mF_9.B5f-4.1JqM", "", "", "", false},
		{"not base64", "a.!!!.c", "", "", "", false},
		{"one part", "abc", "", "", "", false},
		{"huge", "a." + base64.RawURLEncoding.EncodeToString(make([]byte, maxPeek+1)) + ".c", "", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, client, org, ok := peekClaims(tc.token)
			if ok != tc.ok || (ok && (sub != tc.sub || client != tc.client || org != tc.org)) {
				t.Errorf("peekClaims = %q %q %q %v, want %q %q %q %v", sub, client, org, ok, tc.sub, tc.client, tc.org, tc.ok)
			}
		})
	}
}

// FuzzPeekClaims: any token, however malformed, is a guess or nothing,
// never a panic; a guess names a subject.
func FuzzPeekClaims(f *testing.F) {
	f.Add(jwtWith(f, map[string]any{"sub": "auth0|alice", "azp": "venue-app", "org_id": "org_acme"}))
	f.Add("a.eyJzdWIiOiJ4.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		if sub, _, _, ok := peekClaims(token); ok && sub == "" {
			t.Fatal("a guess without a subject")
		}
	})
}

// TestMarkDigests: no two marks share a digest, whatever their values.
func TestMarkDigests(t *testing.T) {
	seen := map[[32]byte]string{}
	for name, d := range map[string][32]byte{
		"subject a|b":  markDigest(markSubject, "a|b"),
		"subject ab":   markDigest(markSubject, "ab"),
		"grant a, b":   markDigest(markGrant, "a", "b"),
		"grant ab, ''": markDigest(markGrant, "ab", ""),
		"grant '', ab": markDigest(markGrant, "", "ab"),
		"org ab":       markDigest(markOrganization, "ab"),
		"org a|b":      markDigest(markOrganization, "a|b"),
	} {
		if other, ok := seen[d]; ok {
			t.Errorf("%s and %s share a digest", name, other)
		}
		seen[d] = name
	}
}

func TestMarkEncoding(t *testing.T) {
	at := time.Unix(1_900_000_000, 123_456_789)
	if got, ok := decodeMark(encodeMark(at)); !ok || !got.Equal(at) {
		t.Errorf("decodeMark(encodeMark(%v)) = %v, %v", at, got, ok)
	}
	for _, v := range [][]byte{nil, {entryMark}, {entryRevoked}, append([]byte{entryPrincipal}, make([]byte, 8)...)} {
		if _, ok := decodeMark(v); ok {
			t.Errorf("decodeMark(%v) accepted", v)
		}
	}
	if _, err := decodeEntry(encodeMark(at)); err == nil {
		t.Error("a mark read as a token's entry")
	}
	p := &claims.Principal{IssuedAt: time.Unix(1_900_000_000, 0)}
	if !refusedBy(p, at) || refusedBy(p, time.Unix(1_900_000_000, 0)) {
		t.Error("a token issued in T's second, before it, must be refused; one issued at T accepted")
	}
}
