package connections_test

import (
	"context"
	"strings"
	"testing"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/connections"
)

// BenchmarkTokenSource measures Token on the cached path — the access
// token is fresh in the shared cache — on real memcached and in memory,
// beside the baseline of one bare memcached get of the same entry.
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
		client, err := cache.NewMemcacheClient([]string{e.mc.Addr()})
		if err != nil {
			b.Fatal(err)
		}
		var key string
		for _, k := range dumpKeys(b, e.mc.Addr()) {
			if strings.Contains(k, ":token:") {
				key = k
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Get(key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
