package memcached_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
)

// TestSetReplicatedMulti: items are written, pipelined, to both of their
// nodes, values byte for byte (a CRLF inside included) with their flags;
// an item memcached refuses (too large) or that cannot be sent (a
// malformed key) fails alone; a node hung misses its copies, which are
// replayed when it resumes.
func TestSetReplicatedMulti(t *testing.T) {
	servers, c, _ := newCluster(t, 3, testConfig)
	ctx := context.Background()
	var items []*memcache.Item
	for i := range 12 {
		items = append(items, &memcache.Item{Key: "multi-" + strconv.Itoa(i), Value: []byte("v\r\nEND\r\n" + strconv.Itoa(i)), Flags: uint32(i), Expiration: 300})
	}
	items = append(items,
		&memcache.Item{Key: "too-large", Value: bytes.Repeat([]byte("x"), 2<<20), Expiration: 300},
		&memcache.Item{Key: "bad key", Value: []byte("v"), Expiration: 300},
		&memcache.Item{Key: "empty", Expiration: 300})
	cps, err := c.SetReplicatedMulti(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for k, it := range items {
		a, b := c.Placement(it.Key)
		switch it.Key {
		case "too-large", "bad key":
			if cps[k].Answered() != 0 {
				t.Errorf("%q: %+v, want both copies failed", it.Key, cps[k].Errs)
			}
			if it.Key == "bad key" && !errors.Is(cps[k].Errs[0], memcache.ErrMalformedKey) {
				t.Errorf("%q: %v, want ErrMalformedKey", it.Key, cps[k].Errs[0])
			}
			continue
		}
		if cps[k].Answered() != 2 || cps[k].Addrs != [2]string{a, b} {
			t.Fatalf("%s: %+v", it.Key, cps[k])
		}
		for _, addr := range []string{a, b} {
			got, err := raw(addr).Get(it.Key)
			if err != nil || !bytes.Equal(got.Value, it.Value) || got.Flags != it.Flags {
				t.Fatalf("%s on %s: %v, %v; want %q flags %d", it.Key, addr, got, err, it.Value, it.Flags)
			}
		}
	}

	// One node hung: the copies on it are missed, written elsewhere, and
	// replayed when it resumes.
	hung := servers.Addrs()[1]
	servers.Server(hung).Pause()
	if _, err := c.Get(ctx, keyOn(t, c, hung, 0)); err == nil || up(c, hung) { // takes it out
		t.Fatalf("Get on the hung node: %v", err)
	}
	for _, it := range items[:12] {
		it.Value = append(it.Value, '!')
	}
	cps, err = c.SetReplicatedMulti(ctx, items[:12])
	if err != nil {
		t.Fatal(err)
	}
	for k, it := range items[:12] {
		a, b := c.Placement(it.Key)
		if want := 2 - btoi(a == hung || b == hung); cps[k].Answered() != want {
			t.Fatalf("%s with %s hung: %d copies written, want %d", it.Key, hung, cps[k].Answered(), want)
		}
	}
	servers.Server(hung).Resume()
	waitFor(t, "the node to rejoin", func() bool { return up(c, hung) })
	for _, it := range items[:12] {
		a, b := c.Placement(it.Key)
		for _, addr := range []string{a, b} {
			if got := rawValue(t, addr, it.Key); got != string(it.Value) {
				t.Fatalf("%s on %s after the rejoin: %q, want %q", it.Key, addr, got, it.Value)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
