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
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name  string
		setup func(m *cache.Memory[string])
		at    time.Time
		want  string
		ok    bool
	}{
		{"absent", func(m *cache.Memory[string]) {}, now, "", false},
		{"hit", func(m *cache.Memory[string]) { m.Set(digest(1), "one", now.Add(time.Minute)) }, now, "one", true},
		{"just before expiry", func(m *cache.Memory[string]) { m.Set(digest(1), "one", now.Add(time.Minute)) }, now.Add(time.Minute - time.Nanosecond), "one", true},
		{"at expiry", func(m *cache.Memory[string]) { m.Set(digest(1), "one", now.Add(time.Minute)) }, now.Add(time.Minute), "", false},
		{"stored expired", func(m *cache.Memory[string]) { m.Set(digest(1), "one", now.Add(-time.Second)) }, now, "", false},
		{"zero expiry", func(m *cache.Memory[string]) { m.Set(digest(1), "one", time.Time{}) }, now, "", false},
		{"far future", func(m *cache.Memory[string]) { m.Set(digest(1), "one", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)) }, now, "one", true},
		{"another digest", func(m *cache.Memory[string]) { m.Set(digest(2), "two", now.Add(time.Minute)) }, now, "", false},
		{"overwritten", func(m *cache.Memory[string]) {
			m.Set(digest(1), "one", now.Add(time.Minute))
			m.Set(digest(1), "uno", now.Add(time.Hour))
		}, now.Add(30 * time.Minute), "uno", true},
		{"deleted", func(m *cache.Memory[string]) {
			m.Set(digest(1), "one", now.Add(time.Minute))
			m.Delete(digest(1))
		}, now, "", false},
		{"deleted absent", func(m *cache.Memory[string]) { m.Delete(digest(1)) }, now, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := cache.NewMemory[string](cache.MemoryConfig{})
			tc.setup(m)
			got, ok := m.Get(digest(1), tc.at)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Get = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMemoryLen(t *testing.T) {
	m := cache.NewMemory[int](cache.MemoryConfig{})
	now := time.Now()
	for i := range 100 {
		m.Set(digest(i), i, now.Add(time.Minute))
	}
	m.Set(digest(0), 0, now.Add(time.Hour)) // overwrite
	m.Delete(digest(1))
	if n := m.Len(); n != 99 {
		t.Fatalf("Len = %d, want 99", n)
	}
}

// TestMemoryIsBounded: whatever the bound, no more entries are kept, and
// the room is used.
func TestMemoryIsBounded(t *testing.T) {
	for _, max := range []int{1, 5, 63, 64, 100, 640, 1000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			m := cache.NewMemory[int](cache.MemoryConfig{MaxEntries: max})
			exp := time.Now().Add(time.Hour)
			for i := range 20 * max {
				m.Set(digest(i), i, exp)
			}
			if n := m.Len(); n > max || n < max*7/8 {
				t.Fatalf("Len = %d, want at most %d and at least 7/8 of it", n, max)
			}
			if _, ok := m.Get(digest(20*max-1), time.Now()); !ok {
				t.Error("the entry just set is not there")
			}
		})
	}
}

// TestMemoryEvictsExpiredFirst: a full shard makes room by dropping expired
// entries before live ones, and among live ones the soonest to expire.
func TestMemoryEvictsExpiredFirst(t *testing.T) {
	const max = 640 // 10 a shard
	m := cache.NewMemory[int](cache.MemoryConfig{MaxEntries: max})
	now := time.Now()
	const n = 20_000
	for i := range n {
		exp := now.Add(-time.Hour) // every other entry is expired on arrival
		if i%2 == 1 {
			exp = now.Add(time.Hour + time.Duration(i)*time.Second)
		}
		m.Set(digest(i), i, exp)
	}
	live, newest := 0, 0
	for i := 1; i < n; i += 2 {
		if _, ok := m.Get(digest(i), now); ok {
			live++
			if i >= n-200 {
				newest++
			}
		}
	}
	// Evicting at random would keep about half live entries; evicting the
	// expired ones first keeps nearly all the room for live ones.
	if live < max*8/10 {
		t.Errorf("%d live entries kept of %d room", live, max)
	}
	if newest < 90 {
		t.Errorf("only %d of the 100 newest live entries kept", newest)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	const max = 1000
	m := cache.NewMemory[int](cache.MemoryConfig{MaxEntries: max})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				d := digest(g*10_000 + i%700)
				m.Set(d, i, time.Now().Add(time.Minute))
				if v, ok := m.Get(d, time.Now()); ok && v != i && v%700 != i%700 {
					t.Errorf("Get = %d after Set %d", v, i)
				}
				if i%7 == 0 {
					m.Delete(d)
				}
				if i%100 == 0 {
					_ = m.Len()
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > max {
		t.Fatalf("Len = %d, want at most %d", n, max)
	}
}

func TestMemoryGetDoesNotAllocate(t *testing.T) {
	token := strings.Repeat("t", 1024)
	d, absent := cache.DigestOf(token), digest(1)
	now := time.Now()
	p := &principal{sub: "auth0|1"}
	pointers := cache.NewMemory[*principal](cache.MemoryConfig{})
	pointers.Set(d, p, now.Add(time.Hour))
	values := cache.NewMemory[principal](cache.MemoryConfig{})
	values.Set(d, *p, now.Add(time.Hour))
	for name, f := range map[string]func(){
		"DigestOf":             func() { _ = cache.DigestOf(token) },
		"Get hit, pointer":     func() { pointers.Get(d, now) },
		"Get hit, struct":      func() { values.Get(d, now) },
		"Get miss":             func() { pointers.Get(absent, now) },
		"Get expired":          func() { pointers.Get(d, now.Add(2*time.Hour)) },
		"DigestOf and Get hit": func() { pointers.Get(cache.DigestOf(token), now) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s allocates %v times, want 0", name, n)
		}
	}
}

type principal struct {
	sub string
}

// BenchmarkMemoryGet sets Memory.Get beside the cheapest honest baseline, a
// sync.Map lookup and an expiry check, on a hit among 10,000 entries and on
// one hot entry, serial and parallel. Neither side hashes a token (that is
// DigestOf's cost, the same for both: about 0.4-0.7 µs for 1 KB).
//
//	go test -run '^$' -bench 'Memory' -benchmem -count 6 ./cache
func BenchmarkMemoryGet(b *testing.B) {
	const entries = 10_000
	digests := make([]cache.Digest, entries)
	m := cache.NewMemory[*principal](cache.MemoryConfig{})
	var sm sync.Map
	type smEntry struct {
		p       *principal
		expires int64
	}
	now := time.Now()
	for i := range digests {
		digests[i] = digest(i)
		p := &principal{sub: fmt.Sprint("user-", i)}
		m.Set(digests[i], p, now.Add(time.Hour))
		sm.Store(digests[i], smEntry{p, now.Add(time.Hour).UnixNano()})
	}
	memoryGet := func(d cache.Digest) bool { _, ok := m.Get(d, now); return ok }
	syncMapGet := func(d cache.Digest) bool {
		v, ok := sm.Load(d)
		return ok && v.(smEntry).expires > now.UnixNano()
	}
	for _, impl := range []struct {
		name string
		get  func(cache.Digest) bool
	}{{"Memory", memoryGet}, {"sync.Map", syncMapGet}} {
		for _, keys := range []struct {
			name string
			n    int // how many of the digests are asked for
		}{{"10k", entries}, {"hot", 1}} {
			b.Run(impl.name+"/"+keys.name+"/serial", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if !impl.get(digests[i%keys.n]) {
						b.Fatal("miss")
					}
					i++
				}
			})
			b.Run(impl.name+"/"+keys.name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if !impl.get(digests[i%keys.n]) {
							b.Error("miss")
							return
						}
						i += 7
					}
				})
			})
		}
	}
}

// BenchmarkMemorySet is Set under contention from every core, with room
// for every key and with a tenth of it (each Set then evicts).
func BenchmarkMemorySet(b *testing.B) {
	const keys = 50_000
	digests := make([]cache.Digest, keys)
	for i := range digests {
		digests[i] = digest(i)
	}
	exp := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name string
		max  int
	}{{"room", keys}, {"evicting", keys / 10}} {
		b.Run(tc.name, func(b *testing.B) {
			m := cache.NewMemory[int](cache.MemoryConfig{MaxEntries: tc.max})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					m.Set(digests[i%keys], i, exp)
					i += 13
				}
			})
		})
	}
}

// TestMemoryDeleteFunc: every entry the function picks goes, in every
// shard, and nothing else.
func TestMemoryDeleteFunc(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := cache.NewMemory[int](cache.MemoryConfig{MaxEntries: 10_000})
	for i := range 1000 {
		m.Set(digest(i), i, now.Add(time.Minute))
	}
	if n := m.DeleteFunc(func(_ cache.Digest, v int) bool { return v%3 == 0 }); n != 334 {
		t.Fatalf("DeleteFunc removed %d entries, want 334", n)
	}
	for i := range 1000 {
		if _, ok := m.Get(digest(i), now); ok == (i%3 == 0) {
			t.Fatalf("entry %d: present %v after the sweep", i, ok)
		}
	}
	if m.Len() != 666 {
		t.Fatalf("Len %d, want 666", m.Len())
	}
}
