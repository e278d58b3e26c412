package refresh_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/refresh"
)

// stores runs f with the service's store on memcached and in memory.
func stores(t *testing.T, f func(t *testing.T, e *env)) {
	for _, name := range []string{"memcached", "memory"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if name == "memory" {
				e.store = refresh.NewMemoryStore(e.idp.Now)
			}
			f(t, e)
		})
	}
}

// TestEndSubject: every session of a subject ends — also one rotated
// since its login — and its refresh token is revoked at the provider;
// other subjects' sessions go on.
func TestEndSubject(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		svc := e.service([]refresh.Key{key1})
		srv := e.server(svc)
		var alice []string
		for range 3 {
			alice = append(alice, login(t, srv, "alice"))
		}
		bob := login(t, srv, "bob")
		a := refreshOnce(t, srv, alice[1])
		if a.status != 200 {
			t.Fatalf("refresh: %d %v", a.status, a.body)
		}
		alice[1] = a.body["access_token"].(string)
		rts := e.seen.all() // alice ×3, bob, alice's rotation
		aliceRTs, bobRT := []string{rts[0], rts[1], rts[2], rts[4]}, rts[3]
		e.idp.Advance(31 * time.Second) // past the grace window

		n, err := svc.EndSubject(context.Background(), "auth0|alice")
		if err != nil || n != 3 {
			t.Fatalf("EndSubject: %d, %v; want 3 sessions", n, err)
		}
		for i, rt := range aliceRTs {
			if st := e.idp.RefreshTokenState(rt); st != idptest.RefreshRevoked {
				t.Errorf("alice's refresh token %d: %v, want revoked", i, st)
			}
		}
		if st := e.idp.RefreshTokenState(bobRT); st != idptest.RefreshActive {
			t.Errorf("bob's refresh token: %v, want active", st)
		}
		for i, tok := range alice {
			if a := refreshOnce(t, srv, tok); a.status != 401 {
				t.Errorf("alice's session %d refreshed after EndSubject: %d", i, a.status)
			}
		}
		if a := refreshOnce(t, srv, bob); a.status != 200 {
			t.Errorf("bob's session: %d %v", a.status, a.body)
		}
		if n, err := svc.EndSubject(context.Background(), "auth0|alice"); err != nil || n != 0 {
			t.Errorf("EndSubject again: %d, %v", n, err)
		}
		// A new login works, and is found by the next EndSubject.
		tok := login(t, srv, "alice")
		if n, err := svc.EndSubject(context.Background(), "auth0|alice"); err != nil || n != 1 {
			t.Errorf("EndSubject after a new login: %d, %v", n, err)
		}
		if a := refreshOnce(t, srv, tok); a.status != 401 {
			t.Errorf("the new login refreshed after EndSubject: %d", a.status)
		}
	})
}

// TestEndGrant: only the sessions through the named client end.
func TestEndGrant(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		svc := e.service([]refresh.Key{key1})
		srv := e.server(svc)
		tok := login(t, srv, "alice")
		if n, err := svc.EndGrant(context.Background(), "auth0|alice", "partner-app"); err != nil || n != 0 {
			t.Fatalf("EndGrant of another client: %d, %v", n, err)
		}
		if a := refreshOnce(t, srv, tok); a.status != 200 {
			t.Fatalf("refresh after another client's grant ended: %d %v", a.status, a.body)
		}
		if n, err := svc.EndGrant(context.Background(), "auth0|alice", "venue-app"); err != nil || n != 1 {
			t.Fatalf("EndGrant: %d, %v", n, err)
		}
		if st := e.idp.RefreshTokenState(e.seen.latest()); st != idptest.RefreshRevoked {
			t.Errorf("the refresh token: %v, want revoked", st)
		}
	})
}

// TestConcurrentLoginsAreIndexed: logins of one subject racing on two
// instances are all listed (the index changes under its lock), so
// EndSubject ends every one. Run it with -race -count=50.
func TestConcurrentLoginsAreIndexed(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		one, two := e.service([]refresh.Key{key1}), e.service([]refresh.Key{key1})
		const logins = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range logins {
			svc := one
			if i%2 == 1 {
				svc = two
			}
			wg.Go(func() {
				<-start
				if _, err := svc.Login(context.Background(), refresh.Credentials{Username: "alice", Password: "alice-password"}); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		n, err := one.EndSubject(context.Background(), "auth0|alice")
		if err != nil || n != logins {
			t.Fatalf("EndSubject: %d, %v; want %d", n, err, logins)
		}
		for i, rt := range e.seen.all() {
			if st := e.idp.RefreshTokenState(rt); st != idptest.RefreshRevoked {
				t.Errorf("refresh token %d: %v, want revoked", i, st)
			}
		}
	})
}

// TestLogoutLeavesTheIndex: a logout removes its session from the index,
// and the last one removes the index.
func TestLogoutLeavesTheIndex(t *testing.T) {
	e := newEnv(t)
	svc := e.service([]refresh.Key{key1})
	srv := e.server(svc)
	a, b := login(t, srv, "alice"), login(t, srv, "alice")
	for _, tok := range []string{a, b} {
		if r := post(t, srv.URL+"/auth/logout", map[string]string{"Authorization": "Bearer " + tok}, nil); r.status != 204 {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
	}
	if keys := dumpKeys(t, e.mc.Addr()); len(keys) != 0 {
		t.Errorf("after both logouts memcached holds %v", keys)
	}
}

// TestUnindexedSessionIsListedOnRefresh: a session whose index entry is
// gone (a login made before sessions were indexed, or an index lost with
// both its nodes) is listed again by its next refresh.
func TestUnindexedSessionIsListedOnRefresh(t *testing.T) {
	e := newEnv(t)
	svc := e.service([]refresh.Key{key1})
	srv := e.server(svc)
	tok := login(t, srv, "alice")
	raw := memcache.New(e.mc.Addr())
	for _, k := range dumpKeys(t, e.mc.Addr()) {
		if strings.Contains(k, ":sub:") || strings.Contains(k, ":fam:") {
			if err := raw.Delete(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := svc.EndSubject(context.Background(), "auth0|alice"); err != nil || n != 0 {
		t.Fatalf("EndSubject of an unindexed session: %d, %v", n, err)
	}
	if a := refreshOnce(t, srv, tok); a.status != 200 {
		t.Fatalf("refresh: %d %v", a.status, a.body)
	}
	if n, err := svc.EndSubject(context.Background(), "auth0|alice"); err != nil || n != 1 {
		t.Fatalf("EndSubject after the refresh: %d, %v", n, err)
	}
}

// TestRevokedSessionCannotRefresh: with the Authenticator as the token
// cache, a session whose access token a revocation refuses cannot refresh
// (its family is ended), while a login made after the revocation can.
func TestRevokedSessionCannotRefresh(t *testing.T) {
	e := newEnv(t)
	apiAuth := e.api()
	srv := e.server(e.service([]refresh.Key{key1}, refresh.WithTokenCache(apiAuth)))
	alice, bob := login(t, srv, "alice"), login(t, srv, "bob")
	rt := e.seen.all()[0]
	if err := apiAuth.RevokeSubject(context.Background(), "auth0|alice", time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.idp.Advance(time.Second)
	if a := refreshOnce(t, srv, alice); a.status != 401 {
		t.Errorf("a revoked session refreshed: %d %v", a.status, a.body)
	}
	if st := e.idp.RefreshTokenState(rt); st != idptest.RefreshRevoked {
		t.Errorf("its refresh token: %v, want revoked", st)
	}
	if a := refreshOnce(t, srv, bob); a.status != 200 {
		t.Errorf("another subject's session: %d %v", a.status, a.body)
	}
	again := login(t, srv, "alice")
	if a := refreshOnce(t, srv, again); a.status != 200 {
		t.Errorf("a login after the revocation: %d %v", a.status, a.body)
	}
}

// An administrator cutting off an account ends every session the user
// holds: the refresh tokens are revoked at the provider. (authn's
// Gate.RevokeSubject does this, and refuses the user's access tokens.)
func ExampleService_EndSubject() {
	var svc *refresh.Service // from refresh.New
	offboard := func(ctx context.Context, userID string) error {
		n, err := svc.EndSubject(ctx, userID)
		if err != nil {
			return fmt.Errorf("ended %d sessions, retry for the rest: %w", n, err)
		}
		return nil
	}
	_ = offboard
}
