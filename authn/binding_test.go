package authn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/tokenvalidator"
)

// tickets is a second product API of the demo tenant (seed 003: several
// APIs, one provider).
const tickets = "https://api.tickets.example"

// twoAPIs is the demo tenant with a second API.
func twoAPIs() idptest.Config {
	cfg := idptest.Demo()
	cfg.APIs = append(cfg.APIs, idptest.API{Identifier: tickets, Scopes: []string{"read:venues"}})
	return cfg
}

// jwksFor returns a validator for idp's tokens for audiences.
func jwksFor(t testing.TB, idp *idptest.Server, audiences ...string) tokenvalidator.Validator {
	t.Helper()
	v, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: audiences},
		tokenvalidator.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func tokenFor(t testing.TB, idp *idptest.Server, audience string) string {
	t.Helper()
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: audience,
		Scopes: []string{"read:venues"}, Organization: "org_acme"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := idp.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustRefuse(t *testing.T, a *authn.Authenticator, tok, who string) {
	t.Helper()
	if p, err := a.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("%s: accepted (%v, %v), want invalid", who, p, err)
	}
}

// TestPolicyBinding: two services (two gates) with different audiences, or
// different issuers, sharing memcached, the secret and the namespace, refuse
// each other's tokens whichever of them saw the token first.
func TestPolicyBinding(t *testing.T) {
	mc := memcachedtest.Start(t)
	dev := idptest.Start(t, twoAPIs())
	intTenant := idptest.Start(t, twoAPIs())
	e := &env{t: t, idp: dev, mc: mc}
	for _, tc := range []struct {
		name         string
		first, other func() tokenvalidator.Validator
		tokFirst     func() string
		tokOther     func() string
	}{
		{
			name:     "audiences",
			first:    func() tokenvalidator.Validator { return jwksFor(t, dev, api) },
			other:    func() tokenvalidator.Validator { return jwksFor(t, dev, tickets) },
			tokFirst: func() string { return tokenFor(t, dev, api) },
			tokOther: func() string { return tokenFor(t, dev, tickets) },
		},
		{
			name:     "issuers",
			first:    func() tokenvalidator.Validator { return jwksFor(t, dev, api) },
			other:    func() tokenvalidator.Validator { return jwksFor(t, intTenant, api) },
			tokFirst: func() string { return tokenFor(t, dev, api) },
			tokOther: func() string { return tokenFor(t, intTenant, api) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := e.instance(tc.first(), true, authn.Config{})
			other := e.instance(tc.other(), true, authn.Config{})
			// The first service caches its token in memcached; the other
			// must still refuse it.
			tok := tc.tokFirst()
			mustAuth(t, first.a, tok)
			mustRefuse(t, other.a, tok, "the other service, after the first cached the token")
			// The other order: the other service caches its own token first.
			tok = tc.tokOther()
			mustAuth(t, other.a, tok)
			mustRefuse(t, first.a, tok, "the first service, after the other cached its token")
			if n := lookups(first.reg, "memcache", "hit") + lookups(other.reg, "memcache", "hit"); n != 0 {
				t.Errorf("%v shared hits across policies", n)
			}
		})
	}
}

// TestSharedHitRechecksPolicy: an entry that sits under our own binding yet
// holds a Principal of another issuer or audience — a broken binding, which
// only someone holding the secret could write — is never served.
func TestSharedHitRechecksPolicy(t *testing.T) {
	e := newEnv(t)
	shared := e.memcache(nil)
	tok := e.token()
	for name, p := range map[string]*claims.Principal{
		"another audience": {Subject: "auth0|mallory", Issuer: e.idp.Issuer(), Audience: []string{tickets}, ExpiresAt: e.idp.Now().Add(time.Hour)},
		"another issuer":   {Subject: "auth0|mallory", Issuer: "https://evil.example/", Audience: []string{api}, ExpiresAt: e.idp.Now().Add(time.Hour)},
	} {
		in := e.instance(e.jwks(), true, authn.Config{})
		if err := shared.Set(context.Background(), authn.SharedDigest(in.a, tok),
			cache.Entry{Value: authn.EncodePrincipal(p), Expires: p.ExpiresAt}); err != nil {
			t.Fatal(err)
		}
		if got := mustAuth(t, in.a, tok); got.Subject != "auth0|alice" {
			t.Errorf("%s: served %q from memcached", name, got.Subject)
		}
		if lookups(in.reg, "memcache", "rejected") != 1 {
			t.Errorf("%s: the entry was not counted as rejected", name)
		}
	}
}

// TestEnricherNameBindsEntries: the same validator with enrichers of other
// names does not share entries: a new enricher version is not served what
// the old one computed.
func TestEnricherNameBindsEntries(t *testing.T) {
	e := newEnv(t)
	enricher := func(version string) authn.Enricher {
		return authn.EnricherFunc(func(context.Context, *claims.Principal) (map[string][]string, error) {
			return map[string][]string{"version": {version}}, nil
		})
	}
	v1 := e.instance(e.jwks(), true, authn.Config{}, authn.WithEnricher("datasets-v1", enricher("1")))
	v2 := e.instance(e.jwks(), true, authn.Config{}, authn.WithEnricher("datasets-v2", enricher("2")))
	tok := e.token()
	mustAuth(t, v1.a, tok)
	if got := mustAuth(t, v2.a, tok).Enrichment["version"]; len(got) != 1 || got[0] != "2" {
		t.Errorf("the v2 service was served %v", got)
	}
	if _, err := authn.NewAuthenticator(e.jwks(), authn.Config{}, authn.WithEnricher("", enricher("x"))); err == nil {
		t.Error("an enricher without a name was accepted")
	}
}
