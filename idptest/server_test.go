package idptest_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// TestConcurrentUse runs logins, refreshes, introspections, revocations
// and every control method at once; -race checks the locking.
func TestConcurrentUse(t *testing.T) {
	idp := start(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			t := inGoroutine{t}
			for range 5 {
				a := grant(t, idp, aliceLogin)
				next := post(t, idp.TokenURL(), form("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"),
					"client_id", "venue-app", "client_secret", "venue-app-secret"))
				introspect(t, idp, next.str("access_token"))
				get(t, idp.UserinfoURL(), next.str("access_token"))
				revoke(t, idp, "venue-app", next.str("refresh_token"))
				if _, err := idp.Mint(map[string]any{"sub": "x"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			kid, err := idp.AddKey("ES256")
			if err != nil {
				t.Error(err)
				return
			}
			idp.SetFault(idptest.EndpointDiscovery, idptest.FaultError)
			idp.Advance(time.Second)
			_ = idp.UseKey(kid)
			_ = idp.Calls(idptest.EndpointToken)
			idp.ResetCalls()
			idp.SetFault(idptest.EndpointDiscovery, idptest.FaultNone)
			_ = idp.RefreshTokenState("x")
			_, _ = idp.UserClaims(idptest.ClaimsRequest{Username: "bob", ClientID: "venue-app"})
			_ = idp.OpaqueToken(map[string]any{"sub": "auth0|bob"})
		}
	})
	wg.Wait()
}

// inGoroutine lets the test helpers run in a goroutine of the test: Fatal
// and Fatalf report the error and end that goroutine only, since FailNow
// may be called from the test's goroutine alone.
type inGoroutine struct{ testing.TB }

func (g inGoroutine) Fatal(args ...any) {
	g.Helper()
	g.Error(args...)
	runtime.Goexit()
}

func (g inGoroutine) Fatalf(format string, args ...any) {
	g.Helper()
	g.Errorf(format, args...)
	runtime.Goexit()
}
