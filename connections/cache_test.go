package connections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// TestCaches: both caches answer alike — Add only when absent, exactly one
// Delete of a key succeeds, entries expire.
func TestCaches(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	mc := memcachedtest.Start(t)
	e := &env{t: t, mc: mc}
	for name, c := range map[string]connections.Cache{"memory": connections.NewMemoryCache(clock), "memcached": e.cache()} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := c.Get(ctx, "k"); !errors.Is(err, connections.ErrCacheMiss) {
				t.Fatalf("Get of nothing: %v", err)
			}
			if err := c.Add(ctx, "k", []byte("a"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := c.Add(ctx, "k", []byte("b"), time.Minute); !errors.Is(err, connections.ErrNotStored) {
				t.Fatalf("second Add: %v", err)
			}
			if v, err := c.Get(ctx, "k"); err != nil || string(v) != "a" {
				t.Fatalf("Get: %q %v", v, err)
			}
			if err := c.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if err := c.Delete(ctx, "k"); !errors.Is(err, connections.ErrCacheMiss) {
				t.Fatalf("second Delete: %v", err)
			}
			if err := c.Set(ctx, "k", []byte("c"), time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
	m := connections.NewMemoryCache(clock)
	_ = m.Set(context.Background(), "k", []byte("v"), time.Second)
	now = now.Add(time.Second)
	if _, err := m.Get(context.Background(), "k"); !errors.Is(err, connections.ErrCacheMiss) {
		t.Errorf("an expired entry: %v", err)
	}
}
