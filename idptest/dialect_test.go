package idptest_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/idptest"
)

// dialect starts the demo provider in d.
func dialect(t *testing.T, d idptest.Dialect, mutate ...func(*idptest.Config)) *idptest.Server {
	t.Helper()
	return start(t, append([]func(*idptest.Config){func(c *idptest.Config) { c.Dialect = d }}, mutate...)...)
}

const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// TestDialectEndpoints: each dialect's issuer and paths are the
// provider's, discovery says so, and every one of them answers.
func TestDialectEndpoints(t *testing.T) {
	for _, tc := range []struct {
		d                       idptest.Dialect
		issuer                  string // after URL(), or absolute
		discovery, jwks, token  string
		userinfo, introspection string
	}{
		{idptest.DialectAuth0, "/", "/.well-known/openid-configuration", "/.well-known/jwks.json", "/oauth/token", "/userinfo", "/oauth/introspect"},
		{idptest.DialectRFC9068, "", "/.well-known/openid-configuration", "/jwks", "/token", "/me", "/token/introspection"},
		{idptest.DialectOkta, "/oauth2/default", "/oauth2/default/.well-known/openid-configuration", "/oauth2/default/v1/keys", "/oauth2/default/v1/token", "/oauth2/default/v1/userinfo", "/oauth2/default/v1/introspect"},
		{idptest.DialectKeycloak, "/realms/idptest", "/realms/idptest/.well-known/openid-configuration", "/realms/idptest/protocol/openid-connect/certs",
			"/realms/idptest/protocol/openid-connect/token", "/realms/idptest/protocol/openid-connect/userinfo", "/realms/idptest/protocol/openid-connect/token/introspect"},
		{idptest.DialectEntra, "/" + tenant + "/v2.0", "/" + tenant + "/v2.0/.well-known/openid-configuration", "/" + tenant + "/discovery/v2.0/keys",
			"/" + tenant + "/oauth2/v2.0/token", "/oidc/userinfo", "/oauth/introspect"},
		{idptest.DialectEntraV1, "https://sts.windows.net/" + tenant + "/", "/" + tenant + "/.well-known/openid-configuration", "/common/discovery/keys",
			"/" + tenant + "/oauth2/token", "/" + tenant + "/openid/userinfo", "/oauth/introspect"},
		{idptest.DialectDex, "/dex", "/dex/.well-known/openid-configuration", "/dex/keys", "/dex/token", "/dex/userinfo", "/dex/token/introspect"},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			idp := dialect(t, tc.d, func(c *idptest.Config) { c.TenantID = tenant })
			want := tc.issuer
			if !strings.HasPrefix(want, "https://") {
				want = idp.URL() + want
			}
			for _, c := range []struct{ got, want string }{
				{idp.Issuer(), want}, {idp.DiscoveryURL(), idp.URL() + tc.discovery}, {idp.JWKSURL(), idp.URL() + tc.jwks},
				{idp.TokenURL(), idp.URL() + tc.token}, {idp.UserinfoURL(), idp.URL() + tc.userinfo},
				{idp.IntrospectionURL(), idp.URL() + tc.introspection},
			} {
				if c.got != c.want {
					t.Errorf("got %s, want %s", c.got, c.want)
				}
			}
			d := get(t, idp.DiscoveryURL(), "")
			if d.status != 200 || d.str("issuer") != idp.Issuer() || d.str("jwks_uri") != idp.JWKSURL() || d.str("token_endpoint") != idp.TokenURL() {
				t.Errorf("discovery: %d %s", d.status, d.raw)
			}
			if k := get(t, idp.JWKSURL(), ""); k.status != 200 || !strings.Contains(k.raw, idp.SigningKeyID()) {
				t.Errorf("JWKS: %d %s", k.status, k.raw)
			}
			before := idp.Calls(idptest.EndpointToken)
			a := post(t, idp.TokenURL(), form("grant_type", "client_credentials", "client_id", "venue-worker",
				"client_secret", "venue-worker-secret", "audience", api))
			if a.status != 200 || idp.Calls(idptest.EndpointToken) != before+1 {
				t.Errorf("token endpoint: %d %s", a.status, a.raw)
			}
			// Auth0's paths stay, so existing clients keep working.
			if a := get(t, idp.URL()+"/.well-known/jwks.json", ""); a.status != 200 {
				t.Errorf("Auth0's JWKS path: %d", a.status)
			}
		})
	}
}

// TestDialectTokens checks the access tokens' shape in each dialect, for
// alice through the first-party app (password grant) and for the worker
// (client credentials): the claims that say who and for whom, and the
// Auth0 claims that must not leak into another dialect.
func TestDialectTokens(t *testing.T) {
	userForm := with(aliceLogin, "scope", "openid profile offline_access read:venues book:venues")
	workerForm := form("grant_type", "client_credentials", "client_id", "venue-worker", "client_secret", "venue-worker-secret", "audience", api)
	type claims = map[string]any
	for _, tc := range []struct {
		d             idptest.Dialect
		typ           string
		user, machine claims // claims expected exactly (nil: must be absent)
		userPresent   []string
	}{
		{idptest.DialectRFC9068, "at+jwt",
			claims{"sub": "auth0|alice", "client_id": "venue-app", "aud": api, "scope": "openid profile offline_access read:venues book:venues", "azp": nil, "gty": nil, "permissions": nil, "org_id": nil},
			claims{"sub": "venue-worker", "client_id": "venue-worker", "scope": "read:venues read:datasets", "gty": nil, "azp": nil},
			[]string{"jti", "iat", "exp", "https://venue.example/tier"}},
		{idptest.DialectOkta, "JWT",
			claims{"sub": "alice@acme.example", "uid": "auth0|alice", "cid": "venue-app", "aud": api, "ver": 1.0,
				"scp": []any{"openid", "profile", "offline_access", "read:venues", "book:venues"}, "scope": nil, "azp": nil, "gty": nil},
			claims{"sub": "venue-worker", "cid": "venue-worker", "uid": nil, "scp": []any{"read:venues", "read:datasets"}},
			[]string{"jti", "auth_time"}},
		{idptest.DialectKeycloak, "JWT",
			claims{"sub": "auth0|alice", "azp": "venue-app", "typ": "Bearer", "preferred_username": "alice", "aud": []any{api, "account"},
				"realm_access":    map[string]any{"roles": []any{"default-roles-idptest", "offline_access", "uma_authorization", "venue-booker", "venue-viewer"}},
				"resource_access": map[string]any{api: map[string]any{"roles": []any{"book:venues", "read:datasets", "read:venues"}}, "account": map[string]any{"roles": []any{"manage-account", "view-profile"}}},
				"permissions":     nil, "gty": nil, "org_id": nil, "client_id": nil},
			claims{"azp": "venue-worker", "client_id": "venue-worker", "preferred_username": "service-account-venue-worker",
				"resource_access": map[string]any{api: map[string]any{"roles": []any{"read:venues", "read:datasets"}}, "account": map[string]any{"roles": []any{"manage-account", "view-profile"}}}},
			[]string{"sid", "jti", "email"}},
		{idptest.DialectEntra, "JWT",
			claims{"azp": "venue-app", "azpacr": "1", "ver": "2.0", "tid": tenant, "oid": "auth0|alice", "scp": "read:venues book:venues",
				"roles": []any{"book:venues", "read:datasets", "read:venues"}, "appid": nil, "permissions": nil, "scope": nil},
			claims{"azp": "venue-worker", "tid": tenant, "scp": nil, "roles": []any{"read:venues", "read:datasets"}},
			[]string{"sub", "aio", "uti", "nbf", "preferred_username"}},
		{idptest.DialectEntraV1, "JWT",
			claims{"appid": "venue-app", "appidacr": "1", "ver": "1.0", "tid": tenant, "iss": "https://sts.windows.net/" + tenant + "/", "azp": nil},
			claims{"appid": "venue-worker", "scp": nil},
			[]string{"upn", "unique_name"}},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			idp := dialect(t, tc.d, func(c *idptest.Config) { c.TenantID = tenant })
			for who, want := range map[string]claims{"user": tc.user, "machine": tc.machine} {
				f := userForm
				if who == "machine" {
					f = workerForm
				}
				tok := grant(t, idp, f).str("access_token")
				header, c := decode(t, tok)
				if header["typ"] != tc.typ {
					t.Errorf("%s: typ %v, want %s", who, header["typ"], tc.typ)
				}
				verify(t, idp, tok) // signature against the dialect's JWKS, iss = Issuer()
				for name, v := range want {
					if got, ok := c[name]; v == nil && ok || v != nil && !reflect.DeepEqual(got, v) {
						t.Errorf("%s: %s = %#v, want %#v", who, name, got, v)
					}
				}
				if who == "user" {
					for _, name := range tc.userPresent {
						if _, ok := c[name]; !ok {
							t.Errorf("user: no %s claim", name)
						}
					}
				}
			}
		})
	}
}

// TestEntraSubjects: Entra's user sub is pairwise per API, oid the
// user's; an app-only token's sub is its oid, a GUID, stable per client.
func TestEntraSubjects(t *testing.T) {
	idp := dialect(t, idptest.DialectEntra)
	_, user := decode(t, grant(t, idp, aliceLogin).str("access_token"))
	if user["sub"] == user["oid"] || len(user["sub"].(string)) != 43 {
		t.Errorf("user sub %v oid %v", user["sub"], user["oid"])
	}
	w := form("grant_type", "client_credentials", "client_id", "venue-worker", "client_secret", "venue-worker-secret", "audience", api)
	_, app1 := decode(t, grant(t, idp, w).str("access_token"))
	_, app2 := decode(t, grant(t, idp, w).str("access_token"))
	if app1["sub"] != app1["oid"] || app1["oid"] != app2["oid"] || len(app1["oid"].(string)) != 36 {
		t.Errorf("app-only sub %v oid %v, then oid %v", app1["sub"], app1["oid"], app2["oid"])
	}
	if idp.IssuerTemplate() != idp.URL()+"/{tenantid}/v2.0" || len(idp.TenantID()) != 36 {
		t.Errorf("IssuerTemplate %q TenantID %q", idp.IssuerTemplate(), idp.TenantID())
	}
	if other := dialect(t, idptest.DialectEntra); other.TenantID() == idp.TenantID() {
		t.Error("two servers share a random tenant")
	}
	if dialect(t, idptest.DialectOkta).IssuerTemplate() != "" {
		t.Error("IssuerTemplate outside Entra")
	}
}

// dexLogin is a password grant as a Dex client sends it.
var dexLogin = form("grant_type", "password", "username", "alice", "password", "alice-password",
	"client_id", "venue-app", "client_secret", "venue-app-secret", "scope", "openid profile email groups offline_access")

func TestDexTokens(t *testing.T) {
	idp := dialect(t, idptest.DialectDex)
	a := grant(t, idp, with(dexLogin, "audience", api, "organization", "org_acme")) // both ignored
	if a.str("refresh_token") == "" || a.str("id_token") == "" {
		t.Errorf("answer: %s", a.raw)
	}
	header, c := decode(t, a.str("access_token"))
	verify(t, idp, a.str("access_token"))
	aliceSub := base64.RawURLEncoding.EncodeToString([]byte("\x0a\x0bauth0|alice\x12\x05local"))
	want := map[string]any{"iss": idp.URL() + "/dex", "aud": "venue-app", "sub": aliceSub, "email": "alice@acme.example", "email_verified": true,
		"name": "Alice Archer", "preferred_username": "alice", "groups": []any{"venue-booker", "venue-viewer"}}
	for name, v := range want {
		if !reflect.DeepEqual(c[name], v) {
			t.Errorf("%s = %#v, want %#v", name, c[name], v)
		}
	}
	for _, absent := range []string{"azp", "scope", "scp", "permissions", "org_id", "gty", "jti"} {
		if _, ok := c[absent]; ok {
			t.Errorf("Dex tokens have no %s: %v", absent, c[absent])
		}
	}
	if header["typ"] != "JWT" {
		t.Errorf("typ %v", header["typ"])
	}
	_, id := decode(t, a.str("id_token"))
	if id["sub"] != aliceSub {
		t.Errorf("ID token sub %v, want the access token's", id["sub"])
	}

	// Userinfo and introspection understand Dex's tokens.
	if u := get(t, idp.UserinfoURL(), a.str("access_token")); u.status != 200 || u.str("sub") != "auth0|alice" {
		t.Errorf("userinfo: %d %s", u.status, u.raw)
	}
	if in := introspect(t, idp, a.str("access_token")); in.body["active"] != true || in.str("client_id") != "venue-app" || in.str("username") != "alice" {
		t.Errorf("introspection: %s", in.raw)
	}

	// Refresh keeps the shape.
	r := grant(t, idp, form("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"), "client_id", "venue-app", "client_secret", "venue-app-secret"))
	if _, rc := decode(t, r.str("access_token")); rc["sub"] != aliceSub || rc["aud"] != "venue-app" {
		t.Errorf("refreshed: %v", rc)
	}

	// Client credentials: sub is Dex's encoding of the client under the
	// empty connector.
	m := grant(t, idp, form("grant_type", "client_credentials", "client_id", "venue-worker", "client_secret", "venue-worker-secret"))
	_, mc := decode(t, m.str("access_token"))
	if mc["sub"] != base64.RawURLEncoding.EncodeToString([]byte("\x0a\x0cvenue-worker")) || mc["aud"] != "venue-worker" {
		t.Errorf("client credentials: %v", mc)
	}

	// A partner asking for the venue app's audience (cross-client): aud
	// lists both, azp names the partner.
	code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: "bob",
		Scopes: []string{"openid", "audience:server:client_id:venue-app"}})
	if err != nil {
		t.Fatal(err)
	}
	p := grant(t, idp, form("grant_type", "authorization_code", "code", code, "client_id", "partner-app", "client_secret", "partner-app-secret"))
	if _, pc := decode(t, p.str("access_token")); !reflect.DeepEqual(pc["aud"], []any{"venue-app", "partner-app"}) || pc["azp"] != "partner-app" {
		t.Errorf("cross-client: aud %v azp %v", pc["aud"], pc["azp"])
	}
}

// TestDexRefusesUnknownScopes: Dex's token endpoint answers scopes it does
// not know — the API's, say — with an error, not by dropping them.
func TestDexRefusesUnknownScopes(t *testing.T) {
	idp := dialect(t, idptest.DialectDex)
	for _, tc := range []struct {
		name       string
		form       url.Values
		code, desc string
	}{
		{"password grant, API scopes", with(dexLogin, "scope", "openid offline_access read:venues book:venues"),
			"invalid_request", `Unrecognized scope(s) ["read:venues" "book:venues"]`},
		{"password grant without openid", with(dexLogin, "scope", "profile"), "invalid_request", `Missing required scope(s) ["openid"].`},
		{"cross-client audience of an unknown client", with(dexLogin, "scope", "openid audience:server:client_id:nobody"),
			"invalid_request", `Client can't request scope(s) ["audience:server:client_id:nobody"]`},
		{"client credentials, API scopes", form("grant_type", "client_credentials", "client_id", "venue-worker", "client_secret", "venue-worker-secret", "scope", "read:venues"),
			"invalid_scope", `Unrecognized scope(s) ["read:venues"]`},
		{"client credentials, offline_access", form("grant_type", "client_credentials", "client_id", "venue-worker", "client_secret", "venue-worker-secret", "scope", "offline_access"),
			"invalid_scope", "client_credentials grant does not support offline_access scope."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, idp.TokenURL(), tc.form)
			if a.status != http.StatusBadRequest || a.str("error") != tc.code || a.str("error_description") != tc.desc {
				t.Errorf("%d %s", a.status, a.raw)
			}
		})
	}
	if _, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "venue-app", Username: "alice", Scopes: []string{"openid", "read:venues"}}); err == nil ||
		!strings.Contains(err.Error(), "invalid_scope") {
		t.Errorf("authorization with an unknown scope: %v", err)
	}
	// The Auth0 dialect keeps dropping what it does not grant.
	if a := post(t, start(t).TokenURL(), with(aliceLogin, "scope", "openid no:such")); a.status != 200 || a.str("scope") != "openid" {
		t.Errorf("Auth0 dialect: %d %s", a.status, a.raw)
	}
}

// TestDialectUserinfoAndIntrospection: the endpoints find the user and the
// client of every dialect's tokens, JWT or opaque.
func TestDialectUserinfoAndIntrospection(t *testing.T) {
	for _, d := range []idptest.Dialect{idptest.DialectRFC9068, idptest.DialectOkta, idptest.DialectKeycloak, idptest.DialectEntra} {
		t.Run(d.String(), func(t *testing.T) {
			idp := dialect(t, d, func(c *idptest.Config) {
				c.APIs = append(c.APIs, idptest.API{Identifier: "https://opaque.example", Scopes: []string{"read:venues"}, Opaque: true})
			})
			for _, aud := range []string{api, "https://opaque.example"} {
				tok := grant(t, idp, with(aliceLogin, "audience", aud)).str("access_token")
				in := introspect(t, idp, tok)
				if in.body["active"] != true || in.str("client_id") != "venue-app" || in.str("username") != "alice" {
					t.Errorf("%s: introspection: %s", aud, in.raw)
				}
				u := get(t, idp.UserinfoURL(), tok)
				if d == idptest.DialectEntra { // an API token is no Graph token
					if u.status != http.StatusUnauthorized {
						t.Errorf("%s: Entra userinfo: %d", aud, u.status)
					}
					continue
				}
				if u.status != 200 || u.str("sub") != "auth0|alice" {
					t.Errorf("%s: userinfo: %d %s", aud, u.status, u.raw)
				}
			}
			// An opaque token is revoked by its client.
			tok := grant(t, idp, with(aliceLogin, "audience", "https://opaque.example")).str("access_token")
			revoke(t, idp, "venue-app", tok)
			if in := introspect(t, idp, tok); in.body["active"] != false {
				t.Errorf("revoked opaque token: %s", in.raw)
			}
		})
	}
}

func TestDialectConfig(t *testing.T) {
	for name, mutate := range map[string]func(*idptest.Config){
		"unknown dialect":   func(c *idptest.Config) { c.Dialect = 99 },
		"tenant not a GUID": func(c *idptest.Config) { c.Dialect, c.TenantID = idptest.DialectEntra, "contoso" },
		"Okta's uid as a claim": func(c *idptest.Config) {
			c.Dialect = idptest.DialectOkta
			c.Users[0].Claims = map[string]any{"uid": "x"}
		},
		"Entra's roles as claim": func(c *idptest.Config) {
			c.Dialect = idptest.DialectEntra
			c.Users[0].Claims = map[string]any{"roles": "x"}
		},
		"Keycloak's realm_access": func(c *idptest.Config) {
			c.Dialect = idptest.DialectKeycloak
			c.Users[0].Claims = map[string]any{"realm_access": 1}
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := idptest.Demo()
			mutate(&cfg)
			if _, err := idptest.New(cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	cfg := idptest.Demo()
	cfg.Users[0].Claims = map[string]any{"uid": "x"} // not reserved at Auth0
	if s, err := idptest.New(cfg); err != nil {
		t.Errorf("Auth0 dialect refused a uid claim: %v", err)
	} else {
		s.Close()
	}
	names := []string{}
	for d := idptest.DialectAuth0; d <= idptest.DialectDex; d++ {
		names = append(names, d.String())
	}
	if !slices.Equal(names, []string{"auth0", "rfc9068", "okta", "keycloak", "entra", "entra-v1", "dex"}) || idptest.Dialect(99).String() != "Dialect(99)" {
		t.Errorf("names %v", names)
	}
}
