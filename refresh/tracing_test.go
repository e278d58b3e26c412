package refresh_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/tracing/tracingtest"
	"github.com/authgate/authgate/refresh"
)

// heldLocks counts the refresh locks found held.
type heldLocks struct {
	refresh.Store
	held atomic.Int32
}

func (s *heldLocks) Lock(ctx context.Context, name, owner string, ttl time.Duration) error {
	err := s.Store.Lock(ctx, name, owner, ttl)
	if errors.Is(err, refresh.ErrLocked) {
		s.held.Add(1)
	}
	return err
}

// TestTraceRefresh: each Refresh is an "authgate.refresh" span, a child of
// the request's, holding its call to the token endpoint; it says how it
// ended and whether it waited for a concurrent refresh of the same token
// (forced here: the first holds the lock while the provider hangs). Logins
// and logouts show their calls to the token and revocation endpoints. No
// span holds an access or refresh token, the client secret or the
// password.
func TestTraceRefresh(t *testing.T) {
	e := newEnv(t)
	spy := &heldLocks{Store: e.store}
	e.store = spy
	rec := tracingtest.New(t)
	s := e.service([]refresh.Key{key1}, refresh.WithTracerProvider(rec))
	ctx, loginRequest := rec.Request(context.Background())
	tokens, err := s.Login(ctx, refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	loginRequest.End()
	tracingtest.ChildOf(t, rec.One(t, "POST"), loginRequest.SpanContext())

	rec.Reset()
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultHang)
	first, second := make(chan error, 1), make(chan error, 1)
	ctx1, request1 := rec.Request(context.Background())
	go func() { _, err := s.Refresh(ctx1, tokens.AccessToken); first <- err }()
	for e.idp.Calls(idptest.EndpointToken) < 2 { // the login's, then the first refresh's
		time.Sleep(time.Millisecond)
	}
	ctx2, request2 := rec.Request(context.Background())
	go func() { _, err := s.Refresh(ctx2, tokens.AccessToken); second <- err }()
	for spy.held.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	request1.End()
	request2.End()
	spans := rec.Named("authgate.refresh")
	if len(spans) != 2 {
		t.Fatalf("%d refresh spans, want 2: %s", len(spans), tracingtest.Names(rec.Spans()))
	}
	for _, r := range spans {
		waited := "false"
		if r.Parent.SpanID() == request2.SpanContext().SpanID() {
			waited = "true"
		} else {
			tracingtest.ChildOf(t, r, request1.SpanContext())
			tracingtest.ChildOf(t, rec.One(t, "POST"), r.SpanContext)
		}
		tracingtest.WantAttrs(t, r, map[string]string{"authgate.refresh.outcome": "ok", "authgate.refresh.waited": waited})
	}
	tracingtest.WantAttrs(t, rec.One(t, "POST"), map[string]string{"url.full": e.idp.TokenURL(), "http.response.status_code": "200"})

	rec.Reset()
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultUnavailable)
	ctx, request := rec.Request(context.Background())
	if _, err := s.Refresh(ctx, tokens.AccessToken); err != nil { // within the grace window: the same answer
		t.Fatal(err)
	}
	next, err := s.Login(ctx, refresh.Credentials{Username: "bob", Password: "bob-password"})
	if !errors.Is(err, refresh.ErrProviderUnavailable) {
		t.Fatalf("a login, the provider down: %v %v", next, err)
	}
	e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
	if err := s.Logout(ctx, tokens.AccessToken); err != nil {
		t.Fatal(err)
	}
	request.End()
	calls := map[string]string{} // status by URL
	for _, c := range rec.Named("POST") {
		tracingtest.ChildOf(t, c, request.SpanContext())
		calls[tracingtest.Attrs(c)["url.full"]] = tracingtest.Attrs(c)["http.response.status_code"]
	}
	if want := map[string]string{e.idp.TokenURL(): "503", e.idp.RevocationURL(): "200"}; !maps.Equal(calls, want) {
		t.Errorf("calls to the provider (status by URL) %v, want %v", calls, want)
	}

	secrets := map[string]string{tokens.AccessToken: "the access token", "venue-app-secret": "the client secret",
		"alice-password": "a password", "bob-password": "a password"}
	for _, tok := range e.idp.RefreshTokens("auth0|alice", "venue-app") {
		secrets[tok] = "a refresh token"
	}
	for where, text := range tracingtest.Texts(rec.Spans()) {
		for secret, what := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %s: %q", where, what, text)
			}
		}
	}
}
