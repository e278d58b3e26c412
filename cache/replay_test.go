package cache_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/cache"
)

func id(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func TestReplayInProcess(t *testing.T) {
	clk := &clock{t: time.Now()}
	r := cache.NewReplay(cache.ReplayConfig{}, cache.WithClock(clk.now))
	ctx := context.Background()
	until := clk.now().Add(time.Minute)
	for _, step := range []struct {
		name  string
		id    string
		after time.Duration
		fresh bool
	}{
		{"first", "a", 0, true},
		{"again", "a", 0, false},
		{"another", "b", 0, true},
		{"just before expiry", "a", time.Minute - time.Nanosecond, false},
		{"after expiry", "a", time.Nanosecond, true},
	} {
		clk.advance(step.after)
		exp := until
		if step.name == "after expiry" {
			exp = clk.now().Add(time.Minute)
		}
		fresh, err := r.Remember(ctx, id(step.id), exp)
		if err != nil || fresh != step.fresh {
			t.Fatalf("%s: Remember = %v, %v; want %v", step.name, fresh, err, step.fresh)
		}
	}
}

// TestReplayOneWinner: of many concurrent Remembers of one id, exactly one
// is first. Run with -race -count.
func TestReplayOneWinner(t *testing.T) {
	r := cache.NewReplay(cache.ReplayConfig{})
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			<-start
			if fresh, _ := r.Remember(context.Background(), id("x"), time.Now().Add(time.Minute)); fresh {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners, want 1", wins.Load())
	}
}

// TestReplayShared: two instances, each with its own process memory and
// memcached client on one real memcached: an id remembered by one is a
// replay for the other, and the entry outlives the id's expiry by the
// tier's rounding.
func TestReplayShared(t *testing.T) {
	e := newEnv(t)
	a, b := e.tier(t, cache.MemcacheConfig{}), e.tier(t, cache.MemcacheConfig{})
	ra, err := cache.NewSharedReplay(a, cache.ReplayConfig{}, cache.WithClock(e.clk.now))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := cache.NewSharedReplay(b, cache.ReplayConfig{}, cache.WithClock(e.clk.now))
	ctx := context.Background()
	until := e.clk.now().Add(time.Minute)
	if fresh, err := ra.Remember(ctx, id("p1"), until); !fresh || err != nil {
		t.Fatalf("first on A: %v, %v", fresh, err)
	}
	if fresh, err := rb.Remember(ctx, id("p1"), until); fresh || err != nil {
		t.Fatalf("replay on B: %v, %v; want a replay", fresh, err)
	}
	if fresh, err := rb.Remember(ctx, id("p2"), until); !fresh || err != nil {
		t.Fatalf("another id on B: %v, %v", fresh, err)
	}
	// The entry memcached holds for p1 expires no sooner than until.
	it, err := e.raw.Get(a.KeyName(replayDigest(id("p1"))))
	if err != nil {
		t.Fatalf("memcached has no entry for the id: %v", err)
	}
	if exp := time.Unix(int64(binary.BigEndian.Uint64(it.Value[2:10])), 0); exp.Before(until) {
		t.Errorf("the shared entry expires at %v, before the id's %v", exp, until)
	}
}

// replayDigest is the digest a Replay keeps id under, for looking at
// memcached directly.
func replayDigest(id [32]byte) cache.Digest {
	return sha256.Sum256(append([]byte("authgate replay v1\x00"), id[:]...))
}

// TestReplayMemcachedDown: with memcached gone, a shared Replay falls back
// on its own memory, or, with RequireShared, fails (and holds nothing
// against a retry).
func TestReplayMemcachedDown(t *testing.T) {
	e := newEnv(t)
	tr := e.tier(t, cache.MemcacheConfig{})
	lenient, _ := cache.NewSharedReplay(tr, cache.ReplayConfig{}, cache.WithClock(e.clk.now))
	strict, _ := cache.NewSharedReplay(tr, cache.ReplayConfig{RequireShared: true}, cache.WithClock(e.clk.now))
	e.s.Stop()
	ctx := context.Background()
	until := e.clk.now().Add(time.Minute)

	if fresh, err := lenient.Remember(ctx, id("a"), until); !fresh || err != nil {
		t.Fatalf("lenient, memcached down: %v, %v; want fresh", fresh, err)
	}
	if fresh, err := lenient.Remember(ctx, id("a"), until); fresh || err != nil {
		t.Fatalf("lenient, replay on the same instance: %v, %v; want a replay", fresh, err)
	}
	for i := range 2 {
		fresh, err := strict.Remember(ctx, id("b"), until)
		if fresh || err == nil || errors.Is(err, cache.ErrNotStored) {
			t.Fatalf("strict, try %d: %v, %v; want an error", i, fresh, err)
		}
	}
	e.s.Restart()
	// Wait out the circuit breaker, if the failures opened it.
	e.clk.advance(time.Minute)
	var fresh bool
	var err error
	for range 50 {
		if fresh, err = strict.Remember(ctx, id("b"), e.clk.now().Add(time.Minute)); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !fresh || err != nil {
		t.Fatalf("strict, memcached back: %v, %v; want fresh (the failed tries held nothing)", fresh, err)
	}
}

func TestNewSharedReplayNeedsATier(t *testing.T) {
	if _, err := cache.NewSharedReplay(nil, cache.ReplayConfig{}); err == nil {
		t.Fatal("no error without a shared tier")
	}
}

func ExampleNewSharedReplay() {
	cluster, err := cache.NewCluster([]string{"127.0.0.1:11211"}, cache.ClusterConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	shared, err := cache.NewMemcache(cluster, cache.MemcacheConfig{
		Namespace: "prod/venue-api",
		HashKey:   []byte("32+ bytes, the same on every instance"),
		MACKeys:   []cache.MACKey{{ID: 1, Secret: []byte("32+ bytes, the same on every instance")}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	replay, _ := cache.NewSharedReplay(shared, cache.ReplayConfig{})
	_ = replay // hand it to tokenvalidator.NewDPoP
}

// BenchmarkReplay is one Remember of a new id: in process, and through a
// real memcached on loopback (its add is the round trip a DPoP proof adds
// to a request when instances share the check):
//
//	go test -run '^$' -bench Replay -benchmem -count 6 ./cache
func BenchmarkReplay(b *testing.B) {
	e := newEnv(b)
	tr := e.tier(b, cache.MemcacheConfig{})
	shared, _ := cache.NewSharedReplay(tr, cache.ReplayConfig{})
	ctx := context.Background()
	var n uint64 // ids never repeat, over every run
	for name, r := range map[string]*cache.Replay{"memory": cache.NewReplay(cache.ReplayConfig{}), "memcached": shared} {
		b.Run(name, func(b *testing.B) {
			var key [32]byte
			b.ReportAllocs()
			for b.Loop() {
				n++
				binary.BigEndian.PutUint64(key[:], n)
				if fresh, err := r.Remember(ctx, key, time.Now().Add(time.Minute)); !fresh || err != nil {
					b.Fatal(fresh, err)
				}
			}
			// An add that failed fell back on the process's memory, and
			// cost a timeout: say how many did.
			b.ReportMetric(tr.Errors("set"), "memcached-errors")
		})
	}
}
