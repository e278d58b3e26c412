package refresh_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/refresh"
)

// holdUnlock is a Store whose next release of a refresh lock (not of a
// sessions index's) waits, once armed, until released.
type holdUnlock struct {
	refresh.Store

	mu                 sync.Mutex // guards unlocking and release
	unlocking, release chan struct{}
}

func (h *holdUnlock) arm() (unlocking <-chan struct{}, release chan<- struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unlocking, h.release = make(chan struct{}), make(chan struct{})
	return h.unlocking, h.release
}

func (h *holdUnlock) Unlock(ctx context.Context, name, owner string) error {
	h.mu.Lock()
	unlocking, release := h.unlocking, h.release
	if !strings.Contains(name, ":sub:") {
		h.unlocking, h.release = nil, nil
	}
	h.mu.Unlock()
	if unlocking != nil && !strings.Contains(name, ":sub:") {
		close(unlocking)
		<-release
	}
	return h.Store.Unlock(ctx, name, owner)
}

// TestDuplicateWhileTheLockIsHeld forces the interleaving where a
// duplicate arrives at another instance after the first refresh has
// rotated the record but before it has released the lock: the duplicate
// finds the lock held, reads the rotation and answers with the same new
// token at once, without waiting for the release.
func TestDuplicateWhileTheLockIsHeld(t *testing.T) {
	e := newEnv(t)
	plain := e.store
	held := &holdUnlock{Store: plain}
	e.store = held
	first := e.service([]refresh.Key{key1})
	e.store = plain
	second := e.service([]refresh.Key{key1})
	ctx := context.Background()
	t0, err := first.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	e.idp.ResetCalls()
	unlocking, release := held.arm()
	type result struct {
		t   *refresh.Tokens
		err error
	}
	done := make(chan result, 1)
	go func() {
		t1, err := first.Refresh(ctx, t0.AccessToken)
		done <- result{t1, err}
	}()
	<-unlocking // rotated, still locked
	dupCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dup, err := second.Refresh(dupCtx, t0.AccessToken)
	close(release)
	r := <-done
	switch {
	case err != nil:
		t.Fatalf("the duplicate: %v", err)
	case r.err != nil:
		t.Fatalf("the first refresh: %v", r.err)
	case dup.AccessToken != r.t.AccessToken:
		t.Error("the duplicate got another access token")
	}
	if n := e.idp.Calls(idptest.EndpointToken); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
}

// TestWaiterGetsTheRotation forces the interleaving where a refresh
// arrives at a second instance while the first holds the lock and waits
// for the provider: the second finds the lock held and the record not yet
// rotated, waits, and once the first has finished gets the same token.
func TestWaiterGetsTheRotation(t *testing.T) {
	e := newEnv(t)
	first := e.serviceWith(func(c *refresh.Config) { c.Timeout = 30 * time.Second })
	spy := &lockSpy{Store: e.store, refused: make(chan struct{}, 1)}
	e.store = spy
	second := e.serviceWith(func(c *refresh.Config) { c.Timeout = 30 * time.Second })
	ctx := context.Background()
	t0, err := first.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	e.idp.ResetCalls()
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultHang)
	done := make(chan *refresh.Tokens, 1)
	go func() {
		t1, err := first.Refresh(ctx, t0.AccessToken)
		if err != nil {
			t.Errorf("the first refresh: %v", err)
		}
		done <- t1
	}()
	waitFor(t, "the first refresh to reach the provider", func() bool { return e.idp.Calls(idptest.EndpointToken) > 0 })
	waited := make(chan *refresh.Tokens, 1)
	go func() {
		t1, err := second.Refresh(ctx, t0.AccessToken)
		if err != nil {
			t.Errorf("the waiting refresh: %v", err)
		}
		waited <- t1
	}()
	select {
	case <-spy.refused: // the second found the lock held
	case <-time.After(10 * time.Second):
		t.Fatal("the second refresh never found the lock held")
	}
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
	a, b := <-done, <-waited
	if a == nil || b == nil {
		return
	}
	if a.AccessToken != b.AccessToken {
		t.Error("the waiting refresh got another access token")
	}
	if n := e.idp.Calls(idptest.EndpointToken); n != 1 {
		t.Errorf("%d provider calls, want 1", n)
	}
}

// failNewRecords is a Store that refuses to store a login's record under
// a name it does not hold yet (a refresh's new login), and nothing else.
type failNewRecords struct{ refresh.Store }

func (f failNewRecords) Set(ctx context.Context, name string, value []byte, ttl time.Duration) error {
	if !strings.Contains(name, ":sub:") && !strings.Contains(name, ":fam:") {
		if _, err := f.Get(ctx, name); errors.Is(err, refresh.ErrNotFound) {
			return errors.New("store full")
		}
	}
	return f.Store.Set(ctx, name, value, ttl)
}

// TestRefreshWhoseNewLoginIsNotStored: the store refuses the new login of
// a refresh. The client still gets the new access token (the provider has
// rotated), the new refresh token is revoked, and the old login is marked
// rotated all the same: a duplicate within the grace window gets the same
// token with no provider call, and after it the old token is reuse.
func TestRefreshWhoseNewLoginIsNotStored(t *testing.T) {
	e := newEnv(t)
	login := e.service([]refresh.Key{key1})
	e.store = failNewRecords{e.store}
	s := e.service([]refresh.Key{key1})
	ctx := context.Background()
	t0, err := login.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	t1, err := s.Refresh(ctx, t0.AccessToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if st := e.idp.RefreshTokenState(e.seen.latest()); st != idptest.RefreshRevoked {
		t.Errorf("the unstored refresh token is %v at the provider, want revoked", st)
	}
	e.idp.ResetCalls()
	dup, err := s.Refresh(ctx, t0.AccessToken)
	if err != nil || dup.AccessToken != t1.AccessToken {
		t.Fatalf("a duplicate within the grace window: %v, %v; want the same token", dup, err)
	}
	if n := e.idp.Calls(idptest.EndpointToken); n != 0 {
		t.Errorf("the duplicate made %d provider calls", n)
	}
	if _, err := s.Refresh(ctx, t1.AccessToken); !errors.Is(err, refresh.ErrLoginRequired) {
		t.Errorf("refreshing the unstored login: %v, want ErrLoginRequired", err)
	}
	e.idp.Advance(31 * time.Second)
	if _, err := s.Refresh(ctx, t0.AccessToken); !errors.Is(err, refresh.ErrReuse) {
		t.Errorf("the old token after the grace window: %v, want ErrReuse", err)
	}
}

// TestRefreshWithANodeHung: on two memcached nodes, one of them hung
// (SIGSTOP), refreshes of one token arriving at once at two instances
// make one provider call and all get the same token, and the new login
// is stored on the node that answers: it refreshes in turn. Either node
// may be the one hung; every key has a copy on each. (The timeouts are
// the environment's second: under -race on a loaded machine, a healthy
// node can miss a shorter one and be taken out too.)
func TestRefreshWithANodeHung(t *testing.T) {
	for victim := range 2 {
		t.Run([]string{"first node hung", "second node hung"}[victim], func(t *testing.T) {
			e := newEnv(t)
			nodes := memcachedtest.StartCluster(t, 2)
			instance := func() *refresh.Service {
				cluster, err := cache.NewCluster(nodes.Addrs(), cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cluster.Close() })
				e.store = refresh.NewMemcacheStore(cluster)
				// A provider call cut off by the timeout would still rotate at
				// idptest (see TestTimedOutRefresh): under -race on a loaded
				// machine 2s is not enough.
				return e.serviceWith(func(c *refresh.Config) { c.Timeout = 10 * time.Second })
			}
			one, two := instance(), instance()
			ctx := context.Background()
			t0, err := one.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
			if err != nil {
				t.Fatal(err)
			}
			e.idp.ResetCalls()
			nodes.Servers()[victim].Pause()
			defer nodes.Servers()[victim].Resume()
			var wg sync.WaitGroup
			got := make(chan string, 8)
			for i := range cap(got) {
				wg.Go(func() {
					s := []*refresh.Service{one, two}[i%2]
					t1, err := s.Refresh(ctx, t0.AccessToken)
					if err != nil {
						t.Errorf("refresh %d: %v", i, err)
						return
					}
					got <- t1.AccessToken
				})
			}
			wg.Wait()
			close(got)
			tokens := map[string]bool{}
			for tok := range got {
				tokens[tok] = true
			}
			if len(tokens) != 1 {
				t.Fatalf("%d different access tokens handed out, want 1", len(tokens))
			}
			if n := e.idp.Calls(idptest.EndpointToken); n != 1 {
				t.Errorf("%d provider calls, want 1", n)
			}
			for tok := range tokens {
				if _, err := two.Refresh(ctx, tok); err != nil {
					t.Errorf("refreshing the new login with a node hung: %v", err)
				}
			}
		})
	}
}

// TestRefreshReleasesItsLock: whatever a refresh finds under its lock — a
// login to rotate, a rotated one (a duplicate), none (logged out) — it
// releases the lock: no lock is left in memcached, with the records read
// and the locks taken in one call (MemcacheStore) or in several (any
// other Store).
func TestRefreshReleasesItsLock(t *testing.T) {
	for _, name := range []string{"MemcacheStore", "another Store"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if name == "another Store" {
				e.store = struct{ refresh.Store }{e.store} // Store's methods only
			}
			srv := e.server(e.service([]refresh.Key{key1}))
			t0 := login(t, srv, "alice")
			t1 := refreshOnce(t, srv, t0).body["access_token"].(string)
			if a := refreshOnce(t, srv, t0); a.status != 200 || a.body["access_token"] != t1 {
				t.Fatalf("a duplicate: %d %v", a.status, a.body)
			}
			if a := post(t, srv.URL+"/auth/logout", map[string]string{"Authorization": "Bearer " + t1}, nil); a.status != 204 {
				t.Fatalf("logout: %d %v", a.status, a.body)
			}
			if a := refreshOnce(t, srv, t1); a.status != 401 {
				t.Fatalf("a refresh after logout: %d %v", a.status, a.body)
			}
			for _, k := range dumpKeys(t, e.mc.Addr()) {
				if strings.HasSuffix(k, ":lock") {
					t.Errorf("lock %s left", k)
				}
			}
		})
	}
}

// TestRotationIsReplicated: on two memcached nodes, a refresh's writes —
// the new login, the family's head, the old login's rotation, written
// together — land on both, byte for byte, so that either node alone
// serves the session; and no refresh lock is left on either.
func TestRotationIsReplicated(t *testing.T) {
	e := newEnv(t)
	nodes := memcachedtest.StartCluster(t, 2)
	cluster, err := cache.NewCluster(nodes.Addrs(), cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Close() })
	e.store = refresh.NewMemcacheStore(cluster)
	s := e.service([]refresh.Key{key1})
	ctx := context.Background()
	t0, err := s.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	before := len(dumpKeys(t, nodes.Addrs()[0]))
	t1, err := s.Refresh(ctx, t0.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	a, b := nodes.Addrs()[0], nodes.Addrs()[1]
	keys := dumpKeys(t, a)
	if len(keys) != before+1 { // the new login; the head and the old login are rewritten
		t.Fatalf("%d keys after the refresh, %d before; want one more", len(keys), before)
	}
	for _, k := range keys {
		if strings.HasSuffix(k, ":lock") {
			t.Errorf("lock %s left", k)
		}
		va, err1 := memcache.New(a).Get(k)
		vb, err2 := memcache.New(b).Get(k)
		if err1 != nil || err2 != nil || !bytes.Equal(va.Value, vb.Value) {
			t.Errorf("%s differs between the nodes: %v, %v", k, err1, err2)
		}
	}
	nodes.Servers()[0].Stop()
	if _, err := s.Refresh(ctx, t1.AccessToken); err != nil {
		t.Errorf("refreshing with the first node gone: %v", err)
	}
}
