package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/refresh"
)

// TestStores runs the same checks on both Store implementations.
func TestStores(t *testing.T) {
	mc := memcachedtest.Start(t)
	// Long timeouts: on a loaded machine the defaults (50 and 100 ms) can
	// take the node out, which these tests are not about.
	client, err := cache.NewCluster([]string{mc.Addr()}, cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	for name, s := range map[string]refresh.Store{"memory": refresh.NewMemoryStore(clock), "memcached": refresh.NewMemcacheStore(client)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := s.Get(ctx, "r"); !errors.Is(err, refresh.ErrNotFound) {
				t.Fatalf("Get of an absent record: %v", err)
			}
			if err := s.Set(ctx, "r", []byte("sealed"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Get(ctx, "r"); err != nil || string(v) != "sealed" {
				t.Fatalf("Get = %q, %v", v, err)
			}
			if err := s.Lock(ctx, "r:lock", "owner-a", time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := s.Lock(ctx, "r:lock", "owner-b", time.Minute); !errors.Is(err, refresh.ErrLocked) {
				t.Fatalf("second Lock: %v, want ErrLocked", err)
			}
			// Release by a non-owner does nothing.
			if err := s.Unlock(ctx, "r:lock", "owner-b"); err != nil {
				t.Fatal(err)
			}
			if err := s.Lock(ctx, "r:lock", "owner-b", time.Minute); !errors.Is(err, refresh.ErrLocked) {
				t.Fatalf("Lock after a non-owner's Unlock: %v, want ErrLocked", err)
			}
			if err := s.Unlock(ctx, "r:lock", "owner-a"); err != nil {
				t.Fatal(err)
			}
			if err := s.Lock(ctx, "r:lock", "owner-b", time.Minute); err != nil {
				t.Fatalf("Lock after release: %v", err)
			}
			if err := s.Unlock(ctx, "r:lock", "owner-b"); err != nil {
				t.Fatal(err)
			}
			if err := s.Unlock(ctx, "r:lock", "owner-b"); err != nil {
				t.Fatalf("releasing a free lock: %v", err)
			}
			if err := s.Delete(ctx, "r"); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, "r"); err != nil {
				t.Fatalf("deleting twice: %v", err)
			}
		})
	}
	// The memory store's TTLs follow its clock.
	m := refresh.NewMemoryStore(clock)
	_ = m.Set(context.Background(), "r", []byte("v"), time.Minute)
	if err := m.Lock(context.Background(), "l", "first", time.Minute); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := m.Get(context.Background(), "r"); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("expired record: %v", err)
	}
	if err := m.Lock(context.Background(), "l", "second", time.Minute); err != nil {
		t.Errorf("an expired lock still held: %v", err)
	}
	// The first owner, back after its lock expired, releases nothing.
	_ = m.Unlock(context.Background(), "l", "first")
	if err := m.Lock(context.Background(), "l", "third", time.Minute); !errors.Is(err, refresh.ErrLocked) {
		t.Errorf("the expired owner's Unlock released the next owner's lock: %v", err)
	}
	// Abandoned logins do not pile up: expired records are swept.
	for i := range 5000 {
		_ = m.Set(context.Background(), fmt.Sprint("r", i), []byte("v"), time.Minute)
		if i%100 == 0 {
			mu.Lock()
			now = now.Add(2 * time.Minute)
			mu.Unlock()
		}
	}
	if n := m.Len(); n > 1100 {
		t.Errorf("%d records kept, most of them expired", n)
	}
}

// TestMemcacheUnlockIsOwned forces the interleaving a get-then-delete
// release gets wrong: the first owner's lock is gone (here deleted, as an
// expiry would) and taken by a second owner before the first releases. The
// first owner's Unlock must leave the second's lock in place.
func TestMemcacheUnlockIsOwned(t *testing.T) {
	mc := memcachedtest.Start(t)
	// Long timeouts: on a loaded machine the defaults (50 and 100 ms) can
	// take the node out, which these tests are not about.
	client, err := cache.NewCluster([]string{mc.Addr()}, cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, raw, ctx := refresh.NewMemcacheStore(client), memcache.New(mc.Addr()), context.Background()
	if err := s.Lock(ctx, "l", "first", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := raw.Delete("l"); err != nil { // the first lock expires
		t.Fatal(err)
	}
	if err := s.Lock(ctx, "l", "second", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, "l", "first"); err != nil {
		t.Fatal(err)
	}
	if it, err := raw.Get("l"); err != nil || string(it.Value) != "second" {
		t.Fatalf("after the first owner's Unlock the lock is %v, %v; want the second owner's", it, err)
	}
	// The owner's own Unlock removes it (a compare-and-swap to a negative
	// expiration, which memcached expires at once).
	if err := s.Unlock(ctx, "l", "second"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Get("l"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("after the owner's Unlock: %v, want a miss", err)
	}
	// A change between Unlock's read and its compare-and-swap wins: the
	// swap conflicts and the lock stays. (Set through the raw client: the
	// store itself never overwrites a lock.)
	if err := s.Lock(ctx, "l", "third", time.Minute); err != nil {
		t.Fatal(err)
	}
	it, _ := raw.Get("l")
	_ = raw.Set(&memcache.Item{Key: "l", Value: []byte("third"), Expiration: 60}) // new CAS id, same value
	it.Expiration = -1
	if err := raw.CompareAndSwap(it); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("a stale compare-and-swap: %v, want a conflict", err)
	}
	if _, err := raw.Get("l"); err != nil {
		t.Fatalf("the lock after a stale swap: %v", err)
	}
}

// FuzzRefreshHandler sends arbitrary Authorization values to /refresh:
// garbage is always a client error (400 or 401), never a 5xx.
func FuzzRefreshHandler(f *testing.F) {
	e := newEnv(f)
	h := e.service([]refresh.Key{key1}).RefreshHandler()
	c, err := e.idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api})
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := e.idp.Mint(c)
	f.Add("Bearer " + tok)
	f.Add("Bearer abc")
	f.Add("Bearer eyJhbGciOiJSUzI1NiJ9.e30.")
	f.Add("bearer a b")
	f.Add("Basic xyz")
	f.Fuzz(func(t *testing.T, authorization string) {
		r := httptest.NewRequest(http.MethodPost, "/auth/refresh", nil)
		r.Header["Authorization"] = []string{authorization}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest && w.Code != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: status %d", authorization, w.Code)
		}
	})
}

// BenchmarkRefresh measures one refresh round trip against idptest beside
// the bare provider call it makes (an x/oauth2 refresh grant), so that the
// difference is the service's own cost: verify the access token, lock, read
// and open the record, seal and store the new one, move the family's head,
// mark the old record rotated, release the lock.
//
// The two refresh the same grant through the same HTTP transport: the
// provider-only refresh token is one the service's own login received (with
// the service's audience), so both get a JWT access token for the API and
// an ID token, two RSA signatures at the provider. (A refresh token from a
// password grant without an audience gets an opaque 43-byte access token
// at idptest, as at Auth0: one signature, about half the provider's cost.)
//
// On a machine whose load changes from one second to the next, the two
// sub-benchmarks, a second apart, can differ by more than the service
// costs: "paired" alternates one refresh of each and reports the ratio of
// their times, svc/provider (its ns/op is the pair's), and "service"
// reports own-ns/op, its time outside the provider call (the HTTP round
// trip to the token endpoint, answer read).
//
//	go test -run '^$' -bench Refresh -benchmem -count 6 ./refresh
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	b.Run("service", func(b *testing.B) {
		s := e.service([]refresh.Key{key1})
		t, err := s.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
		if err != nil {
			b.Fatal(err)
		}
		tok := t.AccessToken
		before := e.seen.providerTime()
		b.ReportAllocs()
		for b.Loop() {
			next, err := s.Refresh(ctx, tok)
			if err != nil {
				b.Fatal(err)
			}
			tok = next.AccessToken
		}
		own := b.Elapsed() - (e.seen.providerTime() - before)
		b.ReportMetric(float64(own.Nanoseconds())/float64(b.N), "own-ns/op")
	})
	b.Run("provider-only", func(b *testing.B) {
		if _, err := e.service([]refresh.Key{key1}).Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"}); err != nil {
			b.Fatal(err)
		}
		rt := e.seen.latest() // the login's refresh token, held by the service
		cfg := oauth2.Config{ClientID: "venue-app", ClientSecret: "venue-app-secret",
			Endpoint: oauth2.Endpoint{TokenURL: e.idp.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}}
		ctx := context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: e.seen})
		b.ReportAllocs()
		for b.Loop() {
			next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
			if err != nil {
				b.Fatal(err)
			}
			if !strings.Contains(next.AccessToken, ".") {
				b.Fatal("an opaque access token: not the grant the service refreshes")
			}
			rt = next.RefreshToken
		}
	})
	b.Run("paired", func(b *testing.B) {
		s := e.service([]refresh.Key{key1})
		t, err := s.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"}); err != nil {
			b.Fatal(err)
		}
		tok, rt := t.AccessToken, e.seen.latest()
		cfg := oauth2.Config{ClientID: "venue-app", ClientSecret: "venue-app-secret",
			Endpoint: oauth2.Endpoint{TokenURL: e.idp.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}}
		pctx := context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: e.seen})
		var service, provider time.Duration
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			next, err := s.Refresh(ctx, tok)
			if err != nil {
				b.Fatal(err)
			}
			tok = next.AccessToken
			mid := time.Now()
			pnext, err := cfg.TokenSource(pctx, &oauth2.Token{RefreshToken: rt}).Token()
			if err != nil {
				b.Fatal(err)
			}
			rt = pnext.RefreshToken
			service, provider = service+mid.Sub(start), provider+time.Since(mid)
		}
		b.ReportMetric(float64(service)/float64(provider), "svc/provider")
	})
}
