package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/quickstart"
)

// TestNoSecretInLogs runs the venue through everything it does — the
// printed walk-through (password and code logins, refresh, logout, the
// enricher, RoomSMart connected, booked through and disconnected, a
// partner turned on and off, an administrator's revocation), DPoP proofs,
// the provider refusing and failing logins, refreshes and logouts — and
// then delegating to the token service, with a real memcached, every log
// line written as production writes it (JSON) at every level. No line may
// hold an access, ID or refresh token, a DPoP proof, a client secret, a
// user's password, AUTHGATE_SECRET or the token service's client secret.
func TestNoSecretInLogs(t *testing.T) {
	mc := memcachedtest.Start(t)
	secrets := demoSecrets()

	t.Run("the walk-through and the provider failing", func(t *testing.T) {
		const secret = "the venue's AUTHGATE_SECRET, 32 bytes or more"
		secrets.add("AUTHGATE_SECRET", secret)
		var logs logBuffer
		var providers []*idptest.Server
		p := quickstart.Start(t, withHooks(hooks{logger: logs.logger(), started: func(idp *idptest.Server) {
			providers = append(providers, idp)
		}}), map[string]string{"MEMCACHE_SERVERS": mc.Addr(), "AUTHGATE_SECRET": secret, "DPOP": "allowed"})
		if lines := quickstart.Replay(t, p.Output()); lines < 20 {
			t.Fatalf("only %d command lines printed:\n%s", lines, p.Output())
		}
		if len(providers) != 2 {
			t.Fatalf("%d embedded providers reported, want the venue's and RoomSMart's", len(providers))
		}
		idp := providers[0]
		failures(t, p.URL, idp)
		p.Stop()
		for _, idp := range providers {
			secrets.refreshTokens(idp)
		}
		logs.check(t, "the venue's", secrets, true)
	})

	t.Run("delegating to the token service", func(t *testing.T) {
		idp := idptest.Start(t, idptest.Demo())
		const tsSecret, tsClientSecret = "the token service's AUTHGATE_SECRET, 32 bytes or more", "venue-api-secret"
		secrets.add("the token service's AUTHGATE_SECRET", tsSecret)
		secrets.add("TOKEN_SERVICE_CLIENT_SECRET", tsClientSecret)
		var tsLogs, logs logBuffer
		ts, stopTokenService := startTokenService(t, &tsLogs,
			"ISSUER_URL="+idp.Issuer(), "AUDIENCE="+idptest.DemoAPI, "FIRST_PARTY_CLIENTS=venue-app",
			"SERVICE_CLIENTS=venue-api:"+tsClientSecret, "MEMCACHE_SERVERS="+mc.Addr(), "AUTHGATE_SECRET="+tsSecret)
		p := quickstart.Start(t, withHooks(hooks{logger: logs.logger()}), map[string]string{
			"ISSUER_URL": idp.Issuer(), "AUDIENCE": idptest.DemoAPI, "CACHE_NAMESPACE": "delegating",
			"CLIENT_ID": "venue-app", "CLIENT_SECRET": "venue-app-secret",
			"MEMCACHE_SERVERS": mc.Addr(), "AUTHGATE_SECRET": "the venue's AUTHGATE_SECRET, 32 bytes or more",
			"TOKEN_SERVICE_URL": ts, "TOKEN_SERVICE_CLIENT_ID": "venue-api", "TOKEN_SERVICE_CLIENT_SECRET": tsClientSecret,
		})
		token := login(t, p.URL, "alice", "org_acme")
		expect(t, "whoami", 200, "GET", p.URL+"/v1/whoami", token, nil)
		expect(t, "a forged token", 401, "GET", p.URL+"/v1/whoami", token+"x", nil)
		status, body := call(t, "POST", p.URL+"/auth/refresh", token, nil)
		if status != 200 {
			t.Fatalf("refresh: %d %v", status, body)
		}
		next := body["access_token"].(string)
		idp.SetFault(idptest.EndpointToken, idptest.FaultError)
		expect(t, "a refresh, the provider failing", 503, "POST", p.URL+"/auth/refresh", next, nil)
		idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
		idp.SetFault(idptest.EndpointRevoke, idptest.FaultUnavailable)
		expect(t, "a logout whose revocation fails", 204, "POST", p.URL+"/auth/logout", next, nil)
		idp.SetFault(idptest.EndpointRevoke, idptest.FaultNone)
		stopTokenService()
		expect(t, "a new token, the token service down", 503, "GET", p.URL+"/v1/whoami", login(t, p.URL, "bob", "org_globex"), nil)
		p.Stop()
		secrets.refreshTokens(idp)
		logs.check(t, "the delegating venue's", secrets, true)
		tsLogs.check(t, "the token service's", secrets, false) // it has no failure of its own to log here
	})
}

// failures drives the venue at api through the answers that log: the
// provider refusing, failing or not answering logins, refreshes and
// logouts, forged and replayed credentials, a DPoP-bound token.
func failures(t *testing.T, api string, idp *idptest.Server) {
	t.Helper()
	token := login(t, api, "bob", "org_globex")
	expect(t, "a wrong password", 401, "POST", api+"/auth/login", "", url.Values{"username": {"bob"}, "password": {"alice-password"}})
	expect(t, "a forged token", 401, "GET", api+"/v1/whoami", token[:len(token)-4]+"AAAA", nil)
	expect(t, "a refresh with a forged token", 401, "POST", api+"/auth/refresh", token+"x", nil)

	idp.SetTokenError(idptest.TokenError{Status: 403, Code: "mfa_required"})
	expect(t, "a login needing MFA", 403, "POST", api+"/auth/login", "", url.Values{"username": {"bob"}, "password": {"bob-password"}})
	idp.SetTokenError(idptest.TokenError{Status: 429, Code: "too_many_requests", RetryAfter: 3 * time.Second})
	expect(t, "a refresh, the provider limiting", 429, "POST", api+"/auth/refresh", token, nil)
	idp.SetTokenError(idptest.TokenError{})

	idp.SetFault(idptest.EndpointToken, idptest.FaultUnavailable)
	expect(t, "a login, the provider down", 503, "POST", api+"/auth/login", "", url.Values{"username": {"bob"}, "password": {"bob-password"}})
	expect(t, "a refresh, the provider down", 503, "POST", api+"/auth/refresh", token, nil)
	idp.SetFault(idptest.EndpointToken, idptest.FaultError)
	expect(t, "a refresh, the provider failing", 503, "POST", api+"/auth/refresh", token, nil)
	idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
	idp.SetFault(idptest.EndpointRevoke, idptest.FaultError)
	expect(t, "a logout whose revocation fails", 204, "POST", api+"/auth/logout", token, nil)
	idp.SetFault(idptest.EndpointRevoke, idptest.FaultNone)

	key, err := idptest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	bound := machineToken(t, idp.TokenURL(), key)
	proof, _ := key.Proof(http.MethodGet, api+"/v1/venues", bound, "")
	for _, want := range []int{200, 401} { // then replayed
		if status, body := send(t, http.MethodGet, api+"/v1/venues", "DPoP "+bound, proof, nil); status != want {
			t.Errorf("a DPoP request: %d %v, want %d", status, body, want)
		}
	}
	expect(t, "the bound token as a bearer token", 401, "GET", api+"/v1/venues", bound, nil)
}

// login logs user in at api and returns the access token.
func login(t *testing.T, api, user, org string) string {
	t.Helper()
	status, body := call(t, "POST", api+"/auth/login", "", url.Values{"username": {user}, "password": {user + "-password"}, "organization": {org}})
	if status != 200 {
		t.Fatalf("login %s: %d %v", user, status, body)
	}
	return body["access_token"].(string)
}

// expect makes a request that must be answered want.
func expect(t *testing.T, what string, want int, method, u, token string, form url.Values) {
	t.Helper()
	if status, body := call(t, method, u, token, form); status != want {
		t.Errorf("%s: %d %v, want %d", what, status, body, want)
	}
}

// withHooks is the program's run with h.
func withHooks(h hooks) quickstart.RunFunc {
	return func(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error {
		return serve(ctx, getenv, out, ready, h)
	}
}

// secrets are the values no log line may hold, each with what it is.
type secrets struct {
	mu     sync.Mutex // guards values
	values map[string]string
}

func newSecrets() *secrets { return &secrets{values: map[string]string{}} }

// demoSecrets are the client secrets and passwords of the venue's embedded
// tenants.
func demoSecrets() *secrets {
	s := newSecrets()
	for _, c := range append(append(idptest.Demo().Clients, managementClient), roomsmartTenant().Clients...) {
		s.add("the client secret of "+c.ID, c.Secret)
	}
	for _, u := range idptest.Demo().Users {
		s.add("the password of "+u.Username, u.Password)
	}
	return s
}

func (s *secrets) add(what, value string) {
	if value == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[value] = what
}

// refreshTokens adds every refresh token idp has issued to a user of the
// demo tenant or RoomSMart through any of their clients.
func (s *secrets) refreshTokens(idp *idptest.Server) {
	users := append(idptest.Demo().Users, roomsmartTenant().Users...)
	clients := append(append(idptest.Demo().Clients, managementClient), roomsmartTenant().Clients...)
	for _, u := range users {
		for _, c := range clients {
			for _, tok := range idp.RefreshTokens(u.ID, c.ID) {
				s.add("a refresh token of "+u.ID+" through "+c.ID, tok)
			}
		}
	}
}

// jwtShape matches a compact JWS whose header and payload are JSON
// objects: access and ID tokens, DPoP proofs.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.`)

// logBuffer holds a program's log as zap's production logger writes it
// (JSON, one entry a line), at every level.
type logBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) Sync() error { return nil }

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logger writes to l as zap.NewProduction does, debug entries included.
func (l *logBuffer) logger() *zap.Logger {
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), l, zapcore.DebugLevel),
		zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel))
}

// check fails t for every line of l that holds a JWT or one of secrets'
// values, and when l holds no line (nothing was captured) or, with
// warned, no warning (the failures driven did not reach the log).
func (l *logBuffer) check(t *testing.T, whose string, s *secrets, warned bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.values) < 10 {
		t.Fatalf("only %d secrets to look for", len(s.values))
	}
	lines := strings.Split(strings.TrimSpace(l.String()), "\n")
	warnings := 0
	for i, line := range lines {
		var entry struct{ Level string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("%s log line %d is not JSON: %.300s", whose, i+1, line)
		}
		if entry.Level == "warn" || entry.Level == "error" {
			warnings++
		}
		if m := jwtShape.FindString(line); m != "" {
			t.Errorf("%s log line %d holds a JWT (%s…): %.300s", whose, i+1, m, line)
		}
		for v, what := range s.values {
			if strings.Contains(line, v) {
				t.Errorf("%s log line %d holds %s: %.300s", whose, i+1, what, line)
			}
		}
	}
	if len(lines) < 3 || warned && warnings == 0 {
		t.Errorf("%s log has %d lines, %d warnings or errors: the run did not reach it\n%s", whose, len(lines), warnings, l.String())
	}
	t.Logf("%s log: %d lines (%d warnings or errors) checked for JWTs and %d secrets", whose, len(lines), warnings, len(s.values))
}
