package cache_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/cache"
)

func digest(i int) cache.Digest { return cache.DigestOf(fmt.Sprint("token-", i)) }

func TestMemory(t *testing.T) {
	m := cache.NewMemory[string](cache.MemoryConfig{})
	now := time.Unix(1_800_000_000, 0)
	m.Set(digest(1), "one", now.Add(time.Minute))
	for _, tc := range []struct {
		name string
		d    cache.Digest
		at   time.Time
		want string
		ok   bool
	}{
		{"hit", digest(1), now, "one", true},
		{"just before expiry", digest(1), now.Add(time.Minute - time.Nanosecond), "one", true},
		{"at expiry", digest(1), now.Add(time.Minute), "", false},
		{"absent", digest(2), now, "", false},
	} {
		got, ok := m.Get(tc.d, tc.at)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Get = %q, %v", tc.name, got, ok)
		}
	}
	m.Delete(digest(1))
	if _, ok := m.Get(digest(1), now); ok || m.Len() != 0 {
		t.Error("Delete left the entry")
	}
}

func TestMemoryIsBounded(t *testing.T) {
	m := cache.NewMemory[int](cache.MemoryConfig{MaxEntries: 640})
	now := time.Now()
	for i := range 10_000 {
		m.Set(digest(i), i, now.Add(time.Duration(i)*time.Second))
	}
	if n := m.Len(); n > 640 {
		t.Fatalf("Len = %d, want at most 640", n)
	}
	// The latest entries are mostly still there: eviction prefers the
	// soonest to expire.
	kept := 0
	for i := 9_900; i < 10_000; i++ {
		if _, ok := m.Get(digest(i), now); ok {
			kept++
		}
	}
	if kept < 50 {
		t.Errorf("only %d of the 100 newest entries kept", kept)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m := cache.NewMemory[int](cache.MemoryConfig{MaxEntries: 1000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				d := digest(g*10_000 + i%300)
				m.Set(d, i, time.Now().Add(time.Minute))
				m.Get(d, time.Now())
				if i%7 == 0 {
					m.Delete(d)
				}
			}
		}()
	}
	wg.Wait()
	if m.Len() > 1000 {
		t.Fatalf("Len = %d", m.Len())
	}
}

func TestMemoryGetDoesNotAllocate(t *testing.T) {
	m := cache.NewMemory[*string](cache.MemoryConfig{})
	v := "x"
	d := cache.DigestOf(strings.Repeat("t", 1024))
	now := time.Now()
	m.Set(d, &v, now.Add(time.Hour))
	if n := testing.AllocsPerRun(100, func() { m.Get(d, now) }); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
	tok := strings.Repeat("t", 1024)
	if n := testing.AllocsPerRun(100, func() { _ = cache.DigestOf(tok) }); n != 0 {
		t.Fatalf("DigestOf allocates %v times", n)
	}
}

type principal struct{ sub string }

// BenchmarkMemoryGet sets Memory.Get beside the baseline the issue names:
// sha256 of a 1 KB token, a sync.Map lookup, an expiry check.
//
//	go test -run '^$' -bench MemoryGet -benchmem -count 5 ./cache
func BenchmarkMemoryGet(b *testing.B) {
	token := strings.Repeat("t", 1024)
	p := &principal{"s"}
	exp := time.Now().Add(time.Hour)

	m := cache.NewMemory[*principal](cache.MemoryConfig{})
	m.Set(cache.DigestOf(token), p, exp)
	var sm sync.Map
	type entry struct {
		p   *principal
		exp time.Time
	}
	// The baseline hashes the token in place too (no []byte copy), as the
	// cheapest honest in-process cache would.
	sm.Store(cache.DigestOf(token), entry{p, exp})

	b.Run("memory/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := m.Get(cache.DigestOf(token), time.Now()); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("baseline-sha256+sync.Map/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, ok := sm.Load(cache.DigestOf(token))
			if !ok || !time.Now().Before(v.(entry).exp) {
				b.Fatal("miss")
			}
		}
	})
	b.Run("memory/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Get(cache.DigestOf(token), time.Now())
			}
		})
	})
	b.Run("baseline-sha256+sync.Map/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				v, _ := sm.Load(cache.DigestOf(token))
				_ = time.Now().Before(v.(entry).exp)
			}
		})
	})
}

func BenchmarkMemorySet(b *testing.B) {
	m := cache.NewMemory[int](cache.MemoryConfig{MaxEntries: 10_000})
	exp := time.Now().Add(time.Hour)
	digests := make([]cache.Digest, 50_000)
	for i := range digests {
		digests[i] = digest(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Set(digests[i%len(digests)], i, exp)
			i++
		}
	})
}
