package claims_test

import (
	"encoding/json"
	"testing"

	"github.com/authgate/authgate/claims"
)

func TestSet(t *testing.T) {
	s := claims.ParseScope("  read:venues openid  book:venues read:venues ")
	if s.Len() != 3 || s.String() != "book:venues openid read:venues" {
		t.Fatalf("ParseScope = %q (%d)", s.String(), s.Len())
	}
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"Has present", s.Has("openid"), true},
		{"Has absent", s.Has("write"), false},
		{"Has empty", s.Has(""), false},
		{"HasAll", s.HasAll("openid", "read:venues"), true},
		{"HasAll one missing", s.HasAll("openid", "write"), false},
		{"HasAll none", s.HasAll(), true},
		{"HasAny", s.HasAny("write", "openid"), true},
		{"HasAny none match", s.HasAny("write", "delete"), false},
		{"HasAny none", s.HasAny(), false},
		{"zero Set", claims.Set{}.Has("x"), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	items := s.Strings()
	items[0] = "mutated"
	if !s.Has("book:venues") {
		t.Error("Strings exposed the set's storage")
	}
	b, _ := json.Marshal(struct{ A, B claims.Set }{s, claims.NewSet("", "")})
	if string(b) != `{"A":["book:venues","openid","read:venues"],"B":[]}` {
		t.Errorf("JSON = %s", b)
	}
}

func TestSetChecksDoNotAllocate(t *testing.T) {
	s := claims.ParseScope("openid profile email read:venues book:venues manage:venues read:datasets offline_access")
	need := []string{"read:venues", "book:venues"}
	if n := testing.AllocsPerRun(100, func() { _ = s.HasAll(need...) && s.Has("openid") }); n != 0 {
		t.Fatalf("checks allocate %v times", n)
	}
}

func BenchmarkSetHas(b *testing.B) {
	s := claims.ParseScope("openid profile email read:venues book:venues manage:venues read:datasets offline_access")
	for b.Loop() {
		_ = s.Has("read:venues")
	}
}
