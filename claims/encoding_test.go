package claims_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
)

func fullPrincipal() *claims.Principal {
	return &claims.Principal{
		Subject:         "auth0|alice",
		AuthorizedParty: "venue-app",
		OrgID:           "org_acme",
		OrgName:         "acme",
		Scopes:          claims.ParseScope("openid read:venues"),
		Permissions:     claims.NewSet("read:venues"),
		GrantType:       "password",
		Issuer:          "https://tenant.auth0.com/",
		Audience:        []string{"https://api", "https://tenant.auth0.com/userinfo"},
		IssuedAt:        time.Unix(1763856000, 0).UTC(),
		NotBefore:       time.Unix(1763856000, 5).UTC(),
		ExpiresAt:       time.Unix(1763942400, 0).UTC(),
		TokenID:         "j-1",
		Kind:            claims.KindDelegated,
		Confirmation:    claims.Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		Custom:          map[string]json.RawMessage{"https://v/b": json.RawMessage(`[1,2]`), "https://v/a": json.RawMessage(`"x"`)},
		Enrichment:      map[string][]string{"datasets": {"d1", "d2"}, "region": {"eu"}},
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	for name, p := range map[string]*claims.Principal{
		"full":  fullPrincipal(),
		"empty": {},
		"machine": {
			Subject: "w@clients", AuthorizedParty: "w", Kind: claims.KindMachine,
			Scopes: claims.NewSet("read:venues"), ExpiresAt: time.Unix(2000000000, 0).UTC(),
		},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var q claims.Principal
			if err := q.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, &q) {
				t.Fatalf("round trip:\n%+v\n%+v", p, &q)
			}
			b2, _ := q.MarshalBinary()
			if string(b) != string(b2) {
				t.Fatal("encoding is not deterministic")
			}
		})
	}
}

func TestBinaryRejects(t *testing.T) {
	good, _ := fullPrincipal().MarshalBinary()
	for name, data := range map[string][]byte{
		"empty":         {},
		"other version": append([]byte{3}, good[1:]...),
		"trailing byte": append(append([]byte{}, good...), 0),
	} {
		var q claims.Principal
		if err := q.UnmarshalBinary(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for n := range len(good) {
		var q claims.Principal
		if err := q.UnmarshalBinary(good[:n]); err == nil {
			t.Errorf("truncated to %d of %d bytes: accepted", n, len(good))
		}
	}
}

// TestBinaryRefusesVersion1: version 1 was written by code that ignored
// cnf, so a version 1 entry may be a DPoP-bound token's Principal without
// its binding. It must be a miss, never read as a bearer token's.
func TestBinaryRefusesVersion1(t *testing.T) {
	// A version 1 encoding of {Subject: "s", Kind: KindUser}: version, seven
	// strings, three empty lists, no times, the kind, no custom claims, no
	// enrichment.
	v1 := []byte{1, 1, 's', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(claims.KindUser), 0, 0}
	var q claims.Principal
	if err := q.UnmarshalBinary(v1); err == nil {
		t.Fatalf("a version 1 entry was read: %+v", q)
	}
	// The same Principal in version 2 reads, and keeps its binding.
	p := &claims.Principal{Subject: "s", Kind: claims.KindUser, Confirmation: claims.Confirmation{JKT: "k"}}
	b, _ := p.MarshalBinary()
	if err := q.UnmarshalBinary(b); err != nil || q.Confirmation.JKT != "k" || !q.Confirmation.Bound() {
		t.Fatalf("version 2: %+v, %v", q, err)
	}
}

// TestBinaryRejectsUnsortedSet: Set relies on sorted items for its binary
// search, so an encoding with unsorted scopes is refused, not repaired.
func TestBinaryRejectsUnsortedSet(t *testing.T) {
	empty, _ := (&claims.Principal{}).MarshalBinary()
	const scopesAt = 9 // version byte + eight empty strings
	withScopes := func(list ...byte) []byte {
		return append(append(append([]byte{}, empty[:scopesAt]...), list...), empty[scopesAt+1:]...)
	}
	var q claims.Principal
	if err := q.UnmarshalBinary(withScopes(2, 1, 'a', 1, 'b')); err != nil || !q.HasScope("b") {
		t.Fatalf("sorted scopes: %v", err)
	}
	for name, list := range map[string][]byte{
		"unsorted":  {2, 1, 'b', 1, 'a'},
		"duplicate": {2, 1, 'a', 1, 'a'},
		"empty":     {1, 0},
	} {
		if err := q.UnmarshalBinary(withScopes(list...)); err == nil {
			t.Errorf("%s scopes accepted", name)
		}
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	good, _ := fullPrincipal().MarshalBinary()
	f.Add(good)
	empty, _ := (&claims.Principal{}).MarshalBinary()
	f.Add(empty)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p claims.Principal
		if err := p.UnmarshalBinary(data); err != nil {
			return
		}
		// Anything accepted is canonical: it encodes back to the same bytes.
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(data) {
			t.Fatalf("accepted a non-canonical encoding:\n%x\n%x", data, b)
		}
	})
}

func BenchmarkMarshalBinary(b *testing.B) {
	p := fullPrincipal()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = p.MarshalBinary()
	}
}

func BenchmarkUnmarshalBinary(b *testing.B) {
	data, _ := fullPrincipal().MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		var p claims.Principal
		if err := p.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}
