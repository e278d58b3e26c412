package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/refresh"
)

// TestStores runs the same checks on both Store implementations.
func TestStores(t *testing.T) {
	mc := memcachedtest.Start(t)
	client, err := memcached.NewClient([]string{mc.Addr()}, 100*time.Millisecond, 64)
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
			release, err := s.Lock(ctx, "r:lock", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Lock(ctx, "r:lock", time.Minute); !errors.Is(err, refresh.ErrLocked) {
				t.Fatalf("second Lock: %v, want ErrLocked", err)
			}
			release()
			again, err := s.Lock(ctx, "r:lock", time.Minute)
			if err != nil {
				t.Fatalf("Lock after release: %v", err)
			}
			again()
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
	if _, err := m.Lock(context.Background(), "l", time.Minute); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := m.Get(context.Background(), "r"); !errors.Is(err, refresh.ErrNotFound) {
		t.Errorf("expired record: %v", err)
	}
	if _, err := m.Lock(context.Background(), "l", time.Minute); err != nil {
		t.Errorf("an expired lock still held: %v", err)
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
// and open the record, seal and store two records.
//
//	go test -run '^$' -bench Refresh -benchmem -count 5 ./refresh
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
		b.ReportAllocs()
		for b.Loop() {
			next, err := s.Refresh(ctx, tok)
			if err != nil {
				b.Fatal(err)
			}
			tok = next.AccessToken
		}
	})
	b.Run("provider-only", func(b *testing.B) {
		cfg := oauth2.Config{ClientID: "venue-app", ClientSecret: "venue-app-secret",
			Endpoint: oauth2.Endpoint{TokenURL: e.idp.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader},
			Scopes:   []string{"openid", "offline_access", "read:venues", "book:venues"}}
		t, err := cfg.PasswordCredentialsToken(ctx, "alice", "alice-password")
		if err != nil {
			b.Fatal(err)
		}
		rt := t.RefreshToken
		b.ReportAllocs()
		for b.Loop() {
			next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
			if err != nil {
				b.Fatal(err)
			}
			rt = next.RefreshToken
		}
	})
}
