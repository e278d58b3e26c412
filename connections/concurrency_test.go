package connections_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/idptest"
)

// burst makes 100 concurrent Token calls on each instance, all released
// at once, and returns the tokens and errors.
func burst(instances []*connections.Service, subject string) (map[string]int, []error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	tokens, errs := map[string]int{}, []error(nil)
	start := make(chan struct{})
	for _, s := range instances {
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				tok, err := s.TokenSource(context.Background(), subject, "roomsmart").Token()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				tokens[tok.AccessToken]++
			}()
		}
	}
	close(start)
	wg.Wait()
	return tokens, errs
}

// TestOneRefreshAcrossInstances, on every store: three instances × 100
// concurrent Token calls make one refresh at the party — shortly before
// the expiry (the others keep the still-valid token meanwhile) and after
// it (the others wait for the new one).
func TestOneRefreshAcrossInstances(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env, stores func() connections.Store) {
		instances := []*connections.Service{e.service(stores()), e.service(stores()), e.service(stores())}
		e.connect(instances[0], "auth0|alice", "alice")
		first := mustToken(t, instances[0], "auth0|alice")

		e.third.Advance(9*time.Minute + 30*time.Second) // within RefreshBefore
		e.third.ResetCalls()
		tokens, errs := burst(instances, "auth0|alice")
		if len(errs) > 0 {
			t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
		}
		if n := e.third.Calls(idptest.EndpointToken); n != 1 {
			t.Errorf("before the expiry: %d refreshes at the party, want 1", n)
		}
		for tok := range tokens {
			if tok != first && e.introspect(tok)["active"] != true {
				t.Errorf("a handed-out token is not active")
			}
		}
		second := mustToken(t, instances[2], "auth0|alice")

		e.third.Advance(11 * time.Minute) // past the expiry of the second token
		e.third.ResetCalls()
		tokens, errs = burst(instances, "auth0|alice")
		if len(errs) > 0 {
			t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
		}
		if n := e.third.Calls(idptest.EndpointToken); n != 1 {
			t.Errorf("after the expiry: %d refreshes at the party, want 1", n)
		}
		if len(tokens) != 1 || tokens[second] > 0 {
			t.Errorf("after the expiry: %d different tokens handed out (the expired one %d times), want 1 new", len(tokens), tokens[second])
		}
	})
}

// TestRevokedAtTheParty, on every store: the user revokes the service's
// access at RoomSMart (its grant deleted there). Three instances × 100
// concurrent Token calls after the expiry make one call, which the party
// answers invalid_grant; every caller gets a *ReconnectError, the
// connection is marked disconnected, and later calls do not ask again.
func TestRevokedAtTheParty(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env, stores func() connections.Store) {
		instances := []*connections.Service{e.service(stores()), e.service(stores()), e.service(stores())}
		e.connect(instances[0], "auth0|alice", "alice")
		e.connect(instances[0], "auth0|bob", "bob")
		revokeGrant(t, e, "roomsmart|a1")

		e.third.Advance(11 * time.Minute)
		e.third.ResetCalls()
		tokens, errs := burst(instances, "auth0|alice")
		if len(tokens) != 0 || len(errs) != 300 {
			t.Fatalf("%d tokens, %d errors", len(tokens), len(errs))
		}
		for _, err := range errs {
			wantReconnect(t, err, "a revoked grant")
		}
		if n := e.third.Calls(idptest.EndpointToken); n != 1 {
			t.Errorf("%d calls to the party, want 1", n)
		}
		list, err := instances[1].List(context.Background(), "auth0|alice")
		if err != nil || len(list) != 1 || list[0].Status != connections.StatusDisconnected || list[0].Reason == "" {
			t.Errorf("List: %+v %v", list, err)
		}
		_, err = token(t, instances[2], "auth0|alice")
		wantReconnect(t, err, "asking again")
		if n := e.third.Calls(idptest.EndpointToken); n != 1 {
			t.Errorf("asking again called the party: %d calls", n)
		}
		if _, err := token(t, instances[2], "auth0|bob"); err != nil {
			t.Errorf("bob's connection suffered: %v", err)
		}
		// Reconnecting works.
		e.connect(instances[2], "auth0|alice", "alice")
		mustToken(t, instances[0], "auth0|alice")
	})
}

// revokeGrant deletes the RoomSMart user's grants to Lodging Picks through
// RoomSMart's Management API, as the user revoking access there does.
func revokeGrant(t *testing.T, e *env, rsUser string) {
	t.Helper()
	tok, err := accessToken(e.third.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"rs-admin"},
		"client_secret": {"rs-admin-secret"}, "audience": {e.third.ManagementAudience()}})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, u string) *http.Response {
		req, _ := http.NewRequest(method, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := do("GET", e.third.ManagementURL()+"/grants?"+url.Values{"user_id": {rsUser}, "client_id": {"lodging-picks"}}.Encode())
	var grants []struct {
		ID string `json:"id"`
	}
	decodeJSON(t, resp, &grants)
	if len(grants) != 1 {
		t.Fatalf("%d grants", len(grants))
	}
	if resp := do("DELETE", e.third.ManagementURL()+"/grants/"+grants[0].ID); resp.StatusCode != 204 {
		t.Fatalf("DELETE grant: %d", resp.StatusCode)
	}
}

// failingStore fails every Put while armed.
type failingStore struct {
	connections.Store
	mu    sync.Mutex
	armed bool
}

func (f *failingStore) Put(ctx context.Context, r connections.Record) error {
	f.mu.Lock()
	armed := f.armed
	f.mu.Unlock()
	if armed {
		return errors.New("disk full")
	}
	return f.Store.Put(ctx, r)
}

// TestRotationStoredBeforeUse: when the rotated refresh token cannot be
// stored, the new access token is not handed out either.
func TestRotationStoredBeforeUse(t *testing.T) {
	e := newEnv(t)
	fs := &failingStore{Store: storeKinds[0].open(e)()}
	s := e.service(fs)
	e.connect(s, "auth0|alice", "alice")
	e.third.Advance(11 * time.Minute)
	e.third.ResetCalls()
	fs.mu.Lock()
	fs.armed = true
	fs.mu.Unlock()
	tok, err := s.TokenSource(context.Background(), "auth0|alice", "roomsmart").Token()
	if tok != nil || !errors.Is(err, claims.ErrUnavailable) {
		t.Fatalf("with the store refusing the rotation: %v %v, want no token and ErrUnavailable", tok, err)
	}
	if n := e.third.Calls(idptest.EndpointToken); n != 1 {
		t.Errorf("%d refreshes", n)
	}
}

// TestPartyDown: while the party's token endpoint fails, a token that has
// not expired is still handed out; an expired one is an ErrUnavailable
// that says when to retry; nothing is lost once the party is back.
func TestPartyDown(t *testing.T) {
	e := newEnv(t)
	s := e.service(storeKinds[0].open(e)())
	e.connect(s, "auth0|alice", "alice")
	current := mustToken(t, s, "auth0|alice")
	e.third.SetFault(idptest.EndpointToken, idptest.FaultUnavailable)
	e.third.Advance(9*time.Minute + 30*time.Second)
	if tok := mustToken(t, s, "auth0|alice"); tok != current {
		t.Error("within RefreshBefore with the party down: not the current token")
	}
	e.third.Advance(time.Minute)
	_, err := token(t, s, "auth0|alice")
	if wait, ok := claims.RetryAfterOf(err); !errors.Is(err, claims.ErrUnavailable) || !ok || wait != time.Second {
		t.Fatalf("expired with the party down: %v (retry after %v)", err, wait)
	}
	e.third.SetFault(idptest.EndpointToken, idptest.FaultNone)
	if tok := mustToken(t, s, "auth0|alice"); tok == current {
		t.Error("after the party came back: the old token")
	}
}

// TestManagementRateLimit: the Management API store waits out 429s within
// its bounds, and says when to retry beyond them.
func TestManagementRateLimit(t *testing.T) {
	e := newEnv(t)
	newStore := func(maxWait time.Duration) connections.Store {
		s, err := connections.NewManagementStore(connections.ManagementConfig{Domain: e.own.Issuer(), ClientID: "store", ClientSecret: "store-secret",
			MaxRetryWait: maxWait})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := e.service(newStore(0))
	e.own.SetRateLimit(idptest.EndpointManagement, 2, time.Second)
	e.own.ResetCalls()
	e.connect(s, "auth0|alice", "alice") // a GET and a PATCH
	if list, err := s.List(context.Background(), "auth0|alice"); err != nil || len(list) != 1 {
		t.Fatalf("List: %v %v", list, err)
	}
	if n := e.own.Calls(idptest.EndpointManagement); n < 4 {
		t.Errorf("%d Management API calls: no request was limited", n)
	}
	e.own.SetRateLimit(idptest.EndpointManagement, 1, time.Minute)
	impatient := newStore(100 * time.Millisecond)
	_, _ = impatient.List(context.Background(), "auth0|alice")
	_, err := impatient.List(context.Background(), "auth0|alice")
	if wait, ok := claims.RetryAfterOf(err); !ok || wait < 30*time.Second {
		t.Errorf("a wait beyond MaxRetryWait: %v (retry after %v)", err, wait)
	}
}
