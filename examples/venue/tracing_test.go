package main

import (
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/quickstart"
	"github.com/authgate/authgate/internal/tracing/tracingtest"
)

// TestNoSecretInSpans runs the venue traced, with a real memcached,
// through its printed walk-through (password and code logins, API calls
// that miss and hit, refreshes, logouts, connections, partners, a
// revocation) and the provider refusing and failing, then reads every span
// it made: each kind is there, and no name, attribute, status or event
// holds an access, ID or refresh token, a DPoP proof, a client secret, a
// user's password or AUTHGATE_SECRET.
func TestNoSecretInSpans(t *testing.T) {
	mc := memcachedtest.Start(t)
	secrets := demoSecrets()
	const secret = "the venue's AUTHGATE_SECRET, 32 bytes or more"
	secrets.add("AUTHGATE_SECRET", secret)
	rec := tracingtest.New(t)
	var providers []*idptest.Server
	p := quickstart.Start(t, withHooks(hooks{logger: zap.NewNop(), tracerProvider: rec, started: func(idp *idptest.Server) {
		providers = append(providers, idp)
	}}), map[string]string{"MEMCACHE_SERVERS": mc.Addr(), "AUTHGATE_SECRET": secret, "DPOP": "allowed"})
	if lines := quickstart.Replay(t, p.Output()); lines < 20 {
		t.Fatalf("only %d command lines printed:\n%s", lines, p.Output())
	}
	failures(t, p.URL, providers[0])
	p.Stop()
	for _, idp := range providers {
		secrets.refreshTokens(idp)
	}

	spans := rec.Spans()
	for _, name := range []string{"authgate.validate", "authgate.jwks.fetch", "authgate.refresh",
		"authgate.memcached.get", "authgate.memcached.add", "GET", "POST"} {
		if len(rec.Named(name)) == 0 {
			t.Errorf("no %s span among %d: %s", name, len(spans), tracingtest.Names(spans))
		}
	}
	texts := tracingtest.Texts(spans)
	for where, text := range texts {
		if m := jwtShape.FindString(text); m != "" {
			t.Errorf("%s holds a JWT (%s…)", where, m)
		}
		for v, what := range secrets.values {
			if strings.Contains(text, v) {
				t.Errorf("%s holds %s: %.300s", where, what, text)
			}
		}
	}
	t.Logf("%d spans, %d texts checked for JWTs and %d secrets", len(spans), len(texts), len(secrets.values))
}
