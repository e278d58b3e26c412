package cache

import (
	"bytes"
	"testing"
	"time"
)

func testCodec(tb testing.TB) *codec {
	tb.Helper()
	c, err := newCodec(MemcacheConfig{
		Namespace: "fuzz/venue",
		HashKey:   []byte("0123456789abcdef0123456789abcdef"),
		MACKeys: []MACKey{
			{ID: 2, Secret: []byte("key-two-key-two-key-two-key-two-")},
			{ID: 1, Secret: []byte("key-one-key-one-key-one-key-one-")},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// FuzzDecodeEntry feeds arbitrary bytes to the decoder of stored entries:
// it must never panic, and it must accept only what the encoder produced
// under this key name with a known key — sealing what it accepted again
// gives the same bytes, and the same bytes under another name are refused.
//
//	go test -run '^$' -fuzz FuzzDecodeEntry -fuzztime 30s ./cache
func FuzzDecodeEntry(f *testing.F) {
	c := testCodec(f)
	now := time.Unix(1_800_000_000, 0)
	name := c.appendKeyName(nil, Digest{1})
	other := c.appendKeyName(nil, Digest{2})
	for _, e := range []Entry{
		{Value: []byte("principal"), Expires: now.Add(10 * time.Minute)},
		{Value: nil, Expires: now.Add(time.Second)},
		{Value: bytes.Repeat([]byte{0xff}, 600), Expires: now.Add(45 * 24 * time.Hour)},
		{Value: []byte("expired"), Expires: now},
	} {
		for _, id := range []byte{1, 2} {
			good := c.seal(name, e, id)
			f.Add(good)
			f.Add(good[:len(good)-1])
			f.Add(append(bytes.Clone(good), 0))
			f.Add(c.seal(other, e, id))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{entryVersion})
	f.Fuzz(func(t *testing.T, v []byte) {
		e, r := c.open(name, v, now)
		if r != accepted {
			if e.Value != nil || !e.Expires.IsZero() {
				t.Fatalf("refused (%v) but returned an entry", r)
			}
			return
		}
		if !e.Expires.After(now) {
			t.Fatalf("accepted an entry that expired at %v", e.Expires)
		}
		if again := c.seal(name, e, v[1]); !bytes.Equal(again, v) {
			t.Fatalf("accepted bytes the encoder would not write:\n got %x\nwant %x", v, again)
		}
		if _, r := c.open(other, v, now); r != rejectBadMAC {
			t.Fatalf("accepted under another key name too (%v)", r)
		}
	})
}

// sealed returns an entry of n payload bytes as stored under name, and a
// time at which it is valid.
func sealed(c *codec, n int) (name, v []byte, now time.Time) {
	now = time.Unix(1_800_000_000, 0)
	name = c.appendKeyName(nil, Digest{1})
	v = c.seal(name, Entry{Value: bytes.Repeat([]byte("p"), n), Expires: now.Add(time.Hour)}, 2)
	return name, v, now
}

// TestEntryValueIsCapped: appending to a returned Value cannot overwrite
// the MAC in the buffer it shares.
func TestEntryValueIsCapped(t *testing.T) {
	c := testCodec(t)
	name, v, now := sealed(c, 3)
	e, r := c.open(name, v, now)
	if r != accepted {
		t.Fatal(r)
	}
	_ = append(e.Value, 'x')
	if _, r := c.open(name, v, now); r != accepted {
		t.Fatalf("appending to Value changed the stored bytes: %v", r)
	}
}

// BenchmarkOpen is the cost of checking an entry of a Principal's size:
// its HMAC-SHA256 over about 700 bytes.
func BenchmarkOpen(b *testing.B) {
	c := testCodec(b)
	name, v, now := sealed(c, 600)
	b.ReportAllocs()
	for b.Loop() {
		if _, r := c.open(name, v, now); r != accepted {
			b.Fatal(r)
		}
	}
}

// BenchmarkKeyName is the cost of naming an entry: an HMAC-SHA256 of the
// digest and its base64 form.
func BenchmarkKeyName(b *testing.B) {
	c := testCodec(b)
	var buf [maxKeyName]byte
	b.ReportAllocs()
	for b.Loop() {
		_ = c.appendKeyName(buf[:0], Digest{1})
	}
}
