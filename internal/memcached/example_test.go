package memcached_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/internal/memcached"
)

func ExampleExpiration() {
	now := time.Unix(1_800_000_000, 0)
	for _, ttl := range []time.Duration{
		0,                       // not stored
		1500 * time.Millisecond, // rounded up
		30 * 24 * time.Hour,     // the longest relative expiration
		45 * 24 * time.Hour,     // an absolute Unix time
	} {
		exp, ok := memcached.Expiration(ttl, now)
		fmt.Println(exp, ok)
	}
	// Output:
	// 0 false
	// 2 true
	// 2592000 true
	// 1803888000 true
}

// A Client wraps one gomemcache client; a miss is an answer, anything else
// means memcached could not be asked.
func ExampleNew() {
	mc, err := memcached.NewClient([]string{"127.0.0.1:11211"}, 100*time.Millisecond, 64)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := memcached.New(mc, memcached.Config{
		OnBreakerChange: func(open bool) { fmt.Println("breaker open:", open) },
	})
	it, err := c.Get(context.Background(), "greeting")
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		fmt.Println("absent")
	case err != nil:
		fmt.Println("memcached unavailable:", err)
	default:
		fmt.Printf("%s\n", it.Value)
	}
}
