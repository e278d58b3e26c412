package authn_test

import (
	"context"

	"github.com/bradfitz/gomemcache/memcache"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// BenchmarkAuthenticate, in one run:
//
//   - L1 hit beside the baseline: SHA-256 of the token, a sync.Map lookup
//     and an expiry check, hashing the string in place as authgate does;
//
//   - L2 hit (memcached) beside a raw gomemcache Get of the same entry;
//
//   - a miss (full validation), every request.
//
//     go test -run '^$' -bench Authenticate -benchmem -count 5 ./authn
func BenchmarkAuthenticate(b *testing.B) {
	idp := idptest.Start(b, idptest.Demo())
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api, Organization: "org_acme",
		Scopes: []string{"openid", "profile", "email", "offline_access", "read:venues", "book:venues", "read:datasets"}})
	if err != nil {
		b.Fatal(err)
	}
	token, err := idp.Mint(c)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	b.Run("L1-hit", func(b *testing.B) {
		a := newBenchAuthenticator(b, idp, authn.Config{})
		mustHit(b, a, token)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Authenticate(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-sha256+sync.Map", func(b *testing.B) {
		type entry struct {
			p   *claims.Principal
			exp time.Time
		}
		var m sync.Map
		m.Store(cache.DigestOf(token), entry{&claims.Principal{}, time.Now().Add(time.Hour)})
		b.ReportAllocs()
		for b.Loop() {
			v, ok := m.Load(cache.DigestOf(token))
			if !ok || !time.Now().Before(v.(entry).exp) {
				b.Fatal("miss")
			}
		}
	})

	mc := memcachedtest.Start(b)
	cluster, err := cache.NewCluster([]string{mc.Addr()}, cache.ClusterConfig{
		// Not the default 50 ms: on a shared machine a stall past it takes
		// the node out, and the run would measure failover, not hits.
		ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	client := memcache.New(mc.Addr())
	shared, err := cache.NewMemcache(cluster, cache.MemcacheConfig{Namespace: "bench", HashKey: make([]byte, 32),
		MACKeys: []cache.MACKey{{ID: 1, Secret: make([]byte, 32)}}})
	if err != nil {
		b.Fatal(err)
	}
	noMemory := authn.Config{MemoryTTL: time.Nanosecond}
	l2 := newBenchAuthenticator(b, idp, noMemory, authn.WithMemcache(shared))
	mustHit(b, l2, token)
	b.Run("L2-hit", func(b *testing.B) {
		a := l2
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Authenticate(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-gomemcache-get", func(b *testing.B) {
		key := shared.KeyName(authn.SharedDigest(l2, token))
		if _, err := client.Get(key); err != nil {
			b.Fatalf("the entry authgate stored: %v", err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Get(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		a := newBenchAuthenticator(b, idp, noMemory)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Authenticate(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func newBenchAuthenticator(b *testing.B, idp *idptest.Server, cfg authn.Config, opts ...authn.Option) *authn.Authenticator {
	b.Helper()
	e := &env{t: b, idp: idp}
	a, err := authn.NewAuthenticator(e.jwks(), cfg, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

func mustHit(b *testing.B, a *authn.Authenticator, token string) {
	b.Helper()
	if _, err := a.Authenticate(context.Background(), token); err != nil {
		b.Fatal(err)
	}
}

// TestHitDoesNotAllocate: an in-process hit costs no allocation.
func TestHitDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	in := e.instance(e.jwks(), false, authn.Config{})
	tok := e.token()
	mustAuth(t, in.a, tok)
	if n := testing.AllocsPerRun(200, func() { _, _ = in.a.Authenticate(context.Background(), tok) }); n != 0 {
		t.Fatalf("an in-process hit allocates %v times", n)
	}
}
