package cache_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// clusterTier returns a Memcache on n memcached nodes, with timeouts that a
// busy machine does not reach, and its clock.
func clusterTier(t *testing.T, n int) (*cache.Memcache, *cache.Cluster, *memcachedtest.Cluster, *clock) {
	t.Helper()
	nodes := memcachedtest.StartCluster(t, n)
	clk := &clock{t: time.Now()}
	cluster, err := cache.NewCluster(nodes.Addrs(), cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Close() })
	tr, err := cache.NewMemcache(cluster, cache.MemcacheConfig{Namespace: "t", HashKey: hashKey, MACKeys: []cache.MACKey{key1}},
		cache.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	return tr, cluster, nodes, clk
}

// TestGetMulti: several digests in one call, each with what GetCopies
// would find; an entry this tier did not write is left out.
func TestGetMulti(t *testing.T) {
	tr, cluster, _, clk := clusterTier(t, 3)
	ctx := context.Background()
	exp := clk.now().Add(time.Hour)
	var ds []cache.Digest
	for i := range 12 {
		d := cache.DigestOf("token-" + strconv.Itoa(i))
		ds = append(ds, d)
		var err error
		switch i % 4 {
		case 0:
			err = tr.Set(ctx, d, cache.Entry{Value: []byte("one"), Expires: exp})
		case 1:
			err = tr.SetReplicated(ctx, d, cache.Entry{Value: []byte("two"), Expires: exp})
		case 2:
			primary, _ := cluster.Placement(tr.KeyName(d))
			err = rawClient(primary).Set(rawItem(tr.KeyName(d), "forged"))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := tr.GetMulti(ctx, ds)
	if err != nil || len(got) != len(ds) {
		t.Fatalf("GetMulti: %v, %d answers", err, len(got))
	}
	for i, l := range got {
		want := map[int][]string{0: {"one"}, 1: {"two", "two"}}[i%4]
		if l.Err != nil || len(l.Entries) != len(want) {
			t.Fatalf("digest %d: %+v, want %v", i, l, want)
		}
		for j, e := range l.Entries {
			if string(e.Value) != want[j] || !e.Expires.Equal(time.Unix(exp.Unix(), 0)) {
				t.Errorf("digest %d entry %d: %q until %v", i, j, e.Value, e.Expires)
			}
		}
	}
}

// mark is a test entry holding a number that only grows.
func mark(n int, exp time.Time) cache.Entry {
	return cache.Entry{Value: []byte(strconv.Itoa(n)), Expires: exp}
}

func larger(n int) func(cache.Entry) bool {
	return func(cur cache.Entry) bool {
		m, err := strconv.Atoi(string(cur.Value))
		return err != nil || m < n
	}
}

// TestSetReplicatedIf: racing writers leave the largest value on both
// copies; an entry this tier would refuse is replaced whatever it says.
// Run it with -race -count=50.
func TestSetReplicatedIf(t *testing.T) {
	tr, _, nodes, clk := clusterTier(t, 2)
	ctx := context.Background()
	exp := clk.now().Add(time.Hour)
	d := cache.DigestOf("subject")
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			<-start
			if err := tr.SetReplicatedIf(ctx, d, mark(i, exp), larger(i)); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	check := func(want string) {
		t.Helper()
		entries, err := tr.GetCopies(ctx, d)
		if err != nil || len(entries) != 2 {
			t.Fatalf("GetCopies: %v, %v", entries, err)
		}
		for _, e := range entries {
			if string(e.Value) != want {
				t.Errorf("a copy holds %q, want %q", e.Value, want)
			}
		}
	}
	check("11")
	if err := tr.SetReplicatedIf(ctx, d, mark(4, exp), larger(4)); err != nil {
		t.Fatal(err)
	}
	check("11")
	// A forged copy claiming a huge number does not hold a write back.
	for _, addr := range nodes.Addrs() {
		if err := rawClient(addr).Set(rawItem(tr.KeyName(d), "999999")); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.SetReplicatedIf(ctx, d, mark(5, exp), larger(5)); err != nil {
		t.Fatal(err)
	}
	check("5")
}

// rawClient is plain gomemcache on one node, writing what another program
// (or an attacker) could.
func rawClient(addr string) *memcache.Client {
	mc := memcache.New(addr)
	mc.Timeout = 2 * time.Second
	return mc
}

func rawItem(key, value string) *memcache.Item {
	return &memcache.Item{Key: key, Value: []byte(value), Expiration: 300}
}
