package tokenvalidator_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

func randomOpaque(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newBudget(t testing.TB, idp *idptest.Server, cfg tokenvalidator.BudgetConfig) *tokenvalidator.Budget {
	t.Helper()
	b, err := tokenvalidator.NewBudget(cfg, tokenvalidator.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newUserInfo(t testing.TB, idp *idptest.Server, budget *tokenvalidator.Budget, opts ...tokenvalidator.Option) *tokenvalidator.UserInfo {
	t.Helper()
	v, err := tokenvalidator.NewUserInfo(tokenvalidator.UserInfoConfig{
		URL: idp.UserinfoURL(), Issuer: idp.Issuer(), Timeout: 5 * time.Second, Budget: budget,
	}, append([]tokenvalidator.Option{tokenvalidator.WithClock(idp.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBudgetFlood: 1,000 distinct random opaque tokens, half to userinfo and
// half to introspection sharing one budget, cause at most the budget's
// calls at the provider; the rest are answered unavailable-with-retry at
// once. A good token is validated as soon as the budget allows.
func TestBudgetFlood(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	idp.SetNow(time.Now()) // frozen: the budget does not refill during the flood
	reg := prometheus.NewRegistry()
	budget := newBudget(t, idp, tokenvalidator.BudgetConfig{Rate: 1, Burst: 10, Concurrency: 4})
	userinfo := newUserInfo(t, idp, budget, tokenvalidator.WithRegisterer(reg))
	introspection := newIntrospection(t, idp, func(c *tokenvalidator.IntrospectionConfig) {
		c.Budget, c.Timeout = budget, 5*time.Second
	})
	validators := []tokenvalidator.Validator{userinfo, introspection}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var inactive, retried int
	for i := range 1000 {
		tok := randomOpaque(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := validators[i%2].Validate(context.Background(), tok)
			mu.Lock()
			defer mu.Unlock()
			if r, ok := claims.ReasonOf(err); ok && r == claims.ReasonInactive {
				inactive++
				return
			}
			wantRetry(t, err)
			retried++
		}()
	}
	wg.Wait()
	calls := idp.Calls(idptest.EndpointUserinfo) + idp.Calls(idptest.EndpointIntrospect)
	if calls > 10 {
		t.Errorf("%d provider calls for 1,000 random tokens, want at most the burst of 10", calls)
	}
	if inactive != calls || inactive+retried != 1000 {
		t.Errorf("%d inactive and %d retry answers for %d calls", inactive, retried, calls)
	}
	if got := gathered(t, reg, "authgate_tokenvalidator_provider_calls_total", "endpoint", "userinfo", "outcome", "refused"); got != float64(idp.Calls(idptest.EndpointUserinfo)) {
		t.Errorf("provider_calls_total{userinfo,refused} = %v, want %d", got, idp.Calls(idptest.EndpointUserinfo))
	}
	rejected := gathered(t, reg, "authgate_tokenvalidator_budget_rejections_total", "endpoint", "userinfo", "cause", "rate") +
		gathered(t, reg, "authgate_tokenvalidator_budget_rejections_total", "endpoint", "userinfo", "cause", "concurrency")
	if want := 500 - idp.Calls(idptest.EndpointUserinfo); rejected != float64(want) {
		t.Errorf("budget_rejections_total{userinfo} = %v, want %d", rejected, want)
	}

	good := opaqueFor(t, idp, "alice")
	_, err := userinfo.Validate(context.Background(), good)
	after := wantRetry(t, err)
	if after > time.Second {
		t.Errorf("retry after %v; one call per second comes back within a second", after)
	}
	idp.Advance(after)
	res, err := userinfo.Validate(context.Background(), good)
	if err != nil || res.Principal.Subject != "auth0|alice" {
		t.Fatalf("a good token once the budget allows: %v", err)
	}
}

// TestBudgetConcurrency: with every slot held by a call the provider does
// not answer, the next validation waits at most BudgetConfig.Wait and is
// refused without a call; the held calls complete once the provider answers.
func TestBudgetConcurrency(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	budget := newBudget(t, idp, tokenvalidator.BudgetConfig{Concurrency: 2, Wait: 20 * time.Millisecond})
	v := newUserInfo(t, idp, budget)
	good := opaqueFor(t, idp, "alice")

	idp.SetFault(idptest.EndpointUserinfo, idptest.FaultHang)
	held := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := v.Validate(context.Background(), good)
			held <- err
		}()
	}
	waitFor(t, func() bool { return idp.Calls(idptest.EndpointUserinfo) == 2 })
	_, err := v.Validate(context.Background(), good)
	wantRetry(t, err)
	if !errors.Is(err, claims.ErrUnavailable) || idp.Calls(idptest.EndpointUserinfo) != 2 {
		t.Errorf("the third call reached the provider (%d calls)", idp.Calls(idptest.EndpointUserinfo))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Validate(ctx, good); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller gone while waiting for a slot: %v, want its context's error", err)
	}

	idp.SetFault(idptest.EndpointUserinfo, idptest.FaultNone)
	for range 2 {
		if err := <-held; err != nil {
			t.Errorf("a held call: %v", err)
		}
	}
	if _, err := v.Validate(context.Background(), good); err != nil {
		t.Errorf("slots freed: %v", err)
	}
}

// TestProviderRetryAfter: a provider that asks to be left alone (429, or 503
// with Retry-After) is answered with its wait; a 503 without one is a plain
// unavailable.
func TestProviderRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		status int
		header string
		want   time.Duration // 0: no retry wait
	}{
		{http.StatusTooManyRequests, "7", 7 * time.Second},
		{http.StatusTooManyRequests, "", time.Second},
		{http.StatusTooManyRequests, "86400", time.Minute}, // capped
		{http.StatusServiceUnavailable, "3", 3 * time.Second},
		{http.StatusServiceUnavailable, "", 0},
		{http.StatusInternalServerError, "3", 0},
	} {
		provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if tc.header != "" {
				w.Header().Set("Retry-After", tc.header)
			}
			w.WriteHeader(tc.status)
		}))
		v, err := tokenvalidator.NewUserInfo(tokenvalidator.UserInfoConfig{URL: provider.URL + "/userinfo"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Validate(context.Background(), "some-opaque-token")
		provider.Close()
		after, ok := claims.RetryAfterOf(err)
		if !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) || after != tc.want || ok != (tc.want > 0) {
			t.Errorf("%d Retry-After %q: %v (after %v), want unavailable after %v", tc.status, tc.header, err, after, tc.want)
		}
	}
}

func TestBudgetConfigErrors(t *testing.T) {
	for name, cfg := range map[string]tokenvalidator.BudgetConfig{
		"negative rate":        {Rate: -1},
		"negative burst":       {Burst: -1},
		"negative concurrency": {Concurrency: -1},
		"negative wait":        {Wait: -time.Second},
	} {
		if _, err := tokenvalidator.NewBudget(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
	}
}

// gathered returns the value of the series name{labels…} on reg, or -1
// when there is none.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return -1
}
