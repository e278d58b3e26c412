package memcached

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
)

func BenchmarkPlacement(b *testing.B) {
	key := "ag1:prod/venue-api:" + strings.Repeat("k", 88) // the cache's key length
	for _, n := range []int{3, 10} {
		b.Run(strconv.Itoa(n)+"-nodes", func(b *testing.B) {
			var nodes []Node
			for i := range n {
				nodes = append(nodes, Node{Addr: fmt.Sprintf("10.0.0.%d:11211", i+1), Weight: 1})
			}
			c, err := newContinuum(nodes)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_ = c.nodes[c.search(keyHash(key))]
			}
		})
	}
}

// BenchmarkCallOverhead is what a Cluster adds to a single-copy call, the
// network left out: placement, the breaker and the context check around a
// call that does nothing (BenchmarkGet measures it with memcached).
func BenchmarkCallOverhead(b *testing.B) {
	key := "ag1:prod/venue-api:" + strings.Repeat("k", 93)
	ctx := context.Background()
	for _, n := range []int{1, 3} {
		b.Run(strconv.Itoa(n)+"-nodes", func(b *testing.B) {
			var nodes []Node
			for i := range n {
				nodes = append(nodes, Node{Addr: fmt.Sprintf("127.0.0.1:%d", 21001+i)})
			}
			c, err := NewCluster(nodes, ClusterConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			for b.Loop() {
				nd, _, err := c.route("get", key)
				if err == nil {
					err = c.do(ctx, nd, "get", false, func(*memcache.Client) error { return nil })
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
