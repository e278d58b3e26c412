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

// A Cluster of three nodes: a revocation mark is written to two of them,
// and read back from both.
func ExampleNewCluster() {
	c, err := memcached.NewCluster([]memcached.Node{
		{Addr: "127.0.0.1:11211"}, {Addr: "127.0.0.1:11212"}, {Addr: "127.0.0.1:11213", Weight: 2},
	}, memcached.ClusterConfig{
		OnNodeDown: func(addr string, cause error) { fmt.Println("node out:", addr, cause) },
		OnNodeUp:   func(addr string, replayed int) { fmt.Println("node back:", addr, replayed, "writes replayed") },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx := context.Background()
	exp, _ := memcached.Expiration(time.Hour, time.Now())
	cp, err := c.SetReplicated(ctx, &memcache.Item{Key: "mark", Value: []byte{1}, Expiration: exp})
	if err != nil {
		fmt.Println("no copy written:", err)
		return
	}
	for i, err := range cp.Errs {
		if err != nil {
			fmt.Println("copy on", cp.Addrs[i], "missed, to be replayed:", err)
		}
	}
	if got, err := c.GetReplicated(ctx, "mark"); err == nil && got.Item() != nil {
		fmt.Println("revoked")
	}
}

// A lock held on two nodes, released by its owner only.
func ExampleCluster_Lock() {
	c, err := memcached.NewCluster([]memcached.Node{{Addr: "127.0.0.1:11211"}, {Addr: "127.0.0.1:11212"}}, memcached.ClusterConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx := context.Background()
	l, err := c.Lock(ctx, "refresh-lock", 10*time.Second)
	switch {
	case errors.Is(err, memcached.ErrLocked):
		fmt.Println("another instance is refreshing")
		return
	case err != nil:
		fmt.Println("memcached unavailable:", err)
		return
	}
	defer l.Unlock(context.WithoutCancel(ctx))
	fmt.Println("refreshing")
}

// Placement names the node holding a key and the node holding its second
// copy; it connects to nothing.
func ExampleCluster_Placement() {
	c, err := memcached.NewCluster([]memcached.Node{
		{Addr: "127.0.0.1:11212"}, {Addr: "127.0.0.1:11213"}, {Addr: "127.0.0.1:11214"},
	}, memcached.ClusterConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.Placement("key-0"))
	fmt.Println(c.Placement("key-3"))
	// Output:
	// 127.0.0.1:11213 127.0.0.1:11212
	// 127.0.0.1:11212 127.0.0.1:11213
}
