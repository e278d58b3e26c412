package connections_test

import (
	"context"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/connections"
)

// BenchmarkTokenSource measures Token on the cached path — the access
// token is fresh in the shared cache — on real memcached and in memory,
// beside the baseline of one bare memcached get of an entry of the same
// size.
func BenchmarkTokenSource(b *testing.B) {
	e := newEnv(b)
	store := storeKinds[0].open(e)()
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		cache connections.Cache
	}{
		{"memcached", e.cache()},
		{"memory", connections.NewMemoryCache(e.third.Now)},
	} {
		s := e.serviceWith(store, c.cache)
		e.connect(s, "auth0|alice", "alice")
		b.Run("cached/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.TokenSource(ctx, "auth0|alice", "roomsmart").Token(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("baseline/memcached-get", func(b *testing.B) {
		client := memcache.New(e.mc.Addr())
		client.Timeout = 2 * time.Second // as e.cache(): the machine is shared
		// An entry the size of a sealed cached token (about 1.1 KB).
		key := "baseline"
		if err := client.Set(&memcache.Item{Key: key, Value: make([]byte, 1100)}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Get(key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
