package authn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/refresh"
)

// TestSessionsSurviveANode is issue 12's end-to-end check: two instances
// of a service, each built by Setup on the same memcached nodes, with
// sessions logged in through the refresh service. In each phase 12
// sessions log in (alternating instances), then the cluster changes: one
// node hung (SIGSTOP), then killed, then restarted empty, then a fourth
// node added — first to one instance only, as in the middle of a rolling
// deploy, then to both. After the change, every session must refresh
// twice (once on each instance, so that each reads what the other wrote),
// and a logout made on one instance must be refused on the other, for the
// access token and for a refresh. Every call is bounded by a timeout;
// nothing is timed.
func TestSessionsSurviveANode(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	nodes := memcachedtest.StartCluster(t, 3)
	victim := nodes.Servers()[1]
	gates := [2]*instanceGate{startGate(t, idp, nodes.Addrs()), startGate(t, idp, nodes.Addrs())}
	top := t // gates started in a phase live until the test ends

	for _, ph := range []struct {
		name   string
		change func(t *testing.T)
	}{
		{"one node hung", func(*testing.T) { victim.Pause() }},
		{"the node killed", func(*testing.T) { victim.Stop() }},
		{"the node restarted empty", func(t *testing.T) {
			victim.Restart()
			for _, g := range gates {
				g.waitNodeUp(t, victim.Addr())
			}
		}},
		{"a fourth node added to one instance", func(t *testing.T) {
			nodes.Add()
			gates[1].close(t)
			gates[1] = startGate(top, idp, nodes.Addrs())
		}},
		{"a fourth node added to both", func(t *testing.T) {
			gates[0].close(t)
			gates[0] = startGate(top, idp, nodes.Addrs())
		}},
	} {
		t.Run(ph.name, func(t *testing.T) {
			var sessions [12]string
			for i := range sessions {
				sessions[i] = gates[i%2].login(t)
			}
			ph.change(t)
			for i, tok := range sessions {
				home, other := gates[i%2], gates[(i+1)%2]
				who := fmt.Sprintf("session %d", i)
				tok = other.refresh(t, tok, who+", first refresh (on the other instance)")
				tok = home.refresh(t, tok, who+", second refresh (on the instance it logged in on)")
				home.mustAccept(t, tok, who+", refreshed token")
				home.logout(t, tok, who)
				other.mustRefuse(t, tok, who+", logged out on the other instance")
				other.mustNotRefresh(t, tok, who+", logged out on the other instance")
			}
			for _, g := range gates {
				if n := metricValue(g.reg, "authgate_refresh_unstored_total", nil); n != 0 {
					t.Errorf("%v logins or refreshes whose session the store refused", n)
				}
			}
		})
	}
}

// instanceGate is one instance of the service: a Gate built by Setup, with
// its own registry.
type instanceGate struct {
	gate *authn.Gate
	reg  *prometheus.Registry
}

func startGate(t *testing.T, idp *idptest.Server, servers []string) *instanceGate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	g, err := authn.Setup(ctx, authn.SetupConfig{
		Issuer: idp.Issuer(), Audience: idptest.DemoAPI,
		ClientID: "venue-app", ClientSecret: "venue-app-secret",
		MemcacheServers: servers, Namespace: "test/cluster",
		// Timeouts of a second, not the defaults' 50 and 100 ms: a
		// healthy node must not time out on a machine busy with -race and
		// other work, or a session whose other copy is on the stopped
		// node fails for a reason this test is not about.
		Memcache: cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second},
		Secret:   []byte("a secret of at least thirty-two bytes"),
	}, authn.WithRegisterer(reg), authn.WithLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))))
	if err != nil {
		t.Fatal(err)
	}
	ig := &instanceGate{gate: g, reg: reg}
	t.Cleanup(func() { ig.close(t) })
	return ig
}

func (g *instanceGate) close(t *testing.T) {
	if g.gate == nil {
		return
	}
	if err := g.gate.Close(); err != nil {
		t.Error(err)
	}
	g.gate = nil
}

// bounded is the context of one call: long enough for a busy machine,
// short enough that a hang fails the test.
func bounded() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (g *instanceGate) login(t *testing.T) string {
	t.Helper()
	ctx, cancel := bounded()
	defer cancel()
	tok, err := g.gate.Refresh.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return tok.AccessToken
}

func (g *instanceGate) refresh(t *testing.T, token, who string) string {
	t.Helper()
	ctx, cancel := bounded()
	defer cancel()
	tok, err := g.gate.Refresh.Refresh(ctx, token)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	return tok.AccessToken
}

func (g *instanceGate) logout(t *testing.T, token, who string) {
	t.Helper()
	ctx, cancel := bounded()
	defer cancel()
	if err := g.gate.Refresh.Logout(ctx, token); err != nil {
		t.Fatalf("%s: logout: %v", who, err)
	}
}

func (g *instanceGate) mustAccept(t *testing.T, token, who string) {
	t.Helper()
	ctx, cancel := bounded()
	defer cancel()
	if _, err := g.gate.Authenticator.Authenticate(ctx, token); err != nil {
		t.Errorf("%s: refused: %v", who, err)
	}
}

func (g *instanceGate) mustRefuse(t *testing.T, token, who string) {
	t.Helper()
	ctx, cancel := bounded()
	defer cancel()
	if _, err := g.gate.Authenticator.Authenticate(ctx, token); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("%s: the access token got %v, want invalid", who, err)
	}
}

func (g *instanceGate) mustNotRefresh(t *testing.T, token, who string) {
	t.Helper()
	ctx, cancel := bounded()
	defer cancel()
	if _, err := g.gate.Refresh.Refresh(ctx, token); !errors.Is(err, refresh.ErrLoginRequired) {
		t.Errorf("%s: a refresh got %v, want login required", who, err)
	}
}

// waitNodeUp waits, bounded, until this instance has put node back in
// service.
func (g *instanceGate) waitNodeUp(t *testing.T, node string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(g.reg, "authgate_cache_memcache_node_up", map[string]string{"node": node}) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("node %s not back in service", node)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
