package idptest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*idptest.Config)
		want   string
	}{
		{"access token type", func(c *idptest.Config) { c.AccessTokenType = "jwt" }, `AccessTokenType "jwt"`},
		{"signing algorithm", func(c *idptest.Config) { c.SigningAlgorithm = "HS256" }, `SigningAlgorithm "HS256"`},
		{"negative TTL", func(c *idptest.Config) { c.RefreshTokenTTL = -time.Second }, "RefreshTokenTTL is negative"},
		{"negative reuse interval", func(c *idptest.Config) { c.RefreshReuseInterval = -time.Second }, "RefreshReuseInterval is negative"},
		{"negative API TTL", func(c *idptest.Config) { c.APIs[0].AccessTokenTTL = -time.Second }, "AccessTokenTTL is negative"},
		{"duplicate username", func(c *idptest.Config) { c.Users[1].Username = "alice" }, `username "alice" given twice`},
		{"duplicate user ID", func(c *idptest.Config) { c.Users[1].ID = "auth0|alice" }, `user ID "auth0|alice" given twice`},
		{"empty user ID", func(c *idptest.Config) { c.Users[1].ID = "" }, "empty user ID"},
		{"duplicate client", func(c *idptest.Config) { c.Clients[1].ID = "venue-app" }, `client ID "venue-app" given twice`},
		{"organization name is another's ID", func(c *idptest.Config) { c.Organizations[1].Name = "org_acme" }, `organization ID or name "org_acme" given twice`},
		{"unknown role", func(c *idptest.Config) { c.Users[2].Roles = []string{"root"} }, `user "carol" has unknown role "root"`},
		{"unknown role in an organization", func(c *idptest.Config) { c.Users[1].Memberships[0].Roles = []string{"root"} }, `unknown role "root" in "org_globex"`},
		{"unknown organization", func(c *idptest.Config) { c.Users[1].Memberships[0].OrgID = "org_nope" }, `unknown organization "org_nope"`},
		{"reserved custom claim", func(c *idptest.Config) { c.Users[0].Claims["org_id"] = "org_globex" }, `custom claim "org_id" is set by the provider`},
		{"custom claim not JSON", func(c *idptest.Config) { c.Users[0].Claims["https://x/f"] = func() {} }, "custom claims"},
		{"unknown grant", func(c *idptest.Config) { c.Clients[0].Grants = append(c.Clients[0].Grants, "implicit") }, `unknown grant "implicit"`},
		{"machine without a secret", func(c *idptest.Config) { c.Clients[2].Secret = "" }, "client_credentials grant but no secret"},
		{"client scopes for an unknown API", func(c *idptest.Config) { c.Clients[2].Scopes["https://nope"] = []string{"x"} }, `unknown API "https://nope"`},
		{"client scope the API lacks", func(c *idptest.Config) { c.Clients[2].Scopes[api] = []string{"delete:venues"} }, `scope "delete:venues"`},
		{"default audience", func(c *idptest.Config) { c.DefaultAudience = "https://nope" }, `DefaultAudience "https://nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := idptest.Demo()
			tc.mutate(&cfg)
			s, err := idptest.New(cfg)
			if err == nil {
				s.Close()
				t.Fatal("New accepted the Config")
			}
			if !errors.Is(err, idptest.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "idptest: invalid Config") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant ErrInvalidConfig mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		cfg := idptest.Demo()
		cfg.AccessTokenType, cfg.DefaultAudience = "jwt", "https://nope"
		_, err := idptest.New(cfg)
		if err == nil || !strings.Contains(err.Error(), "AccessTokenType") || !strings.Contains(err.Error(), "DefaultAudience") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestZeroConfig(t *testing.T) {
	idp := idptest.Start(t, idptest.Config{})
	if a := post(t, idp.TokenURL(), aliceLogin); a.status != 401 || a.str("error") != "invalid_client" {
		t.Errorf("token request to an empty tenant: %d %s", a.status, a.raw)
	}
	if keys := jwks(t, idp); len(keys) != 1 {
		t.Errorf("JWKS holds %d keys", len(keys))
	}
}

// TestConfigIsCopied: changing the Config after New changes nothing.
func TestConfigIsCopied(t *testing.T) {
	cfg := idptest.Demo()
	idp := idptest.Start(t, cfg)
	cfg.Users[0].Password = "changed"
	cfg.Users[0].Memberships[0].Roles[0] = "venue-admin"
	cfg.Users[0].Claims["https://venue.example/tier"] = "bronze"
	cfg.Clients[0].Secret = "changed"
	a := grant(t, idp, aliceLogin)
	c := verify(t, idp, a.str("access_token")).PrivateClaims()
	if c["https://venue.example/tier"] != "gold" || strings.Contains(a.str("scope"), "manage:venues") {
		t.Errorf("the provider saw later changes: %v", c)
	}
}

func TestSigningAlgorithmAndAddr(t *testing.T) {
	cfg := idptest.Demo()
	cfg.SigningAlgorithm = "ES256"
	cfg.Addr = "127.0.0.1:0"
	idp := idptest.Start(t, cfg)
	if !strings.HasPrefix(idp.URL(), "http://127.0.0.1:") || strings.HasSuffix(idp.URL(), "/") {
		t.Errorf("URL = %q", idp.URL())
	}
	h, _ := decode(t, grant(t, idp, aliceLogin).str("access_token"))
	if h["alg"] != "ES256" {
		t.Errorf("alg = %v", h["alg"])
	}
	// The address in use: a clear error.
	cfg.Addr = strings.TrimPrefix(idp.URL(), "http://")
	if _, err := idptest.New(cfg); err == nil || !strings.HasPrefix(err.Error(), "idptest: ") {
		t.Errorf("New on a busy address: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	idp := start(t)
	a := get(t, idp.DiscoveryURL(), "")
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	for name, want := range map[string]string{
		"issuer":                 idp.URL() + "/",
		"jwks_uri":               idp.URL() + "/.well-known/jwks.json",
		"token_endpoint":         idp.URL() + "/oauth/token",
		"userinfo_endpoint":      idp.URL() + "/userinfo",
		"introspection_endpoint": idp.URL() + "/oauth/introspect",
		"revocation_endpoint":    idp.URL() + "/oauth/revoke",
	} {
		if a.str(name) != want {
			t.Errorf("%s = %q, want %q", name, a.str(name), want)
		}
	}
	for got, want := range map[string]string{idp.Issuer(): a.str("issuer"), idp.JWKSURL(): a.str("jwks_uri"),
		idp.TokenURL(): a.str("token_endpoint"), idp.UserinfoURL(): a.str("userinfo_endpoint"),
		idp.IntrospectionURL(): a.str("introspection_endpoint"), idp.RevocationURL(): a.str("revocation_endpoint")} {
		if got != want {
			t.Errorf("URL method %q, discovery %q", got, want)
		}
	}
	if grants, _ := a.body["grant_types_supported"].([]any); len(grants) != 4 {
		t.Errorf("grant_types_supported = %v", a.body["grant_types_supported"])
	}
}

func TestClock(t *testing.T) {
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := idptest.Demo()
	cfg.Now = func() time.Time { return base }
	idp := idptest.Start(t, cfg)
	if !idp.Now().Equal(base) {
		t.Fatalf("Now = %v, want Config.Now's %v", idp.Now(), base)
	}
	idp.Advance(time.Hour) // freezes at Config.Now, then moves
	if want := base.Add(time.Hour); !idp.Now().Equal(want) {
		t.Errorf("after Advance: %v, want %v", idp.Now(), want)
	}
	later := base.Add(48 * time.Hour)
	idp.SetNow(later)
	if !idp.Now().Equal(later) {
		t.Errorf("after SetNow: %v", idp.Now())
	}
	at := verify(t, idp, grant(t, idp, aliceLogin).str("access_token"))
	if !at.IssuedAt().Equal(later) {
		t.Errorf("iat = %v, want the server's clock %v", at.IssuedAt(), later)
	}
}
