package memcached_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// BenchmarkGet is a hit on one memcached: through gomemcache alone, through
// a Cluster of that one node, and through a Cluster of three nodes whose
// key lives on the same node. The differences are the Cluster's cost per
// call (context check, placement, breaker, error wrapping).
func BenchmarkGet(b *testing.B) {
	servers := memcachedtest.StartCluster(b, 3)
	addrs := servers.Addrs()
	cfg := memcached.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second}
	one, err := memcached.NewCluster(nodes(addrs[0]), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer one.Close()
	three, err := memcached.NewCluster(nodes(addrs...), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer three.Close()
	// A key of the cache's length (112 bytes) that lives on addrs[0].
	var key string
	for i := 0; ; i++ {
		key = fmt.Sprintf("ag1:prod/venue-api:%093d", i)
		if p, _ := three.Placement(key); p == addrs[0] {
			break
		}
	}
	plain := memcache.New(addrs[0])
	plain.Timeout, plain.MaxIdleConns = time.Second, 64
	if err := plain.Set(&memcache.Item{Key: key, Value: make([]byte, 300), Expiration: 600}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		get  func() error
	}{
		{"gomemcache", func() error { _, err := plain.Get(key); return err }},
		{"cluster-1", func() error { _, err := one.Get(ctx, key); return err }},
		{"cluster-3", func() error { _, err := three.Get(ctx, key); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.get(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetMulti reads an entry and three absent keys (a token's entry
// and its revocation marks) from one memcached: gomemcache's Get of the
// entry alone, gomemcache's GetMulti of the four (which starts a goroutine
// per call), and a Cluster's GetMulti of the four (one gets, in the
// caller's goroutine).
func BenchmarkGetMulti(b *testing.B) {
	mc := memcachedtest.Start(b)
	cluster, err := memcached.NewCluster(nodes(mc.Addr()), memcached.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	plain := memcache.New(mc.Addr())
	plain.Timeout, plain.MaxIdleConns = time.Second, 64
	var keys []string
	for i := range 4 {
		keys = append(keys, fmt.Sprintf("ag1:prod/venue-api:%093d", i))
	}
	if err := plain.Set(&memcache.Item{Key: keys[0], Value: make([]byte, 500), Expiration: 600}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		get  func() error
	}{
		{"gomemcache-get-1", func() error { _, err := plain.Get(keys[0]); return err }},
		{"gomemcache-getmulti-4", func() error { _, err := plain.GetMulti(keys); return err }},
		{"cluster-getmulti-4", func() error { _, err := cluster.GetMulti(ctx, keys); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.get(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
