package connections_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

// TestCallbackRefusals: a declined consent, a replayed, foreign, expired
// or made-up state, a refused code: each a clear error, and none stores
// anything.
func TestCallbackRefusals(t *testing.T) {
	e := newEnv(t)
	store := storeKinds[0].open(e)()
	s := e.service(store)
	ctx := context.Background()
	start := func(subject string) string {
		u, err := s.Connect(ctx, subject, "roomsmart", connections.AuthRequest{LoginHint: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	nothingStored := func(what string) {
		t.Helper()
		for _, sub := range []string{"auth0|alice", "auth0|bob"} {
			if list, err := s.List(ctx, sub); err != nil || len(list) != 0 {
				t.Errorf("%s: %s has %+v (%v)", what, sub, list, err)
			}
		}
	}

	e.third.DenyConsent(true)
	_, err := s.Complete(ctx, "auth0|alice", "roomsmart", e.consent(start("auth0|alice")))
	var ae *connections.AuthorizationError
	if !errors.Is(err, connections.ErrAccessDenied) || !errors.As(err, &ae) || ae.Code != "access_denied" {
		t.Errorf("declined consent: %v", err)
	}
	nothingStored("declined consent")
	e.third.DenyConsent(false)

	// Replayed: the first completion works, the same callback again does not.
	cb := e.consent(start("auth0|alice"))
	if _, err := s.Complete(ctx, "auth0|alice", "roomsmart", cb); err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect(ctx, "auth0|alice", "roomsmart"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(ctx, "auth0|alice", "roomsmart", cb); !errors.Is(err, connections.ErrStateUnknown) {
		t.Errorf("replayed state: %v", err)
	}
	nothingStored("replayed state")

	// Foreign: bob presents alice's callback. It is refused, and spent.
	cb = e.consent(start("auth0|alice"))
	if _, err := s.Complete(ctx, "auth0|bob", "roomsmart", cb); !errors.Is(err, connections.ErrStateForeign) || !errors.Is(err, connections.ErrInvalidState) {
		t.Errorf("foreign state: %v", err)
	}
	if _, err := s.Complete(ctx, "auth0|alice", "roomsmart", cb); !errors.Is(err, connections.ErrStateUnknown) {
		t.Errorf("the owner after a foreign attempt: %v", err)
	}
	nothingStored("foreign state")

	// Expired.
	cb = e.consent(start("auth0|alice"))
	e.third.Advance(11 * time.Minute)
	if _, err := s.Complete(ctx, "auth0|alice", "roomsmart", cb); !errors.Is(err, connections.ErrStateUnknown) {
		t.Errorf("expired state: %v", err)
	}
	// Made up, and a code that was never issued (the state is real).
	if _, err := s.Complete(ctx, "auth0|alice", "roomsmart", connections.Callback{Code: cb.Code, State: "made-up"}); !errors.Is(err, connections.ErrStateUnknown) {
		t.Errorf("made-up state: %v", err)
	}
	cb = e.consent(start("auth0|alice"))
	cb.Code = "not-a-code"
	if _, err := s.Complete(ctx, "auth0|alice", "roomsmart", cb); !errors.Is(err, connections.ErrCodeRefused) {
		t.Errorf("refused code: %v", err)
	}
	if _, err := s.Complete(ctx, "auth0|alice", "elsewhere", cb); !errors.Is(err, connections.ErrUnknownParty) {
		t.Errorf("unknown party: %v", err)
	}
	nothingStored("the other refusals")
}

// TestConcurrentCallbacks: of twenty concurrent completions of one
// callback, exactly one succeeds.
func TestConcurrentCallbacks(t *testing.T) {
	e := newEnv(t)
	s := e.service(storeKinds[0].open(e)())
	u, _ := s.Connect(context.Background(), "auth0|alice", "roomsmart", connections.AuthRequest{LoginHint: "alice"})
	cb := e.consent(u)
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			_, err := s.Complete(context.Background(), "auth0|alice", "roomsmart", cb)
			errs <- err
		}()
	}
	ok := 0
	for range 20 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, connections.ErrStateUnknown):
			t.Errorf("unexpected: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d completions succeeded, want 1", ok)
	}
}

// TestLoginFlow: the same machinery logs a user into the service itself:
// the URL carries audience and organization, and the callback yields the
// code and PKCE verifier, which the provider exchanges for the user's
// token in that organization. The state is bound to the browser.
func TestLoginFlow(t *testing.T) {
	e := newEnv(t)
	f, err := connections.NewFlow(e.cache(), connections.Party{
		Name: "login", AuthURL: e.own.AuthorizeURL(), ClientID: "venue-app", RedirectURL: "https://venue.example/auth/callback",
		Scopes: []string{"openid", "offline_access", "read:venues"}, Audience: idptest.DemoAPI,
	}, connections.FlowConfig{Namespace: "test", HashKey: hashKey, EncryptionKeys: []connections.Key{key1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u, err := f.Start(ctx, "browser-cookie-1", connections.AuthRequest{Organization: "org_acme", LoginHint: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	q := mustParse(t, u).Query()
	for k, want := range map[string]string{"audience": idptest.DemoAPI, "organization": "org_acme", "code_challenge_method": "S256",
		"response_type": "code", "client_id": "venue-app", "login_hint": "alice"} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	cb := e.consent(u)
	if _, err := f.Finish(ctx, "browser-cookie-2", cb); !errors.Is(err, connections.ErrStateForeign) {
		t.Fatalf("another browser: %v", err)
	}
	u, _ = f.Start(ctx, "browser-cookie-1", connections.AuthRequest{Organization: "org_acme", LoginHint: "alice"})
	a, err := f.Finish(ctx, "browser-cookie-1", e.consent(u))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := accessClaims(e.own.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {a.Code},
		"code_verifier": {a.CodeVerifier}, "redirect_uri": {a.RedirectURI}, "client_id": {"venue-app"}, "client_secret": {"venue-app-secret"}})
	if err != nil || resp["org_id"] != "org_acme" || resp["sub"] != "auth0|alice" {
		t.Fatalf("exchange: %v %v", resp, err)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestCallbackIssuer: RFC 9207. A callback's iss must be the party's
// issuer, and must be there when the party always sends it; a mismatch is
// refused before the server's code or error is looked at, and the state is
// spent. An authorization server that sends iss, and one that does not,
// each against the party settings that fit and that do not.
func TestCallbackIssuer(t *testing.T) {
	e := newEnv(t)
	withIss := lodging()
	withIss.IssuerInAuthorizationResponse = true
	sender := idptest.Start(t, withIss)
	other := idptest.Start(t, lodging()) // another server, the same client registered
	ctx := context.Background()

	for _, tc := range []struct {
		name    string
		server  *idptest.Server // where the user is sent
		issuer  string          // Party.Issuer
		always  bool            // Party.IssuerInCallback
		deny    bool            // the server answers access_denied
		wantErr error
	}{
		{"sent and expected", sender, sender.Issuer(), true, false, nil},
		{"sent, the party names its issuer only", sender, sender.Issuer(), false, false, nil},
		{"sent, the party names none", sender, "", false, false, nil},
		{"sent by another server (mix-up)", sender, other.Issuer(), false, false, connections.ErrIssuerMismatch},
		{"another server's error (mix-up)", sender, other.Issuer(), false, true, connections.ErrIssuerMismatch},
		{"not sent, not required", e.third, e.third.Issuer(), false, false, nil},
		{"not sent, required", e.third, e.third.Issuer(), true, false, connections.ErrIssuerMismatch},
		{"sent and expected, an error", sender, sender.Issuer(), true, true, connections.ErrAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			party := e.party()
			party.AuthURL, party.Issuer, party.IssuerInCallback = tc.server.AuthorizeURL(), tc.issuer, tc.always
			f, err := connections.NewFlow(e.cache(), party, connections.FlowConfig{Namespace: "test", HashKey: hashKey, EncryptionKeys: []connections.Key{key1}})
			if err != nil {
				t.Fatal(err)
			}
			u, err := f.Start(ctx, "auth0|alice", connections.AuthRequest{LoginHint: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			tc.server.DenyConsent(tc.deny)
			defer tc.server.DenyConsent(false)
			cb := e.consent(u)
			if sent := cb.Issuer != ""; sent != (tc.server == sender) {
				t.Fatalf("callback iss %q from %s", cb.Issuer, tc.server.Issuer())
			}
			a, err := f.Finish(ctx, "auth0|alice", cb)
			switch {
			case tc.wantErr == nil && (err != nil || a.Code != cb.Code):
				t.Fatalf("Finish: %+v, %v", a, err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("Finish: %v, want %v", err, tc.wantErr)
			}
			if _, err := f.Finish(ctx, "auth0|alice", cb); !errors.Is(err, connections.ErrStateUnknown) {
				t.Errorf("the state again: %v, want it spent", err)
			}
		})
	}

	party := e.party()
	party.IssuerInCallback = true
	if _, err := connections.NewFlow(e.cache(), party, connections.FlowConfig{Namespace: "test", HashKey: hashKey, EncryptionKeys: []connections.Key{key1}}); err == nil {
		t.Error("IssuerInCallback without an Issuer: no error")
	}
}

// TestDiscoveryIssuerInAuthorizationResponse: a provider that sends iss
// says so in its discovery document, and Discover reads it.
func TestDiscoveryIssuerInAuthorizationResponse(t *testing.T) {
	withIss := lodging()
	withIss.IssuerInAuthorizationResponse = true
	for _, tc := range []struct {
		cfg  idptest.Config
		want bool
	}{{lodging(), false}, {withIss, true}} {
		idp := idptest.Start(t, tc.cfg)
		md, err := tokenvalidator.Discover(context.Background(), nil, idp.Issuer())
		if err != nil || md.IssuerInAuthorizationResponse != tc.want {
			t.Errorf("IssuerInAuthorizationResponse = %v (%v), want %v", md != nil && md.IssuerInAuthorizationResponse, err, tc.want)
		}
	}
}
