package authn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/tracing/tracingtest"
	"github.com/authgate/authgate/refresh"
	"github.com/authgate/authgate/tokenvalidator"
)

// awaitSpan waits for the one span called name, for a validation whose
// caller has left.
func awaitSpan(t *testing.T, rec *tracingtest.Recorder, name string) tracetest.SpanStub {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(rec.Named(name)) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return rec.One(t, name)
}

// TestTraceValidation: a token that misses the in-process tier is
// validated under an "authgate.validate" span, a child of the request's,
// saying the token's kind, the tier asked, the outcome (and the reason of
// a refusal) and the issuer of an accepted token; a hit makes no span.
func TestTraceValidation(t *testing.T) {
	e := newEnv(t)
	rec := tracingtest.New(t)
	in := e.instance(e.jwks(), false, authn.Config{}, authn.WithTracerProvider(rec))
	token := e.token()

	ctx, request := rec.Request(context.Background())
	if _, err := in.a.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	request.End()
	v := rec.One(t, "authgate.validate") // ended before Authenticate returned
	tracingtest.ChildOf(t, v, request.SpanContext())
	tracingtest.WantAttrs(t, v, map[string]string{"authgate.token.kind": "jwt", "authgate.cache.tier": "memory",
		"authgate.outcome": "ok", "authgate.issuer": e.idp.Issuer()})

	rec.Reset()
	ctx, request = rec.Request(context.Background())
	if _, err := in.a.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := in.a.Authenticate(ctx, "not.a.token"); !errors.Is(err, claims.ErrInvalidToken) {
		t.Fatalf("a malformed token: %v", err)
	}
	request.End()
	v = rec.One(t, "authgate.validate") // the hit made none
	tracingtest.WantAttrs(t, v, map[string]string{"authgate.outcome": "invalid", "authgate.reason": "malformed"})
	if v.Status.Code != codes.Error {
		t.Errorf("a refusal's span has status %v", v.Status)
	}
	for where, text := range tracingtest.Texts(rec.Spans()) {
		if strings.Contains(text, token) || strings.Contains(text, "not.a.token") {
			t.Errorf("%s holds the token: %q", where, text)
		}
	}
}

// TestTraceDetachedValidation: the validation runs on a context of its
// own, and goes on when the request that started it leaves; its span is
// still a child of that request's span, and the provider call it makes a
// child of its own.
func TestTraceDetachedValidation(t *testing.T) {
	e := newEnv(t)
	rec := tracingtest.New(t)
	intro, err := tokenvalidator.NewIntrospection(tokenvalidator.IntrospectionConfig{
		URL: e.idp.IntrospectionURL(), ClientID: "venue-app", ClientSecret: "venue-app-secret", Timeout: 5 * time.Second,
	}, tokenvalidator.WithClock(e.idp.Now), tokenvalidator.WithTracerProvider(rec))
	if err != nil {
		t.Fatal(err)
	}
	in := e.instance(intro, false, authn.Config{}, authn.WithTracerProvider(rec))
	e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultHang)
	ctx, request := rec.Request(context.Background())
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for e.idp.Calls(idptest.EndpointIntrospect) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel() // the caller leaves while the provider is asked
	}()
	if _, err := in.a.Authenticate(ctx, e.opaque()); !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller left: %v", err)
	}
	request.End()
	e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultNone)
	v := awaitSpan(t, rec, "authgate.validate")
	tracingtest.ChildOf(t, v, request.SpanContext())
	tracingtest.WantAttrs(t, v, map[string]string{"authgate.token.kind": "opaque", "authgate.outcome": "ok"})
	call := rec.One(t, "POST")
	tracingtest.ChildOf(t, call, v.SpanContext)
	tracingtest.WantAttrs(t, call, map[string]string{"url.full": e.idp.IntrospectionURL(), "http.response.status_code": "200"})
}

// TestTraceSetup: Setup passes the TracerProvider to what it builds: a
// validation's memcached calls are children of its span, and a refresh
// is an "authgate.refresh" span holding its call to the token endpoint.
func TestTraceSetup(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	mc := memcachedtest.Start(t)
	rec := tracingtest.New(t)
	g := setup(t, authn.SetupConfig{Issuer: idp.Issuer(), Audience: api, ClientID: "venue-app", ClientSecret: "venue-app-secret",
		MemcacheServers: []string{mc.Addr()}, Memcache: patient, Secret: []byte(secret)}, authn.WithTracerProvider(rec))
	if f := rec.One(t, "authgate.jwks.fetch"); tracingtest.Attrs(f)["authgate.jwks.trigger"] != "start" {
		t.Errorf("Setup's key-set fetch: %v", tracingtest.Attrs(f))
	}
	tokens, err := g.Refresh.Login(context.Background(), refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}

	rec.Reset()
	ctx, request := rec.Request(context.Background())
	if _, err := g.Authenticator.Authenticate(ctx, tokens.AccessToken); err != nil {
		t.Fatal(err)
	}
	request.End()
	v := rec.One(t, "authgate.validate")
	tracingtest.WantAttrs(t, v, map[string]string{"authgate.cache.tier": "memcached", "authgate.outcome": "ok"})
	for _, s := range rec.Spans() {
		if strings.HasPrefix(s.Name, "authgate.memcached.") {
			tracingtest.ChildOf(t, s, v.SpanContext)
		}
	}
	if len(rec.Named("authgate.memcached.get")) == 0 || len(rec.Named("authgate.memcached.add")) == 0 {
		t.Errorf("spans %s: want a validation's memcached get and add", tracingtest.Names(rec.Spans()))
	}

	rec.Reset()
	ctx, request = rec.Request(context.Background())
	if _, err := g.Refresh.Refresh(ctx, tokens.AccessToken); err != nil {
		t.Fatal(err)
	}
	request.End()
	r := rec.One(t, "authgate.refresh")
	tracingtest.ChildOf(t, r, request.SpanContext())
	tracingtest.WantAttrs(t, r, map[string]string{"authgate.refresh.outcome": "ok", "authgate.refresh.waited": "false",
		"authgate.issuer": idp.Issuer()})
	post := rec.One(t, "POST")
	tracingtest.ChildOf(t, post, r.SpanContext)
	tracingtest.WantAttrs(t, post, map[string]string{"url.full": idp.TokenURL(), "http.response.status_code": "200"})
	for where, text := range tracingtest.Texts(rec.Spans()) {
		if strings.Contains(text, tokens.AccessToken) || strings.Contains(text, "venue-app-secret") {
			t.Errorf("%s holds a secret: %q", where, text)
		}
	}
}

// BenchmarkTracedMiss is the cost of tracing a miss (a JWT validated every
// request, no shared tier), beside the same miss untraced: spans made by
// the SDK, sampled and dropped (no exporter), under a request span.
//
//	go test -run '^$' -bench TracedMiss -benchmem -count 6 ./authn
func BenchmarkTracedMiss(b *testing.B) {
	idp := idptest.Start(b, idptest.Demo())
	token := idp.AccessToken(b, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api,
		Organization: "org_acme", Scopes: []string{"read:venues"}})
	noMemory := authn.Config{MemoryTTL: time.Nanosecond}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(context.Background())
	ctx, request := tp.Tracer("bench").Start(context.Background(), "request")
	defer request.End()
	for _, bc := range []struct {
		name string
		opts []authn.Option
	}{
		{"untraced", nil},
		{"traced", []authn.Option{authn.WithTracerProvider(tp)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a := newBenchAuthenticator(b, idp, noMemory, bc.opts...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTraceManagementAPI: with WithTracerProvider, each call Auth0Grants
// makes to the Management API — its client-credentials token, the grants
// listed and deleted — is a client span, a child of the request's, that
// holds no secret or token.
func TestTraceManagementAPI(t *testing.T) {
	cfg := idptest.Demo()
	cfg.Clients = append(cfg.Clients, idptest.Client{ID: "admin", Secret: "admin-secret", Kind: idptest.ClientMachine,
		Grants: []string{"client_credentials"}, ManagementScopes: []string{"read:grants", "delete:grants"}})
	idp := idptest.Start(t, cfg)
	rec := tracingtest.New(t)
	grants, err := authn.NewAuth0Grants(authn.Auth0GrantsConfig{Domain: idp.Issuer(), ClientID: "admin", ClientSecret: "admin-secret"},
		authn.WithTracerProvider(rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx, request := rec.Request(context.Background())
	if err := grants.DeleteGrants(ctx, "auth0|alice", "partner-app"); err != nil {
		t.Fatal(err)
	}
	request.End()
	var paths []string
	for _, s := range rec.Spans() {
		if s.Name == "request" {
			continue
		}
		tracingtest.ChildOf(t, s, request.SpanContext())
		paths = append(paths, s.Name+" "+tracingtest.Attrs(s)["url.full"])
	}
	if got := strings.Join(paths, ", "); !strings.Contains(got, "POST "+idp.TokenURL()) || !strings.Contains(got, "GET "+idp.Issuer()+"api/v2/grants") {
		t.Errorf("spans: %s; want the token request and the grants listed", got)
	}
	for where, text := range tracingtest.Texts(rec.Spans()) {
		if strings.Contains(text, "admin-secret") || strings.Contains(text, "eyJ") {
			t.Errorf("%s holds a secret or a token: %q", where, text)
		}
	}
}
