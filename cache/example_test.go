package cache_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/authgate/authgate/cache"
)

// A token is known by its SHA-256 in both tiers, never by itself.
func ExampleDigestOf() {
	token := "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
	d := cache.DigestOf(token)
	fmt.Printf("%x…\n", d[:4])
	fmt.Println(d == sha256.Sum256([]byte(token)))
	// Output:
	// cc529d9b…
	// true
}

func ExampleMemory() {
	type principal struct{ Subject string }
	m := cache.NewMemory[*principal](cache.MemoryConfig{MaxEntries: 10_000})
	now := time.Unix(1_800_000_000, 0)
	d := cache.DigestOf("token")

	m.Set(d, &principal{Subject: "auth0|42"}, now.Add(5*time.Minute))
	if p, ok := m.Get(d, now); ok {
		fmt.Println("hit:", p.Subject)
	}
	if _, ok := m.Get(d, now.Add(5*time.Minute)); !ok {
		fmt.Println("expired")
	}
	m.Delete(d)
	fmt.Println(m.Len())
	// Output:
	// hit: auth0|42
	// expired
	// 0
}

// The shared tier on a memcached pool every instance of the service
// reaches. A miss, and memcached being unavailable, both mean: validate the
// token.
func ExampleNewMemcache() {
	cluster, err := cache.NewCluster([]string{"memcached-1:11211", "memcached-2:11211", "memcached-3:11211"}, cache.ClusterConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	shared, err := cache.NewMemcache(cluster, cache.MemcacheConfig{
		Namespace: "prod/venue-api",
		HashKey:   []byte("a 32-byte secret from the vault."),
		MACKeys: []cache.MACKey{
			{ID: 2, Secret: []byte("the current MAC key, 32 bytes...")}, // signs
			{ID: 1, Secret: []byte("the previous one, still accepted")},
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	d := cache.DigestOf("token")
	e, err := shared.Get(ctx, d)
	switch {
	case err == nil:
		fmt.Printf("hit: %d bytes until %v\n", len(e.Value), e.Expires)
	case errors.Is(err, cache.ErrMiss):
		// Validate the token, then share the result until it expires.
		_ = shared.Set(ctx, d, cache.Entry{Value: []byte("encoded principal"), Expires: time.Now().Add(time.Hour)})
	default:
		log.Printf("memcached unavailable, validating: %v", err)
	}
}

// One Cluster per process serves every user of memcached — the token
// cache, the refresh sessions, DPoP replays, connections. Keys are placed
// as libmemcached's ketama places them; each node has its own breaker.
func ExampleNewCluster() {
	cluster, err := cache.NewCluster(
		[]string{"memcached-1:11211", "memcached-2:11211", "memcached-3:11211"}, // the same order on every instance
		cache.ClusterConfig{
			Weights:      map[string]int{"memcached-3:11211": 2}, // twice the memory
			ReadTimeout:  30 * time.Millisecond,
			WriteTimeout: 60 * time.Millisecond,
			MaxIdleConns: 256, // above the peak concurrency of one instance
		},
		cache.WithRegisterer(prometheus.NewRegistry()), cache.WithLogger(zap.NewExample()))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	// cache.NewMemcache(cluster, …), refresh.NewMemcacheStore(cluster),
	// connections.NewMemcache(cluster)
}

// Each DPoP proof — or anything else that must be accepted once — is
// remembered until it could no longer be accepted anyway.
func ExampleNewReplay() {
	replay := cache.NewReplay(cache.ReplayConfig{})
	ctx := context.Background()
	id := sha256.Sum256([]byte("the proof's key thumbprint and jti"))
	expires := time.Now().Add(90 * time.Second)

	first, err := replay.Remember(ctx, id, expires)
	fmt.Println(first, err)
	again, err := replay.Remember(ctx, id, expires)
	fmt.Println(again, err)
	// Output:
	// true <nil>
	// false <nil>
}
