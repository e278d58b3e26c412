package tokenvalidator_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

// principalWant is what a preset must make of one caller's token.
type principalWant struct {
	subject     string // "" = anything but the party (a provider-made id)
	party       string
	scopes      []string
	permissions []string
	orgID       string
	kind        claims.Kind
}

// TestPresetsEndToEnd takes tokens from idptest's token endpoint in each
// provider's dialect — a user through the first-party app (password
// grant), a partner app acting for a user (authorization code) and a
// backend (client credentials) — and validates them with a JWKS validator
// whose keys and issuer come from the dialect's discovery document and
// whose Mapping uses the matching preset.
func TestPresetsEndToEnd(t *testing.T) {
	const tenant = "0e3e2a4f-1b2c-4d5e-8f9a-0b1c2d3e4f5a"
	alicePerms := []string{"book:venues", "read:datasets", "read:venues"}
	apiScopes := []string{"read:venues", "book:venues"}
	for _, tc := range []struct {
		dialect  idptest.Dialect
		mapping  claims.Mapping
		audience string // the validator's; default the API
		explicit bool   // JWKSURL given: the issuer's discovery is elsewhere (Entra v1)
		// Scopes asked by the user's and the partner's login, and the
		// machine's scope parameter.
		userScopes, partnerScopes []string
		machineScope              string
		user, partner, machine    principalWant
	}{
		{dialect: idptest.DialectAuth0, mapping: claims.Mapping{},
			userScopes: append([]string{"openid"}, apiScopes...), partnerScopes: []string{"read:venues"},
			user:    principalWant{"auth0|alice", "venue-app", append([]string{"openid"}, apiScopes...), alicePerms, "org_acme", claims.KindUser},
			partner: principalWant{"auth0|bob", "partner-app", []string{"read:venues"}, []string{"read:datasets", "read:venues"}, "org_globex", claims.KindDelegated},
			machine: principalWant{"venue-worker@clients", "venue-worker", []string{"read:datasets", "read:venues"}, nil, "", claims.KindMachine}},
		{dialect: idptest.DialectRFC9068, mapping: claims.Mapping{Preset: claims.PresetRFC9068},
			userScopes: apiScopes, partnerScopes: []string{"read:venues"},
			user:    principalWant{"auth0|alice", "venue-app", apiScopes, nil, "", claims.KindUser},
			partner: principalWant{"auth0|bob", "partner-app", []string{"read:venues"}, nil, "", claims.KindDelegated},
			machine: principalWant{"venue-worker", "venue-worker", []string{"read:datasets", "read:venues"}, nil, "", claims.KindMachine}},
		{dialect: idptest.DialectOkta, mapping: claims.Mapping{Preset: claims.PresetOkta},
			userScopes: append([]string{"openid"}, apiScopes...), partnerScopes: []string{"read:venues"},
			user:    principalWant{"auth0|alice", "venue-app", append([]string{"openid"}, apiScopes...), nil, "", claims.KindUser},
			partner: principalWant{"auth0|bob", "partner-app", []string{"read:venues"}, nil, "", claims.KindDelegated},
			machine: principalWant{"venue-worker", "venue-worker", []string{"read:datasets", "read:venues"}, nil, "", claims.KindMachine}},
		{dialect: idptest.DialectKeycloak, mapping: claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: api},
			userScopes: apiScopes, partnerScopes: []string{"read:venues"},
			user:    principalWant{"auth0|alice", "venue-app", apiScopes, alicePerms, "", claims.KindUser},
			partner: principalWant{"auth0|bob", "partner-app", []string{"read:venues"}, []string{"read:datasets", "read:venues"}, "", claims.KindDelegated},
			machine: principalWant{"", "venue-worker", []string{"read:datasets", "read:venues"}, []string{"read:datasets", "read:venues"}, "", claims.KindMachine}},
		{dialect: idptest.DialectEntra, mapping: claims.Mapping{Preset: claims.PresetEntra},
			userScopes: append([]string{"openid"}, apiScopes...), partnerScopes: []string{"read:venues"},
			user:    principalWant{"", "venue-app", apiScopes, alicePerms, tenant, claims.KindUser},
			partner: principalWant{"", "partner-app", []string{"read:venues"}, []string{"read:datasets", "read:venues"}, tenant, claims.KindDelegated},
			machine: principalWant{"", "venue-worker", nil, []string{"read:datasets", "read:venues"}, tenant, claims.KindMachine}},
		{dialect: idptest.DialectEntraV1, mapping: claims.Mapping{Preset: claims.PresetEntra}, explicit: true,
			userScopes: apiScopes, partnerScopes: []string{"read:venues"},
			user:    principalWant{"", "venue-app", apiScopes, alicePerms, tenant, claims.KindUser},
			partner: principalWant{"", "partner-app", []string{"read:venues"}, []string{"read:datasets", "read:venues"}, tenant, claims.KindDelegated},
			machine: principalWant{"", "venue-worker", nil, []string{"read:datasets", "read:venues"}, tenant, claims.KindMachine}},
		{dialect: idptest.DialectDex, mapping: claims.Mapping{Preset: claims.PresetDex}, audience: "venue-app",
			userScopes: []string{"openid", "groups"}, partnerScopes: []string{"openid", "groups", "audience:server:client_id:venue-app"},
			machineScope: "audience:server:client_id:venue-app",
			user:         principalWant{"", "venue-app", nil, []string{"venue-booker", "venue-viewer"}, "", claims.KindUser},
			partner:      principalWant{"", "partner-app", nil, []string{"venue-viewer"}, "", claims.KindDelegated},
			machine:      principalWant{"", "venue-worker", nil, nil, "", claims.KindMachine}},
	} {
		t.Run(tc.dialect.String(), func(t *testing.T) {
			cfg := idptest.Demo()
			cfg.Dialect, cfg.TenantID = tc.dialect, tenant
			idp := idptest.Start(t, cfg)
			audience := orString(tc.audience, api)
			tc.mapping.FirstPartyClients = []string{"venue-app"}
			v := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) {
				c.Audiences, c.Mapping = []string{audience}, tc.mapping
				c.RequireType = tc.dialect == idptest.DialectRFC9068
				if tc.explicit {
					c.JWKSURL = idp.JWKSURL()
				}
			})

			user := tokenFromEndpoint(t, idp, map[string]string{"grant_type": "password", "username": "alice", "password": "alice-password",
				"client_id": "venue-app", "client_secret": "venue-app-secret", "audience": api, "organization": "org_acme",
				"scope": strings.Join(tc.userScopes, " ")})
			code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: "bob", Audience: api,
				Scopes: tc.partnerScopes, Organization: "org_globex"})
			if err != nil {
				t.Fatal(err)
			}
			partner := tokenFromEndpoint(t, idp, map[string]string{"grant_type": "authorization_code", "code": code,
				"client_id": "partner-app", "client_secret": "partner-app-secret"})
			form := map[string]string{"grant_type": "client_credentials", "client_id": "venue-worker", "client_secret": "venue-worker-secret", "audience": api}
			if tc.machineScope != "" {
				form["scope"] = tc.machineScope
			}
			machine := tokenFromEndpoint(t, idp, form)

			for _, c := range []struct {
				who   string
				token string
				want  principalWant
			}{{"user", user, tc.user}, {"partner", partner, tc.partner}, {"machine", machine, tc.machine}} {
				res, err := v.Validate(context.Background(), c.token)
				if err != nil {
					t.Fatalf("%s: %v", c.who, err)
				}
				c.want.check(t, c.who, res.Principal)
				if res.Principal.Issuer != idp.Issuer() {
					t.Errorf("%s: issuer %q, want %q", c.who, res.Principal.Issuer, idp.Issuer())
				}
			}

			// The Auth0 mapping misreads these tokens: the reason presets exist.
			if tc.dialect == idptest.DialectDex {
				auth0 := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) {
					c.Audiences, c.Mapping = []string{audience}, claims.Mapping{FirstPartyClients: []string{"venue-app"}}
				})
				res, err := auth0.Validate(context.Background(), user)
				if err != nil || res.Principal.Kind != claims.KindDelegated {
					t.Errorf("Dex user under the Auth0 mapping: %v %v, want a (wrongly) delegated call", res.Principal, err)
				}
			}
		})
	}
}

func (w principalWant) check(t *testing.T, who string, p *claims.Principal) {
	t.Helper()
	if w.subject != "" && p.Subject != w.subject || w.subject == "" && (p.Subject == "" || p.Subject == w.party && w.kind != claims.KindMachine) {
		t.Errorf("%s: subject %q, want %q", who, p.Subject, w.subject)
	}
	if p.AuthorizedParty != w.party || p.OrgID != w.orgID || p.Kind != w.kind {
		t.Errorf("%s: party %q org %q kind %v, want %q %q %v", who, p.AuthorizedParty, p.OrgID, p.Kind, w.party, w.orgID, w.kind)
	}
	if got, want := p.Scopes.Strings(), claims.NewSet(w.scopes...).Strings(); !slices.Equal(got, want) {
		t.Errorf("%s: scopes %q, want %q", who, got, want)
	}
	if got, want := p.Permissions.Strings(), claims.NewSet(w.permissions...).Strings(); !slices.Equal(got, want) {
		t.Errorf("%s: permissions %q, want %q", who, got, want)
	}
}

// TestRFC9068OpaqueIntrospection: an RFC 9068 provider's opaque tokens,
// checked at its introspection endpoint with the preset, make the same
// Principal as its JWTs.
func TestRFC9068OpaqueIntrospection(t *testing.T) {
	cfg := idptest.Demo()
	cfg.Dialect = idptest.DialectRFC9068
	cfg.APIs[0].Opaque = true
	idp := idptest.Start(t, cfg)
	v := newIntrospection(t, idp, func(c *tokenvalidator.IntrospectionConfig) {
		c.Mapping = claims.Mapping{Preset: claims.PresetRFC9068, FirstPartyClients: []string{"venue-app"}}
	})
	for _, tc := range []struct {
		form map[string]string
		want principalWant
	}{
		{map[string]string{"grant_type": "password", "username": "alice", "password": "alice-password", "client_id": "venue-app",
			"client_secret": "venue-app-secret", "audience": api, "organization": "org_acme", "scope": "read:venues"},
			principalWant{"auth0|alice", "venue-app", []string{"read:venues"}, nil, "", claims.KindUser}},
		{map[string]string{"grant_type": "client_credentials", "client_id": "venue-worker", "client_secret": "venue-worker-secret", "audience": api},
			principalWant{"venue-worker", "venue-worker", []string{"read:datasets", "read:venues"}, nil, "", claims.KindMachine}},
	} {
		tok := tokenFromEndpoint(t, idp, tc.form)
		if tokenvalidator.LooksLikeJWT(tok) {
			t.Fatal("the token is a JWT; want an opaque one")
		}
		res, err := v.Validate(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		tc.want.check(t, tc.form["grant_type"], res.Principal)
	}
}

// TestEntraIssuerTemplate: the helper a multi-tenant validator uses accepts
// the provider's own tokens under its template and refuses a token whose
// issuer names another tenant than its tid.
func TestEntraIssuerTemplate(t *testing.T) {
	cfg := idptest.Demo()
	cfg.Dialect = idptest.DialectEntra
	idp := idptest.Start(t, cfg)
	c, err := idp.MachineClaims("venue-worker", api)
	if err != nil {
		t.Fatal(err)
	}
	mapping := claims.Mapping{Preset: claims.PresetEntra}
	for _, tc := range []struct {
		claims map[string]any
		want   bool
	}{
		{c, true},
		{with(c, "tid", "0e3e2a4f-1b2c-4d5e-8f9a-0b1c2d3e4f5a"), false},
		{with(c, "iss", idp.URL()+"/0e3e2a4f-1b2c-4d5e-8f9a-0b1c2d3e4f5a/v2.0"), false},
	} {
		payload := mustDecode(strings.Split(mint(t, idp, tc.claims), ".")[1])
		p, err := mapping.Decode([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		if got := claims.MatchIssuerTemplate(idp.IssuerTemplate(), p.Issuer, p.OrgID); got != tc.want {
			t.Errorf("iss %q tid %q: %v, want %v", p.Issuer, p.OrgID, got, tc.want)
		}
	}
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestEntraMultiTenant: a JWKS validator configured with Entra's issuer
// template accepts a token of any tenant whose iss is the template filled
// with the token's own tid, and refuses one whose iss and tid disagree, or
// whose tid is no tenant id; Issuers routes template issuers too.
func TestEntraMultiTenant(t *testing.T) {
	cfg := idptest.Demo()
	cfg.Dialect = idptest.DialectEntra
	idp := idptest.Start(t, cfg)
	v := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) {
		c.Issuer, c.JWKSURL, c.Mapping = idp.IssuerTemplate(), idp.JWKSURL(), claims.Mapping{Preset: claims.PresetEntra}
	})
	other := "0e3e2a4f-1b2c-4d5e-8f9a-0b1c2d3e4f5a"
	otherIss := strings.Replace(idp.IssuerTemplate(), claims.TenantPlaceholder, other, 1)
	c, err := idp.MachineClaims("venue-worker", api)
	if err != nil {
		t.Fatal(err)
	}
	is, err := tokenvalidator.NewIssuers(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"the provider's own tenant", c, true},
		{"another tenant", with(c, "iss", otherIss, "tid", other), true},
		{"iss of one tenant, tid of another", with(c, "tid", other), false},
		{"a tid that is no tenant id", with(c, "iss", strings.Replace(idp.IssuerTemplate(), claims.TenantPlaceholder, "evil", 1), "tid", "evil"), false},
	} {
		tok := mint(t, idp, tc.claims)
		for name, val := range map[string]tokenvalidator.Validator{"JWKS": v, "Issuers": is} {
			_, err := val.Validate(context.Background(), tok)
			if (err == nil) != tc.ok {
				t.Errorf("%s, %s: %v, want accepted %v", tc.name, name, err, tc.ok)
			}
		}
	}
	if _, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{Issuer: idp.IssuerTemplate(), Audiences: []string{api}}); err == nil {
		t.Error("an issuer template without JWKSURL was accepted")
	}
}
