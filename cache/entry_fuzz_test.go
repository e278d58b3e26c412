package cache

import (
	"bytes"
	"testing"
	"time"
)

// FuzzOpenEntry feeds arbitrary bytes to the decoder of memcached entries:
// it must never panic, and it must accept only what the encoder produced
// under this key name with a known key — re-sealing what it accepted gives
// the same bytes.
func FuzzOpenEntry(f *testing.F) {
	c := &Memcache{
		prefix:  "ag1:fuzz:",
		namer:   newHMACPool([]byte("0123456789abcdef0123456789abcdef")),
		signKey: MACKey{ID: 1, Secret: []byte("key-one-key-one-key-one-key-one-")},
		macs:    map[byte]*hmacPool{1: newHMACPool([]byte("key-one-key-one-key-one-key-one-"))},
		o:       options{now: func() time.Time { return time.Unix(1_800_000_000, 0) }},
	}
	name := c.KeyName(Digest{1})
	good := c.seal(name, Entry{Value: []byte("principal"), Expires: time.Unix(1_800_000_600, 0)})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		e, reason := c.open(name, v)
		if reason != "" {
			return
		}
		if !bytes.Equal(c.seal(name, e), v) {
			t.Fatalf("accepted bytes the encoder would not write: %x", v)
		}
	})
}
