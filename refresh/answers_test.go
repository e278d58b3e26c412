package refresh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/refresh"
)

// providerAnswer is one way the provider can answer, and what the
// service's handlers must make of it.
type providerAnswer struct {
	name  string
	fault idptest.Fault      // set on the token endpoint
	err   idptest.TokenError // or this answer

	// What the client gets at login (code exchange answers the same) and
	// at refresh; status 0 means the same as login.
	login, refresh want
}

type want struct {
	status  int
	code    string
	retry   string // Retry-After
	outcome string // the metric's outcome label
	names   string // a word the description must hold
}

// unavailable is the answer for the provider not answering in time,
// failing or asking to be left alone.
var unavailable = want{status: 503, code: "temporarily_unavailable", retry: "5", outcome: "provider_unavailable", names: "identity provider"}

func withRetry(w want, retry string) want { w.retry = retry; return w }

// The answer table of issue 10, row by row.
var providerAnswers = []providerAnswer{
	{name: "connection dropped", fault: idptest.FaultDrop, login: unavailable},
	{name: "no answer before Timeout", fault: idptest.FaultHang, login: unavailable},
	{name: "500", fault: idptest.FaultError, login: unavailable},
	{name: "503 with Retry-After", fault: idptest.FaultUnavailable, login: withRetry(unavailable, "1")},
	{name: "503 temporarily_unavailable", err: idptest.TokenError{Status: 503, Code: "temporarily_unavailable", RetryAfter: 9 * time.Second},
		login: withRetry(unavailable, "9")},
	{name: "invalid_grant", err: idptest.TokenError{Status: 403, Code: "invalid_grant"},
		login:   want{status: 401, code: "invalid_grant", outcome: "login_required"},
		refresh: want{status: 401, code: "invalid_token", outcome: "login_required"}},
	{name: "access_denied", err: idptest.TokenError{Status: 403, Code: "access_denied"},
		login: want{status: 403, code: "access_denied", outcome: "denied"}},
	{name: "mfa_required", err: idptest.TokenError{Status: 403, Code: "mfa_required"},
		login: want{status: 403, code: "mfa_required", outcome: "denied"}},
	{name: "consent_required", err: idptest.TokenError{Status: 400, Code: "consent_required"},
		login: want{status: 403, code: "consent_required", outcome: "denied"}},
	{name: "unknown code, 401", err: idptest.TokenError{Status: 401, Code: "unauthorized"},
		login: want{status: 403, code: "unauthorized", outcome: "denied"}},
	{name: "invalid_request", err: idptest.TokenError{Status: 400, Code: "invalid_request"},
		login:   want{status: 400, code: "invalid_request", outcome: "invalid_request"},
		refresh: want{status: 502, code: "invalid_request", outcome: "misconfigured"}},
	{name: "invalid_scope", err: idptest.TokenError{Status: 400, Code: "invalid_scope"},
		login: want{status: 502, code: "invalid_scope", outcome: "misconfigured"}},
	{name: "unauthorized_client", err: idptest.TokenError{Status: 403, Code: "unauthorized_client"},
		login: want{status: 502, code: "unauthorized_client", outcome: "misconfigured"}},
	{name: "invalid_client", err: idptest.TokenError{Status: 401, Code: "invalid_client"},
		login: want{status: 502, code: "invalid_client", outcome: "misconfigured"}},
	{name: "unsupported_grant_type", err: idptest.TokenError{Status: 400, Code: "unsupported_grant_type"},
		login: want{status: 502, code: "unsupported_grant_type", outcome: "misconfigured"}},
	{name: "404 without a code", err: idptest.TokenError{Status: 404, Code: ""},
		login: want{status: 502, code: "server_error", outcome: "misconfigured"}},
	{name: "429 too_many_requests", err: idptest.TokenError{Status: 429, Code: "too_many_requests", RetryAfter: 30 * time.Second},
		login: want{status: 429, code: "too_many_requests", retry: "30", outcome: "rate_limited"}},
	{name: "429 without Retry-After", err: idptest.TokenError{Status: 429},
		login: want{status: 429, code: "too_many_requests", retry: "5", outcome: "rate_limited"}},
	{name: "too_many_requests with another status", err: idptest.TokenError{Status: 400, Code: "too_many_requests", RetryAfter: 2 * time.Second},
		login: want{status: 429, code: "too_many_requests", retry: "2", outcome: "rate_limited"}},
}

// freeText is the provider's error_description in every injected error:
// it must never reach a client.
const freeText = "provider free text that stays inside"

// TestAnswerTable drives the provider through every answer of the table
// and checks what login, code exchange and refresh make of each: status,
// error code, Retry-After, the description naming who is at fault, the
// metric, a warn log for every 503 and 429 and an error log for every 502.
// The service's HTTP client has no Timeout, so the hung row shows
// Config.Timeout bounding the call by itself (only that row's service has
// a short one: under load on a shared machine a normal answer can take
// longer than 300 ms).
func TestAnswerTable(t *testing.T) {
	e := newEnv(t)
	core, logs := zapobserver.New(zapcore.WarnLevel)
	setup := e.server(e.service([]refresh.Key{key1}))
	var tokens []string // every access token handed out, to look for in logs
	for _, row := range providerAnswers {
		t.Run(row.name, func(t *testing.T) {
			timeout := 10 * time.Second
			if row.fault == idptest.FaultHang {
				timeout = 300 * time.Millisecond
			}
			reg := prometheus.NewRegistry()
			s := e.serviceWith(func(c *refresh.Config) { c.Timeout = timeout },
				refresh.WithRegisterer(reg), refresh.WithLogger(zap.New(core)))
			srv := e.server(s)
			if row.err.Code != "" || row.err.Status != 0 {
				row.err.Description = freeText
			}
			refreshWant := row.refresh
			if refreshWant.status == 0 {
				refreshWant = row.login
			}
			if refreshWant.code == "invalid_grant" {
				refreshWant.code = "invalid_token"
			}
			set := func() { e.idp.SetFault(idptest.EndpointToken, row.fault); e.idp.SetTokenError(row.err) }
			clear := func() {
				e.idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
				e.idp.SetTokenError(idptest.TokenError{})
			}

			// Login.
			set()
			before := countOf(t, reg, "login", row.login.outcome)
			warns, errs := logs.FilterLevelExact(zapcore.WarnLevel).Len(), logs.FilterLevelExact(zapcore.ErrorLevel).Len()
			a := post(t, srv.URL+"/auth/login", nil, url.Values{"username": {"alice"}, "password": {"alice-password"}})
			clear()
			check(t, "login", a, row.login)
			if got := countOf(t, reg, "login", row.login.outcome); got != before+1 {
				t.Errorf("login: the %s count went from %v to %v", row.login.outcome, before, got)
			}
			if (row.login.status == 503 || row.login.status == 429) && logs.FilterLevelExact(zapcore.WarnLevel).Len() == warns {
				t.Errorf("login: a %d without a warn log of its cause", row.login.status)
			}
			if row.login.status == 502 && logs.FilterLevelExact(zapcore.ErrorLevel).Len() == errs {
				t.Error("login: a 502 without an error log for the operator")
			}

			// Code exchange, answered through WriteError.
			code := authorizationCode(t, e)
			set()
			before = countOf(t, reg, "code_exchange", row.login.outcome)
			_, err := s.ExchangeCode(context.Background(), code, "https://venue.example/cb", pkceVerifier)
			clear()
			rec := httptest.NewRecorder()
			s.WriteError(rec, err)
			check(t, "code exchange", recorded(rec), row.login)
			if got := countOf(t, reg, "code_exchange", row.login.outcome); got != before+1 {
				t.Errorf("code exchange: the %s count went from %v to %v", row.login.outcome, before, got)
			}

			// Refresh, of a fresh login.
			tok := login(t, setup, "alice")
			tokens = append(tokens, tok)
			set()
			before = countOf(t, reg, "refresh", refreshWant.outcome)
			a = refreshOnce(t, srv, tok)
			clear()
			check(t, "refresh", a, refreshWant)
			if got := countOf(t, reg, "refresh", refreshWant.outcome); got != before+1 {
				t.Errorf("refresh: the %s count went from %v to %v", refreshWant.outcome, before, got)
			}
			// Nothing was lost: unless the provider ended the login, the
			// same token refreshes once the provider is back. (Not after a
			// hang: the provider may have run the abandoned refresh, see
			// TestTimedOutRefresh.)
			if refreshWant.status != 401 && row.fault != idptest.FaultHang {
				if a := refreshOnce(t, setup, tok); a.status != 200 {
					t.Errorf("refresh after the provider came back: %d %v", a.status, a.body)
				} else {
					tokens = append(tokens, a.body["access_token"].(string))
				}
			}
		})
	}
	secrets := append(append(tokens, e.seen.all()...), "venue-app-secret", "alice-password", freeText)
	for _, entry := range logs.All() {
		line := fmt.Sprint(entry.Message, entry.ContextMap())
		for _, secret := range secrets {
			if strings.Contains(line, secret) {
				t.Fatalf("a log line holds a token, a secret or the provider's free text: %s", line)
			}
		}
	}
}

// check compares an answer with w.
func check(t *testing.T, what string, a answer, w want) {
	t.Helper()
	if a.status != w.status || a.body["error"] != w.code || a.header.Get("Retry-After") != w.retry {
		t.Errorf("%s: %d %v Retry-After %q; want %d %s %q", what, a.status, a.body, a.header.Get("Retry-After"), w.status, w.code, w.retry)
	}
	desc, _ := a.body["error_description"].(string)
	if !strings.Contains(desc, w.names) || strings.Contains(desc, freeText) {
		t.Errorf("%s: error_description %q, want one naming %q and not the provider's text", what, desc, w.names)
	}
	if w.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer realm=") {
		t.Errorf("%s: 401 without a Bearer challenge", what)
	}
}

func recorded(rec *httptest.ResponseRecorder) answer {
	a := answer{status: rec.Code, header: rec.Header()}
	_ = json.Unmarshal(rec.Body.Bytes(), &a.body)
	return a
}

const pkceVerifier = "a-pkce-code-verifier-of-forty-three-chars-or-more"

func authorizationCode(t *testing.T, e *env) string {
	t.Helper()
	code, err := e.idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "venue-app", Username: "alice",
		RedirectURI: "https://venue.example/cb", Audience: api, Scopes: []string{"openid", "offline_access", "read:venues"},
		CodeChallenge: idptest.S256Challenge(pkceVerifier), CodeChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// countOf reads authgate_refresh_requests_total{op, outcome} from reg.
func countOf(t *testing.T, reg *prometheus.Registry, op, outcome string) float64 {
	t.Helper()
	return series(t, reg, "authgate_refresh_requests_total", "op", op, "outcome", outcome)
}

// series reads the counter name{labels…} from reg, labels given as
// name, value pairs; it must exist.
func series(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%q", name, labels)
	return 0
}

// TestStoreAnswers: with the session store down, refresh and logout are
// 503 naming the store, not the provider; a login still hands out its
// access token (see TestStoreDown).
func TestStoreAnswers(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	srv := e.server(e.service([]refresh.Key{key1}, refresh.WithRegisterer(reg)))
	tok := login(t, srv, "alice")
	e.mc.Stop()
	store := want{status: 503, code: "temporarily_unavailable", retry: "5", outcome: "store_unavailable", names: "session store"}
	check(t, "refresh", refreshOnce(t, srv, tok), store)
	check(t, "logout", post(t, srv.URL+"/auth/logout", map[string]string{"Authorization": "Bearer " + tok}, nil), store)
	for _, op := range []string{"refresh", "logout"} {
		if n := countOf(t, reg, op, "store_unavailable"); n != 1 {
			t.Errorf("%s: store_unavailable counted %v times, want 1", op, n)
		}
	}
}

// TestLogoutWhenRevocationFails: a logout whose revocation the provider
// refuses or does not answer (within Timeout, with a client that has none)
// still ends the login here — 204, the records gone, the access token
// refused — and the failure is counted.
func TestLogoutWhenRevocationFails(t *testing.T) {
	for _, f := range []idptest.Fault{idptest.FaultHang, idptest.FaultUnavailable, idptest.FaultDrop} {
		t.Run(f.String(), func(t *testing.T) {
			e := newEnv(t)
			reg := prometheus.NewRegistry()
			srv := e.server(e.serviceWith(func(c *refresh.Config) { c.Timeout = 300 * time.Millisecond }, refresh.WithRegisterer(reg)))
			tok := login(t, e.server(e.service([]refresh.Key{key1})), "alice")
			e.idp.SetFault(idptest.EndpointRevoke, f)
			if a := post(t, srv.URL+"/auth/logout", map[string]string{"Authorization": "Bearer " + tok}, nil); a.status != 204 {
				t.Fatalf("logout: %d %v", a.status, a.body)
			}
			e.idp.SetFault(idptest.EndpointRevoke, idptest.FaultNone)
			if n := len(dumpKeys(t, e.mc.Addr())); n != 0 {
				t.Errorf("%d records left after logout", n)
			}
			if a := refreshOnce(t, srv, tok); a.status != 401 {
				t.Errorf("refresh after logout: %d", a.status)
			}
			if n := series(t, reg, "authgate_refresh_provider_calls_total", "call", "revocation", "outcome", "provider_unavailable"); n != 1 {
				t.Errorf("failed revocations counted: %v, want 1", n)
			}
		})
	}
}
