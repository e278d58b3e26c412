package integrations_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/integrations"
)

// counted passes calls through to a MemoryStore and counts the checks, so
// that a test sees when the cache answered. gate, when set, holds each
// check after it has read the store until the test closes release.
type counted struct {
	integrations.MemoryStore
	checks  atomic.Int64
	read    chan struct{} // closed when a held check has read the store
	release chan struct{}
}

func (c *counted) Enabled(ctx context.Context, subject, clientID, orgID string) (bool, error) {
	c.checks.Add(1)
	ok, err := c.MemoryStore.Enabled(ctx, subject, clientID, orgID)
	if c.release != nil {
		close(c.read)
		<-c.release
	}
	return ok, err
}

// grants records the revocations asked for, and fails them while failing
// is set.
type grants struct {
	mu      sync.Mutex
	revoked [][2]string
	failing bool
}

func (g *grants) RevokeGrant(_ context.Context, subject, clientID string, _ time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failing {
		return errors.New("memcached down")
	}
	g.revoked = append(g.revoked, [2]string{subject, clientID})
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newService(t *testing.T, store integrations.Store, g integrations.Revoker, clk *clock) *integrations.Service {
	t.Helper()
	s, err := integrations.New(store, g, integrations.Config{CacheTTL: 30 * time.Second, NegativeTTL: 2 * time.Second}, integrations.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCache: answers are kept CacheTTL (yes) and NegativeTTL (no); a
// change made on this instance shows at once, one made on another within
// those bounds.
func TestCache(t *testing.T) {
	ctx := context.Background()
	store, clk := &counted{}, &clock{t: time.Unix(1_900_000_000, 0)}
	here, there := newService(t, store, &grants{}, clk), newService(t, store, &grants{}, clk)
	enabled := func(s *integrations.Service) bool {
		t.Helper()
		ok, err := s.IntegrationEnabled(ctx, "auth0|alice", "partner-app", "org_acme")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	steps := []struct {
		name   string
		do     func()
		here   bool
		checks int64 // store checks so far
	}{
		{"first check", func() {}, false, 1},
		{"cached no", func() { clk.advance(time.Second) }, false, 1},
		{"enabled elsewhere, within NegativeTTL", func() {
			if _, err := there.Enable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
				t.Fatal(err)
			}
		}, false, 1},
		{"after NegativeTTL", func() { clk.advance(time.Second) }, true, 2},
		{"cached yes", func() { clk.advance(20 * time.Second) }, true, 2},
		{"disabled elsewhere, within CacheTTL", func() {
			if err := there.Disable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
				t.Fatal(err)
			}
		}, true, 2},
		{"after CacheTTL", func() { clk.advance(10 * time.Second) }, false, 3},
		{"enabled here: at once", func() {
			if _, err := here.Enable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
				t.Fatal(err)
			}
		}, true, 4},
		{"disabled here: at once", func() {
			if err := here.Disable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
				t.Fatal(err)
			}
		}, false, 5},
	}
	for _, st := range steps {
		st.do()
		if got := enabled(here); got != st.here || store.checks.Load() != st.checks {
			t.Fatalf("%s: enabled %v after %d store checks, want %v after %d", st.name, got, store.checks.Load(), st.here, st.checks)
		}
	}
}

// TestDisableRacesCheck: a check that read "enabled" before a Disable on
// the same instance, and answers after it, does not leave that answer
// cached. Run it with -race -count=50.
func TestDisableRacesCheck(t *testing.T) {
	ctx := context.Background()
	store, clk := &counted{}, &clock{t: time.Unix(1_900_000_000, 0)}
	s := newService(t, store, &grants{}, clk)
	if _, err := s.Enable(ctx, "auth0|alice", "partner-app", ""); err != nil {
		t.Fatal(err)
	}
	store.read, store.release = make(chan struct{}), make(chan struct{})
	result := make(chan bool, 1)
	go func() {
		ok, _ := s.IntegrationEnabled(ctx, "auth0|alice", "partner-app", "")
		result <- ok
	}()
	<-store.read
	if err := s.Disable(ctx, "auth0|alice", "partner-app", ""); err != nil {
		t.Fatal(err)
	}
	close(store.release)
	if !<-result {
		t.Fatal("the check that read before the Disable said no")
	}
	store.release = nil
	if ok, _ := s.IntegrationEnabled(ctx, "auth0|alice", "partner-app", ""); ok {
		t.Fatal("an answer read before the Disable was kept")
	}
}

// TestDisableRevokes: disabling revokes the partner's grant; a revocation
// that fails is an unavailable error, and a retry revokes.
func TestDisableRevokes(t *testing.T) {
	ctx := context.Background()
	g, clk := &grants{}, &clock{t: time.Unix(1_900_000_000, 0)}
	s := newService(t, &integrations.MemoryStore{}, g, clk)
	if _, err := s.Enable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
		t.Fatal(err)
	}
	g.failing = true
	if err := s.Disable(ctx, "auth0|alice", "partner-app", "org_acme"); !errors.Is(err, claims.ErrUnavailable) {
		t.Fatalf("Disable with the revocation failing: %v, want unavailable", err)
	}
	if ok, _ := s.IntegrationEnabled(ctx, "auth0|alice", "partner-app", "org_acme"); ok {
		t.Error("still enabled after a Disable whose revocation failed")
	}
	g.failing = false
	if err := s.Disable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
		t.Fatal(err)
	}
	if len(g.revoked) != 1 || g.revoked[0] != [2]string{"auth0|alice", "partner-app"} {
		t.Errorf("revoked %v", g.revoked)
	}
}

func TestBadInput(t *testing.T) {
	s := newService(t, &integrations.MemoryStore{}, &grants{}, &clock{})
	ctx := context.Background()
	long := string(make([]byte, 256))
	for name, err := range map[string]error{
		"no subject":  func() error { _, err := s.Enable(ctx, "", "p", ""); return err }(),
		"no client":   s.Disable(ctx, "s", "", ""),
		"long client": func() error { _, err := s.Enable(ctx, "s", long, ""); return err }(),
	} {
		if !errors.Is(err, integrations.ErrBadIntegration) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := integrations.New(nil, &grants{}, integrations.Config{}); err == nil {
		t.Error("New without a store: no error")
	}
}
