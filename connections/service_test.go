package connections_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/idptest"
)

// TestLifecycle, on every store: connect, use, rotate, list, disconnect,
// deprovision.
func TestLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env, stores func() connections.Store) {
		ctx := context.Background()
		s := e.service(stores())
		c := e.connect(s, "auth0|alice", "alice")
		if c.Status != connections.StatusConnected || !slices.Equal(c.Scopes, []string{"offline_access", "book:rooms"}) {
			t.Fatalf("connection: %+v", c)
		}

		// Use: the access token is RoomSMart's, for booking only.
		e.third.ResetCalls()
		at := mustToken(t, s, "auth0|alice")
		info := e.introspect(at)
		if info["active"] != true || info["sub"] != "roomsmart|a1" || info["scope"] != "offline_access book:rooms" {
			t.Fatalf("RoomSMart says of the access token: %v", info)
		}
		if again := mustToken(t, e.service(stores()), "auth0|alice"); again != at {
			t.Error("another instance got another access token")
		}
		if n := e.third.Calls(idptest.EndpointToken); n != 0 {
			t.Errorf("%d token calls for a fresh token", n)
		}

		// Rotate: within a minute of its expiry the token is refreshed once;
		// the rotated refresh token is the one stored.
		e.third.Advance(9*time.Minute + 30*time.Second)
		next := mustToken(t, s, "auth0|alice")
		if next == at || e.third.Calls(idptest.EndpointToken) != 1 {
			t.Fatalf("refresh: same token %v, %d calls", next == at, e.third.Calls(idptest.EndpointToken))
		}
		if mustToken(t, e.service(stores()), "auth0|alice") != next || e.third.Calls(idptest.EndpointToken) != 1 {
			t.Error("the refreshed token is not shared")
		}
		e.third.Advance(9*time.Minute + 30*time.Second)
		third := mustToken(t, s, "auth0|alice") // works only if the rotated refresh token was kept
		if e.introspect(third)["active"] != true {
			t.Fatal("the second refresh's token is not active")
		}

		// List, with a second user.
		aliceRT := e.seen.latestRefresh()
		e.connect(s, "auth0|bob", "bob")
		bobRT := e.seen.latestRefresh()
		list, err := s.List(ctx, "auth0|alice")
		if err != nil || len(list) != 1 || list[0].Party != "roomsmart" || list[0].Status != connections.StatusConnected {
			t.Fatalf("List: %+v %v", list, err)
		}

		// Disconnect: revoked at RoomSMart (one call), then gone here.
		e.third.ResetCalls()
		if err := s.Disconnect(ctx, "auth0|alice", "roomsmart"); err != nil {
			t.Fatal(err)
		}
		if n := e.third.Calls(idptest.EndpointRevoke); n != 1 {
			t.Errorf("%d revocation calls", n)
		}
		if st := e.third.RefreshTokenState(aliceRT); st != idptest.RefreshRevoked {
			t.Errorf("alice's refresh token is %v at RoomSMart", st)
		}
		_, err = token(t, s, "auth0|alice")
		wantReconnect(t, err, "after Disconnect")
		if list, _ := s.List(ctx, "auth0|alice"); len(list) != 0 {
			t.Errorf("List after Disconnect: %+v", list)
		}
		if err := s.Disconnect(ctx, "auth0|alice", "roomsmart"); err != nil {
			t.Errorf("a second Disconnect: %v", err)
		}

		// Deprovision bob: his grant is revoked and forgotten.
		n, err := s.Deprovision(ctx, "auth0|bob")
		if err != nil || n != 1 {
			t.Fatalf("Deprovision: %d %v", n, err)
		}
		if st := e.third.RefreshTokenState(bobRT); st != idptest.RefreshRevoked {
			t.Errorf("bob's refresh token is %v at RoomSMart", st)
		}
		_, err = token(t, e.service(stores()), "auth0|bob")
		wantReconnect(t, err, "after Deprovision")
	})
}
