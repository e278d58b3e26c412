package seal

import (
	"bytes"
	"errors"
	"testing"
)

var (
	k1 = Key{ID: 1, Secret: bytes.Repeat([]byte{1}, 32)}
	k2 = Key{ID: 2, Secret: bytes.Repeat([]byte{2}, 32)}
)

func TestSealOpen(t *testing.T) {
	old, _ := New([]Key{k1})
	rotated, _ := New([]Key{k2, k1})
	onlyNew, _ := New([]Key{k2})
	ad := AD("alice", "roomsmart")
	s := old.Seal([]byte("secret"), ad)
	if bytes.Contains(s, []byte("secret")) {
		t.Fatal("plaintext visible")
	}
	if p, err := rotated.Open(s, ad); err != nil || string(p) != "secret" {
		t.Fatalf("a record under the previous key: %q %v", p, err)
	}
	if s2 := rotated.Seal([]byte("x"), ad); s2[1] != 2 {
		t.Errorf("sealed under key %d, want the first key", s2[1])
	}
	if _, err := onlyNew.Open(s, ad); !errors.Is(err, ErrOpen) {
		t.Errorf("a dropped key opened: %v", err)
	}
	for name, c := range map[string]struct {
		sealed []byte
		ad     []byte
	}{
		"other ad":     {s, AD("bob", "roomsmart")},
		"shifted ad":   {s, AD("alice", "", "roomsmart")},
		"cut":          {s[:len(s)-1], ad},
		"empty":        {nil, ad},
		"flipped byte": {flip(s, len(s)/2), ad},
		"other key id": {flip(s, 1), ad},
		"version":      {flip(s, 0), ad},
	} {
		if _, err := rotated.Open(c.sealed, c.ad); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: opened (%v)", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func TestNewRefusesBadKeys(t *testing.T) {
	for name, keys := range map[string][]Key{
		"none":      nil,
		"short":     {{ID: 1, Secret: []byte("short")}},
		"duplicate": {k1, k1},
	} {
		if _, err := New(keys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAD(t *testing.T) {
	if bytes.Equal(AD("a|b", "c"), AD("a", "b|c")) || bytes.Equal(AD("ab", ""), AD("a", "b")) {
		t.Error("AD is ambiguous")
	}
}
