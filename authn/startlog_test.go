package authn_test

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/middleware"
)

// TestSetupLogsWhatItServes: Setup says at info, once, what the Gate
// serves and where each issuer's keys come from — the JWKS URL discovery
// named, or the configured one — and, delegating, the token service's URL
// with its password masked.
func TestSetupLogsWhatItServes(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	for _, tc := range []struct {
		name    string
		cfg     authn.SetupConfig
		jwksURL string
		ready   map[string]any
	}{
		{"discovered keys", authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI, DPoP: middleware.DPoPAllowed},
			idp.JWKSURL(), map[string]any{"namespace": "authgate", "dpop": "allowed"}},
		{"configured keys, delegating", authn.SetupConfig{
			Issuers:      []authn.IssuerConfig{{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI}, JWKSURL: idp.JWKSURL() + "?configured"}},
			Namespace:    "prod/venue-api",
			TokenService: &authn.TokenServiceConfig{URL: "http://venue:hunter2@tokenservice:8081/introspect", ClientID: "venue-api", ClientSecret: "s"},
		}, idp.JWKSURL() + "?configured", map[string]any{"namespace": "prod/venue-api", "dpop": "off",
			"token_service": "http://venue:xxxxx@tokenservice:8081/introspect"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			gate, err := authn.Setup(context.Background(), tc.cfg, authn.WithLogger(zap.New(core)))
			if err != nil {
				t.Fatal(err)
			}
			defer gate.Close()
			accepting := logs.FilterMessage("authn: accepting tokens").All()
			if len(accepting) != 1 {
				t.Fatalf("%d lines saying what is accepted, want 1: %v", len(accepting), logs.All())
			}
			fields := accepting[0].ContextMap()
			for k, want := range map[string]any{"issuer": idp.Issuer(), "jwks_url": tc.jwksURL, "preset": "auth0", "opaque_tokens": true, "logins": false} {
				if fields[k] != want {
					t.Errorf("accepting tokens: %s = %v, want %v", k, fields[k], want)
				}
			}
			ready := logs.FilterMessage("authn: gate ready").All()
			if len(ready) != 1 || ready[0].Level != zapcore.InfoLevel {
				t.Fatalf("gate ready lines: %v", ready)
			}
			for k, want := range tc.ready {
				if got := ready[0].ContextMap()[k]; got != want {
					t.Errorf("gate ready: %s = %v, want %v", k, got, want)
				}
			}
			if _, ok := ready[0].ContextMap()["token_service"]; !ok && tc.cfg.TokenService != nil {
				t.Error("gate ready does not name the token service")
			}
		})
	}
}
