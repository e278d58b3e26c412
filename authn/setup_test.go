package authn_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/refresh"
)

const secret = "a secret of at least thirty-two bytes"

// patient is a cluster's settings for tests about something else than
// failover: under -race on a loaded machine, a stall of the test process
// longer than the default timeouts (50 ms reads, 100 ms writes) would take
// the one healthy node out, and a login's session would not be stored.
var patient = cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second}

func setup(t *testing.T, cfg authn.SetupConfig, opts ...authn.Option) *authn.Gate {
	t.Helper()
	g, err := authn.Setup(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// TestSetupSeveralIssuers: two tenants (dev and int) behind one Setup,
// sharing memcached, accept each other's tokens — and none forged across
// them: a token naming one issuer signed with the other's key, under either
// key's kid.
func TestSetupSeveralIssuers(t *testing.T) {
	dev, intTenant := idptest.Start(t, idptest.Demo()), idptest.Start(t, idptest.Demo())
	mc := memcachedtest.Start(t)
	cfg := authn.SetupConfig{
		Issuers: []authn.IssuerConfig{
			{Issuer: dev.Issuer(), Audiences: []string{api}},
			{Issuer: intTenant.Issuer(), Audiences: []string{api}},
		},
		MemcacheServers: []string{mc.Addr()},
		Memcache:        patient,
		Secret:          []byte(secret),
	}
	g, other := setup(t, cfg), setup(t, cfg)
	for name, idp := range map[string]*idptest.Server{"dev": dev, "int": intTenant} {
		tok := tokenFor(t, idp, api)
		for _, gate := range []*authn.Gate{g, other} { // the second from memcached
			if p, err := gate.Authenticator.Authenticate(context.Background(), tok); err != nil || p.Issuer != idp.Issuer() {
				t.Errorf("%s token: %v, %v", name, p, err)
			}
		}
	}
	devClaims, err := dev.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api})
	if err != nil {
		t.Fatal(err)
	}
	forge := func(claimsOf map[string]any, signer *idptest.Server, opts ...idptest.MintOption) string {
		tok, err := signer.Mint(claimsOf, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for name, tok := range map[string]string{
		"dev's claims signed by int's key":               forge(devClaims, intTenant),
		"dev's claims signed by int's key, dev's kid":    forge(devClaims, intTenant, idptest.WithHeader("kid", dev.SigningKeyID())),
		"int's iss with dev's kid, signed by dev's key":  forge(with(devClaims, "iss", intTenant.Issuer()), dev),
		"int's iss with int's kid, signed by dev's key":  forge(with(devClaims, "iss", intTenant.Issuer()), dev, idptest.WithHeader("kid", intTenant.SigningKeyID())),
		"an issuer that is neither, signed by dev's key": forge(with(devClaims, "iss", "https://evil.example/"), dev),
	} {
		if _, err := g.Authenticator.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
			t.Errorf("%s: %v, want refused as invalid", name, err)
		}
	}
}

// with returns a copy of c with k set to v.
func with(c map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(c))
	for key, val := range c {
		out[key] = val
	}
	out[k] = v
	return out
}

// TestSetupOpaqueTokens: opaque tokens through Setup go to the issuer's
// introspection endpoint when it has one and the service a client there,
// else to its userinfo endpoint.
func TestSetupOpaqueTokens(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: api, Scopes: []string{"openid", "read:venues"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		client   string
		endpoint idptest.Endpoint
	}{
		{"introspection", "venue-app", idptest.EndpointIntrospect},
		{"userinfo", "", idptest.EndpointUserinfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := authn.SetupConfig{Issuer: idp.Issuer(), Audience: api}
			if tc.client != "" {
				cfg.ClientID, cfg.ClientSecret, cfg.Secret = tc.client, tc.client+"-secret", []byte(secret)
			}
			g := setup(t, cfg)
			idp.ResetCalls()
			p, err := g.Authenticator.Authenticate(context.Background(), idp.OpaqueToken(c))
			if err != nil || p.Subject != "auth0|alice" {
				t.Fatalf("opaque token: %v, %v", p, err)
			}
			if idp.Calls(tc.endpoint) != 1 {
				t.Errorf("%d calls to %s, want 1", idp.Calls(tc.endpoint), tc.endpoint)
			}
			if _, err := g.Authenticator.Authenticate(context.Background(), "an-opaque-token-nobody-issued"); !errors.Is(err, claims.ErrInvalidToken) {
				t.Errorf("unknown opaque token: %v, want invalid", err)
			}
		})
	}
}

// TestSetupErrors: Setup fails fast, naming the problem, unless told to
// start without the provider — then 503 until it answers, and Ready says so.
func TestSetupErrors(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	noKeys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": base + "/", "jwks_uri": base + "/jwks"})
		case "/jwks":
			_, _ = w.Write([]byte(`{"keys":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer noKeys.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name   string
		cfg    authn.SetupConfig
		errHas []string
	}{
		{"no issuer", authn.SetupConfig{Audience: api}, []string{"Issuer"}},
		{"both forms", authn.SetupConfig{Issuer: idp.Issuer(), Audience: api, Issuers: []authn.IssuerConfig{{Issuer: idp.Issuer(), Audiences: []string{api}}}}, []string{"not both"}},
		{"an issuer twice", authn.SetupConfig{Issuers: []authn.IssuerConfig{{Issuer: idp.Issuer(), Audiences: []string{api}}, {Issuer: idp.Issuer(), Audiences: []string{api}}}}, []string{"twice"}},
		{"a client without secret", authn.SetupConfig{Issuer: idp.Issuer(), Audience: api, ClientID: "venue-app", Secret: []byte(secret)}, []string{"ClientSecret"}},
		{"a client without a Secret", authn.SetupConfig{Issuer: idp.Issuer(), Audience: api, ClientID: "venue-app", ClientSecret: "x"}, []string{"Secret"}},
		{"two opaque issuers", authn.SetupConfig{Issuers: []authn.IssuerConfig{{Issuer: idp.Issuer(), Audiences: []string{api}, Opaque: true}, {Issuer: "https://b.example/", Audiences: []string{api}, Opaque: true}}}, []string{"opaque"}},
		{"unreachable", authn.SetupConfig{Issuer: closed.URL + "/", Audience: api}, []string{closed.URL, "discovery"}},
		{"the trailing slash", authn.SetupConfig{Issuer: idp.URL(), Audience: api}, []string{`"` + idp.Issuer() + `"`, `"` + idp.URL() + `"`, "trailing slash"}},
		{"no usable key", authn.SetupConfig{Issuer: noKeys.URL + "/", Audience: api}, []string{noKeys.URL, "key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := authn.Setup(context.Background(), tc.cfg)
			if err == nil {
				g.Close()
				t.Fatal("Setup succeeded")
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}

	t.Run("start without the provider", func(t *testing.T) {
		idp.SetFault(idptest.EndpointDiscovery, idptest.FaultUnavailable)
		defer idp.SetFault(idptest.EndpointDiscovery, idptest.FaultNone)
		g := setup(t, authn.SetupConfig{Issuer: idp.Issuer(), Audience: api, ClientID: "venue-app", ClientSecret: "venue-app-secret",
			Secret: []byte(secret), StartWithoutProvider: true})
		if err := g.Ready(context.Background()); err == nil {
			t.Fatal("Ready with the provider down")
		}
		tok := tokenFor(t, idp, api)
		if _, err := g.Authenticator.Authenticate(context.Background(), tok); !errors.Is(err, claims.ErrUnavailable) {
			t.Fatalf("a token while the provider is down: %v, want unavailable (503)", err)
		}
		if _, err := g.Refresh.Login(context.Background(), refresh.Credentials{Username: "alice", Password: "alice-password"}); !errors.Is(err, claims.ErrUnavailable) {
			t.Fatalf("a login while the provider is down: %v, want unavailable (503)", err)
		}
		idp.SetFault(idptest.EndpointDiscovery, idptest.FaultNone)
		deadline := time.Now().Add(10 * time.Second) // the retry backoff is about a second
		var err error
		for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, err = g.Authenticator.Authenticate(context.Background(), tokenFor(t, idp, api)); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("after the provider came back: %v", err)
		}
		if err := g.Ready(context.Background()); err != nil {
			t.Errorf("Ready after the provider came back: %v", err)
		}
		if _, err := g.Refresh.Login(context.Background(), refresh.Credentials{Username: "alice", Password: "alice-password"}); err != nil {
			t.Errorf("a login after the provider came back: %v", err)
		}
	})
}

// TestLoginRightAfterRotation: the provider rotates its signing key; the
// next login succeeds (the service fetches the new key set at once for a
// token fresh from the token endpoint) and its token is accepted at once.
func TestLoginRightAfterRotation(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	g := setup(t, authn.SetupConfig{Issuer: idp.Issuer(), Audience: api, ClientID: "venue-app", ClientSecret: "venue-app-secret",
		Secret: []byte(secret)})
	// An unknown kid just before: the unknown-kid limiter now holds.
	if _, err := g.Authenticator.Authenticate(context.Background(), tokenFor(t, idp, api)+"x"); err == nil {
		t.Fatal("a broken token accepted")
	}
	if _, err := idp.RotateKey("RS256"); err != nil {
		t.Fatal(err)
	}
	toks, err := g.Refresh.Login(context.Background(), refresh.Credentials{Username: "alice", Password: "alice-password"})
	if err != nil {
		t.Fatalf("login right after the rotation: %v", err)
	}
	if _, err := g.Authenticator.Authenticate(context.Background(), toks.AccessToken); err != nil {
		t.Fatalf("the new token: %v", err)
	}
}

// TestSetupIssuerTemplate: a multi-tenant Entra app lists the issuer
// template with the keys' URL and the Entra preset; tokens of any tenant
// whose iss and tid agree are accepted. A template with a client is
// refused, as is a preset Setup does not know.
func TestSetupIssuerTemplate(t *testing.T) {
	cfg := idptest.Demo()
	cfg.Dialect = idptest.DialectEntra
	idp := idptest.Start(t, cfg)
	entra := claims.Mapping{Preset: claims.PresetEntra}
	g := setup(t, authn.SetupConfig{Issuers: []authn.IssuerConfig{{
		Issuer: idp.IssuerTemplate(), JWKSURL: idp.JWKSURL(), Audiences: []string{api}, Mapping: entra}}})
	c, err := idp.MachineClaims("venue-worker", api)
	if err != nil {
		t.Fatal(err)
	}
	other := "0e3e2a4f-1b2c-4d5e-8f9a-0b1c2d3e4f5a"
	for name, tc := range map[string]struct {
		claims map[string]any
		ok     bool
	}{
		"its own tenant":       {c, true},
		"another tenant":       {with(with(c, "tid", other), "iss", strings.Replace(idp.IssuerTemplate(), claims.TenantPlaceholder, other, 1)), true},
		"iss and tid disagree": {with(c, "tid", other), false},
	} {
		tok, err := idp.Mint(tc.claims)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Authenticator.Authenticate(context.Background(), tok); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want accepted %v", name, err, tc.ok)
		}
	}
	for name, is := range map[string]authn.IssuerConfig{
		"a template with a client":   {Issuer: idp.IssuerTemplate(), JWKSURL: idp.JWKSURL(), Audiences: []string{api}, ClientID: "a", ClientSecret: "b"},
		"a template without JWKSURL": {Issuer: idp.IssuerTemplate(), Audiences: []string{api}},
		"an unknown preset":          {Issuer: idp.Issuer(), Audiences: []string{api}, Mapping: claims.Mapping{Preset: 200}},
	} {
		if g, err := authn.Setup(context.Background(), authn.SetupConfig{Issuers: []authn.IssuerConfig{is}, Secret: []byte(secret)}); err == nil {
			g.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSecretRotation: the three rolling deploys of a secret rotation keep
// every session and every revocation: instances that know the new secret
// as a previous one read what instances writing with it write, and
// instances writing with it read what the old secret wrote.
func TestSecretRotation(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	mc := memcachedtest.Start(t)
	old, fresh := []byte("the old secret, thirty-two bytes long"), []byte("the new secret, thirty-two bytes long")
	base := authn.SetupConfig{Issuer: idp.Issuer(), Audience: api, ClientID: "venue-app", ClientSecret: "venue-app-secret",
		MemcacheServers: []string{mc.Addr()}, Memcache: patient}
	before := base
	before.Secret = old
	first := base // deploy 1: the new secret is read, not yet written
	first.Secret, first.PreviousSecrets = old, []authn.PreviousSecret{{ID: 2, Secret: fresh}}
	second := base // deploy 2: the new secret writes, the old one is still read
	second.Secret, second.SecretID, second.NameSecret = fresh, 2, old
	second.PreviousSecrets = []authn.PreviousSecret{{ID: 1, Secret: old}}

	a, b, c := setup(t, before), setup(t, first), setup(t, second)
	creds := refresh.Credentials{Username: "alice", Password: "alice-password"}
	toks, err := a.Refresh.Login(context.Background(), creds)
	if err != nil {
		t.Fatal(err)
	}
	// The rotated instance refreshes a session the old secret sealed…
	next, err := c.Refresh.Refresh(context.Background(), toks.AccessToken)
	if err != nil {
		t.Fatalf("a session sealed with the old secret, refreshed after the rotation: %v", err)
	}
	// …and the old token is refused by an instance of deploy 1, which
	// reads the mark the new secret wrote.
	if _, err := b.Authenticator.Authenticate(context.Background(), toks.AccessToken); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("the replaced token at an instance of the first deploy: %v, want refused", err)
	}
	// The new session goes on at deploy 1 too.
	if _, err := b.Refresh.Refresh(context.Background(), next.AccessToken); err != nil {
		t.Errorf("the session sealed with the new secret, refreshed at the first deploy: %v", err)
	}
	bad := base
	bad.Secret, bad.PreviousSecrets = old, []authn.PreviousSecret{{ID: 1, Secret: fresh}}
	if g, err := authn.Setup(context.Background(), bad); err == nil {
		g.Close()
		t.Error("two secrets with one id accepted")
	}
}
