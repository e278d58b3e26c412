package tokenvalidator_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/tracing/tracingtest"
	"github.com/authgate/authgate/tokenvalidator"
)

// TestTraceKeySetFetches: the first fetch is a child of the span of
// NewJWKS's context, one forced by an unknown kid a child of the request's;
// each "authgate.jwks.fetch" names the issuer, what asked for it, the JWKS
// URL and the number of keys, and holds the discovery and JWKS calls as
// client spans. A failed fetch is a failed span.
func TestTraceKeySetFetches(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	rec := tracingtest.New(t)
	start, setup := rec.Request(context.Background())
	v, err := tokenvalidator.NewJWKS(start, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{api},
		UnknownKeyInterval: time.Nanosecond}, tokenvalidator.WithClock(idp.Now), tokenvalidator.WithTracerProvider(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	setup.End()
	fetch := rec.One(t, "authgate.jwks.fetch")
	tracingtest.ChildOf(t, fetch, setup.SpanContext())
	tracingtest.WantAttrs(t, fetch, map[string]string{"authgate.issuer": idp.Issuer(), "authgate.jwks.trigger": "start",
		"url.full": idp.JWKSURL(), "authgate.jwks.keys": "1"})
	gets := rec.Named("GET")
	if len(gets) != 2 {
		t.Fatalf("%d GET spans (discovery, JWKS), want 2: %s", len(gets), tracingtest.Names(rec.Spans()))
	}
	for _, g := range gets {
		tracingtest.ChildOf(t, g, fetch.SpanContext)
		tracingtest.WantAttrs(t, g, map[string]string{"http.response.status_code": "200"})
	}

	rec.Reset()
	if _, err := idp.RotateKey("ES256"); err != nil {
		t.Fatal(err)
	}
	token := mint(t, idp, aliceClaims(t, idp))
	ctx, request := rec.Request(context.Background())
	if _, err := v.Validate(ctx, token); err != nil {
		t.Fatal(err)
	}
	request.End()
	fetch = rec.One(t, "authgate.jwks.fetch")
	tracingtest.ChildOf(t, fetch, request.SpanContext())
	tracingtest.WantAttrs(t, fetch, map[string]string{"authgate.jwks.trigger": "unknown_kid", "authgate.jwks.keys": "2"})
	tracingtest.ChildOf(t, rec.One(t, "GET"), fetch.SpanContext)

	rec.Reset()
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultError)
	_, _ = idp.RotateKey("ES256")
	ctx, request = rec.Request(context.Background())
	if _, err := v.Validate(ctx, mint(t, idp, aliceClaims(t, idp))); !errors.Is(err, claims.ErrUnavailable) {
		t.Fatalf("a key-set fetch failing: %v, want unavailable", err)
	}
	request.End()
	fetch = rec.One(t, "authgate.jwks.fetch")
	if fetch.Status.Code != codes.Error || !strings.Contains(fetch.Status.Description, "JWKS") {
		t.Errorf("failed fetch's status %+v, want an error", fetch.Status)
	}
	tracingtest.WantAttrs(t, rec.One(t, "GET"), map[string]string{"http.response.status_code": "500"})
	for where, text := range tracingtest.Texts(rec.Spans()) {
		if strings.Contains(text, token) {
			t.Errorf("%s holds the token", where)
		}
	}
}

// TestTraceProviderCalls: introspection, userinfo and the token service
// are each a client span, a child of the request's, with the method, the
// URL and the status; neither the token nor the client secret is in any.
func TestTraceProviderCalls(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	rec := tracingtest.New(t)
	opts := []tokenvalidator.Option{tokenvalidator.WithClock(idp.Now), tokenvalidator.WithTracerProvider(rec)}
	intro, err := tokenvalidator.NewIntrospection(tokenvalidator.IntrospectionConfig{
		URL: idp.IntrospectionURL(), ClientID: "venue-app", ClientSecret: "venue-app-secret", ClientAuthInBody: true,
		Issuer: idp.Issuer(), Audiences: []string{api}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	info, err := tokenvalidator.NewUserInfo(tokenvalidator.UserInfoConfig{URL: idp.UserinfoURL(), Issuer: idp.Issuer()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := tokenvalidator.NewRemote(tokenvalidator.RemoteConfig{URL: idp.IntrospectionURL(), ClientID: "venue-app",
		ClientSecret: "venue-app-secret", Issuers: []string{idp.Issuer()}, Audiences: []string{api}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	token := idp.OpaqueToken(aliceClaims(t, idp))
	for _, c := range []struct {
		name   string
		v      tokenvalidator.Validator
		method string
		url    string
	}{
		{"introspection", intro, "POST", idp.IntrospectionURL()},
		{"userinfo", info, "GET", idp.UserinfoURL()},
		{"token service", remote, "POST", idp.IntrospectionURL()},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.Reset()
			ctx, request := rec.Request(context.Background())
			if _, err := c.v.Validate(ctx, token); err != nil {
				t.Fatal(err)
			}
			if _, err := c.v.Validate(ctx, token+"x"); !errors.Is(err, claims.ErrInvalidToken) {
				t.Fatalf("an unknown token: %v", err)
			}
			request.End()
			calls := rec.Named(c.method)
			if len(calls) != 2 {
				t.Fatalf("%d %s spans, want 2: %s", len(calls), c.method, tracingtest.Names(rec.Spans()))
			}
			for _, s := range calls {
				tracingtest.ChildOf(t, s, request.SpanContext())
				tracingtest.WantAttrs(t, s, map[string]string{"http.request.method": c.method, "url.full": c.url})
				if code := tracingtest.Attrs(s)["http.response.status_code"]; code == "" {
					t.Errorf("no status code in %v", tracingtest.Attrs(s))
				} else if n, _ := strconv.Atoi(code); n >= 500 {
					t.Errorf("the provider answered %d", n)
				}
			}
			for where, text := range tracingtest.Texts(rec.Spans()) {
				if strings.Contains(text, token) || strings.Contains(text, "venue-app-secret") {
					t.Errorf("%s holds a secret: %q", where, text)
				}
			}
		})
	}
}

// TestTraceOff: without WithTracerProvider a validator makes no span, even
// in a traced request.
func TestTraceOff(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	rec := tracingtest.New(t)
	ctx, request := rec.Request(context.Background())
	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{api}},
		tokenvalidator.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Validate(ctx, mint(t, idp, aliceClaims(t, idp))); err != nil {
		t.Fatal(err)
	}
	request.End()
	if spans := rec.Spans(); len(spans) != 1 {
		t.Errorf("spans %s, want the request's alone", tracingtest.Names(spans))
	}
}
