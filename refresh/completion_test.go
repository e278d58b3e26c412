package refresh_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/refresh"
)

// waitFor polls cond every few milliseconds for at most 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// holdAnswer passes requests on to base; once armed, it holds the next
// answer — received in full, so the provider has done its work — until
// released.
type holdAnswer struct {
	base http.RoundTripper

	mu                sync.Mutex // guards answered and release
	answered, release chan struct{}
}

func (h *holdAnswer) arm() (answered <-chan struct{}, release chan<- struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answered, h.release = make(chan struct{}), make(chan struct{})
	return h.answered, h.release
}

func (h *holdAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(req)
	h.mu.Lock()
	answered, release := h.answered, h.release
	h.answered, h.release = nil, nil
	h.mu.Unlock()
	if answered == nil || err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	close(answered)
	<-release
	return resp, err
}

// TestDisconnectedRefreshCompletes: a client that leaves /auth/refresh once
// the provider has been asked — while the provider works, or after it has
// answered — loses nothing: the refresh runs to the end, and the client's
// retry gets the new token from the stored rotation, with no second
// provider call, and the session goes on. The interleaving is forced: the
// client's request is cancelled and the handler has seen it go before the
// provider is let go.
func TestDisconnectedRefreshCompletes(t *testing.T) {
	for _, tc := range []struct {
		name string
		// hold makes the provider hold the refresh, and returns whether it
		// is held and a function that lets it go.
		hold func(e *env, h *holdAnswer) (held func() bool, letGo func())
	}{
		{"while the provider works", func(e *env, _ *holdAnswer) (func() bool, func()) {
			e.idp.SetFault(idptest.EndpointToken, idptest.FaultHang)
			return func() bool { return e.idp.Calls(idptest.EndpointToken) > 0 },
				func() { e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone) }
		}},
		{"after the provider answered", func(_ *env, h *holdAnswer) (func() bool, func()) {
			answered, release := h.arm()
			return func() bool { return closed(answered) }, func() { close(release) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			apiAuth := e.api()
			hold := &holdAnswer{base: e.seen}
			s := e.serviceWith(func(c *refresh.Config) { c.Timeout = 30 * time.Second },
				refresh.WithHTTPClient(&http.Client{Transport: hold}), refresh.WithTokenCache(apiAuth))
			gone, finished := make(chan struct{}), make(chan struct{})
			var first sync.Once
			refreshHandler := s.RefreshHandler()
			mux := http.NewServeMux()
			mux.Handle("POST /auth/login", s.LoginHandler())
			mux.HandleFunc("POST /auth/refresh", func(w http.ResponseWriter, r *http.Request) {
				watched := false
				first.Do(func() { watched = true })
				if !watched {
					refreshHandler.ServeHTTP(w, r)
					return
				}
				go func() { <-r.Context().Done(); close(gone) }()
				refreshHandler.ServeHTTP(w, r)
				close(finished)
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)

			tok := login(t, srv, "alice")
			rt := e.seen.latest()
			e.idp.ResetCalls()
			held, letGo := tc.hold(e, hold)

			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/auth/refresh", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			clientDone := make(chan error, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				clientDone <- err
			}()
			waitFor(t, "the provider to be asked", held)
			cancel()
			if err := <-clientDone; !errors.Is(err, context.Canceled) {
				t.Fatalf("the client's request: %v, want it cancelled", err)
			}
			waitFor(t, "the handler to see its client go", func() bool { return closed(gone) })
			if closed(finished) {
				t.Fatal("the handler returned before the provider answered")
			}
			letGo()
			waitFor(t, "the handler to finish", func() bool { return closed(finished) })

			// The client's retry, within the grace window.
			a := refreshOnce(t, srv, tok)
			if a.status != 200 {
				t.Fatalf("the retry: %d %v", a.status, a.body)
			}
			if n := e.idp.Calls(idptest.EndpointToken); n != 1 {
				t.Errorf("%d provider calls, want 1: the retry must be answered from the stored rotation", n)
			}
			if st := e.idp.RefreshTokenState(rt); st != idptest.RefreshRotated {
				t.Errorf("the login's refresh token is %v at the provider, want rotated (and its family alive)", st)
			}
			next := a.body["access_token"].(string)
			if _, err := apiAuth.Authenticate(context.Background(), next); err != nil {
				t.Errorf("the API refuses the new token: %v", err)
			}
			if _, err := apiAuth.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
				t.Errorf("the API still accepts the refreshed-away token: %v", err)
			}
			// The session goes on.
			e.idp.Advance(31 * time.Second)
			if a := refreshOnce(t, srv, next); a.status != 200 {
				t.Fatalf("refreshing the new token: %d %v", a.status, a.body)
			}
		})
	}
}

// inflight passes requests on to base and counts, per refresh token, the
// refresh grants whose answer the service is waiting for, and the most
// there ever were at once.
type inflight struct {
	base    http.RoundTripper
	started chan struct{} // gets a value (when there is room) as each refresh grant is sent

	mu   sync.Mutex // guards now and most
	now  map[string]int
	most int
}

func (f *inflight) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	rt := form.Get("refresh_token")
	if form.Get("grant_type") != "refresh_token" || rt == "" {
		return f.base.RoundTrip(req)
	}
	f.mu.Lock()
	f.now[rt]++
	f.most = max(f.most, f.now[rt])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.now[rt]--
		f.mu.Unlock()
	}()
	select {
	case f.started <- struct{}{}:
	default:
	}
	return f.base.RoundTrip(req)
}

// TestSlowProviderOneCallAtATime: the provider takes longer than the lock
// (it hangs), the HTTP client has no Timeout, and two services share one
// memcached. While the first service waits for the provider, the second
// refreshes the same token again and again: it never has a call of its
// own in flight for that refresh token at the same time, because
// Config.Timeout ends the first call (and the first service releases the
// lock) long before the lock could expire.
//
// (The provider may still run a call its client abandoned: idptest does,
// as it has not read the request when the client leaves. This test's
// provider forgives that with a reuse interval; see TestTimedOutRefresh.)
func TestSlowProviderOneCallAtATime(t *testing.T) {
	e := newEnv(t, func(c *idptest.Config) { c.RefreshReuseInterval = time.Minute })
	normal := e.service([]refresh.Key{key1})
	tok := login(t, e.server(normal), "alice")
	track := &inflight{base: e.seen, started: make(chan struct{}, 1), now: map[string]int{}}
	noTimeout := &http.Client{Transport: track}
	slow := func() *refresh.Service {
		return e.serviceWith(func(c *refresh.Config) { c.Timeout = 300 * time.Millisecond }, refresh.WithHTTPClient(noTimeout))
	}
	first, second := slow(), slow()

	e.idp.SetFault(idptest.EndpointToken, idptest.FaultHang)
	watchdog := time.AfterFunc(20*time.Second, func() { e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone) })
	defer watchdog.Stop()
	firstDone := make(chan error, 1)
	go func() {
		_, err := first.Refresh(context.Background(), tok)
		firstDone <- err
	}()
	select {
	case <-track.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first refresh never reached the provider")
	}
	var firstErr error
	for done, tries := false, 0; !done; tries++ {
		if tries == 100 {
			t.Fatal("the first refresh never returned")
		}
		if _, err := second.Refresh(context.Background(), tok); !errors.Is(err, refresh.ErrProviderUnavailable) {
			t.Errorf("the second service's refresh: %v, want ErrProviderUnavailable", err)
		}
		select {
		case firstErr = <-firstDone:
			done = true
		default:
		}
	}
	track.mu.Lock()
	most := track.most
	track.mu.Unlock()
	if most != 1 {
		t.Errorf("%d calls for one refresh token were in flight at once, want 1", most)
	}
	if !watchdog.Stop() {
		t.Fatal("a provider call outlived 20 s: Config.Timeout did not bound it")
	}
	if !errors.Is(firstErr, refresh.ErrProviderUnavailable) {
		t.Errorf("the first refresh: %v, want ErrProviderUnavailable", firstErr)
	}

	e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
	if _, err := normal.Refresh(context.Background(), tok); err != nil {
		t.Fatalf("refresh once the provider is back: %v", err)
	}
}

// TestTimedOutRefresh shows what a refresh cut off by Config.Timeout costs
// when the provider ran it all the same (its answer lost on the way): the
// next refresh presents a refresh token the provider has rotated. Within
// the provider's reuse interval the session goes on; without one the
// provider takes it for reuse and the user must log in again. Hence the
// advice in the package documentation to set the reuse interval.
func TestTimedOutRefresh(t *testing.T) {
	for _, tc := range []struct {
		reuse time.Duration
		want  int
	}{{time.Minute, 200}, {0, 401}} {
		t.Run("reuse interval "+tc.reuse.String(), func(t *testing.T) {
			e := newEnv(t, func(c *idptest.Config) { c.RefreshReuseInterval = tc.reuse })
			srv := e.server(e.service([]refresh.Key{key1}))
			short := e.server(e.serviceWith(func(c *refresh.Config) { c.Timeout = 300 * time.Millisecond }))
			tok := login(t, srv, "alice")
			rt := e.seen.latest()
			e.idp.SetFault(idptest.EndpointToken, idptest.FaultHang)
			if a := refreshOnce(t, short, tok); a.status != 503 {
				t.Fatalf("a refresh the provider does not answer in time: %d %v", a.status, a.body)
			}
			// The provider, released, runs the abandoned refresh.
			e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
			waitFor(t, "the provider to run the abandoned refresh", func() bool {
				return e.idp.RefreshTokenState(rt) != idptest.RefreshActive
			})
			if a := refreshOnce(t, srv, tok); a.status != tc.want {
				t.Errorf("the next refresh: %d %v, want %d", a.status, a.body, tc.want)
			}
		})
	}
}

// lockSpy is a Store that reports each Lock refused because another
// request holds the lock.
type lockSpy struct {
	refresh.Store
	refused chan struct{} // gets a value (when there is room) on each refusal
}

func (l *lockSpy) Lock(ctx context.Context, name, owner string, ttl time.Duration) error {
	err := l.Store.Lock(ctx, name, owner, ttl)
	if errors.Is(err, refresh.ErrLocked) {
		select {
		case l.refused <- struct{}{}:
		default:
		}
	}
	return err
}

// TestWaiterLeavesOnItsContext: a refresh waiting for another request's
// refresh of the same token gives up when its own context ends, counted as
// canceled; the refresh it waited for goes on undisturbed.
func TestWaiterLeavesOnItsContext(t *testing.T) {
	e := newEnv(t)
	spy := &lockSpy{Store: e.store, refused: make(chan struct{}, 1)}
	e.store = spy
	reg := prometheus.NewRegistry()
	s := e.serviceWith(func(c *refresh.Config) { c.Timeout = 30 * time.Second }, refresh.WithRegisterer(reg))
	t0, err := s.Login(context.Background(), refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	e.idp.ResetCalls()
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultHang)
	firstDone := make(chan error, 1)
	go func() {
		_, err := s.Refresh(context.Background(), t0.AccessToken)
		firstDone <- err
	}()
	waitFor(t, "the first refresh to reach the provider", func() bool { return e.idp.Calls(idptest.EndpointToken) > 0 })

	ctx, cancel := context.WithCancel(context.Background())
	waiterDone := make(chan error, 1)
	go func() {
		_, err := s.Refresh(ctx, t0.AccessToken)
		waiterDone <- err
	}()
	select {
	case <-spy.refused: // the waiter found the lock held: it is waiting
	case <-time.After(10 * time.Second):
		t.Fatal("the second refresh never found the lock held")
	}
	cancel()
	if err := <-waiterDone; !errors.Is(err, context.Canceled) {
		t.Errorf("the waiter: %v, want context.Canceled", err)
	}
	select {
	case err := <-firstDone:
		t.Fatalf("the first refresh ended with its waiter: %v", err)
	default:
	}
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
	if err := <-firstDone; err != nil {
		t.Fatalf("the first refresh: %v", err)
	}
	if n := series(t, reg, "authgate_refresh_requests_total", "op", "refresh", "outcome", "canceled"); n != 1 {
		t.Errorf("canceled refreshes counted: %v, want 1", n)
	}
	if n := series(t, reg, "authgate_refresh_requests_total", "op", "refresh", "outcome", "provider_unavailable"); n != 0 {
		t.Errorf("the waiter's leaving counted as the provider unavailable")
	}
}

// TestDisconnectedLogoutCompletes: a logout whose caller leaves while the
// provider revokes still revokes the family and deletes its records.
func TestDisconnectedLogoutCompletes(t *testing.T) {
	e := newEnv(t)
	s := e.serviceWith(func(c *refresh.Config) { c.Timeout = 30 * time.Second })
	t0, err := s.Login(context.Background(), refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	rt := e.seen.latest()
	e.idp.SetFault(idptest.EndpointRevoke, idptest.FaultHang)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Logout(ctx, t0.AccessToken) }()
	waitFor(t, "the revocation to reach the provider", func() bool { return e.idp.Calls(idptest.EndpointRevoke) > 0 })
	cancel()
	e.idp.SetFault(idptest.EndpointRevoke, idptest.FaultNone)
	if err := <-done; err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if st := e.idp.RefreshTokenState(rt); st != idptest.RefreshRevoked {
		t.Errorf("the refresh token is %v at the provider, want revoked", st)
	}
	if keys := dumpKeys(t, e.mc.Addr()); len(keys) != 0 {
		t.Errorf("%d records left", len(keys))
	}
}
