package idptest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

func TestPasswordGrant(t *testing.T) {
	idp := start(t)
	a := grant(t, idp, aliceLogin)

	if got := a.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := a.header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q", got)
	}
	wantScope := "openid profile offline_access read:venues book:venues read:datasets" // not manage:venues
	if a.str("token_type") != "Bearer" || a.body["expires_in"] != 86400.0 || a.str("scope") != wantScope {
		t.Errorf("answer = %s", a.raw)
	}
	if a.str("refresh_token") == "" || a.str("id_token") == "" {
		t.Errorf("answer lacks the refresh or ID token: %s", a.raw)
	}

	tok := a.str("access_token")
	if n := len(tok); n < 800 || n > 1300 {
		t.Errorf("access token is %d bytes, want about 1 KB like Auth0's", n)
	}
	header, _ := decode(t, tok)
	if header["typ"] != "JWT" || header["alg"] != "RS256" || header["kid"] != idp.SigningKeyID() {
		t.Errorf("header = %v", header)
	}
	at := verify(t, idp, tok)
	if at.Subject() != "auth0|alice" || !slices.Equal(at.Audience(), []string{api, idp.Issuer() + "userinfo"}) {
		t.Errorf("sub %q aud %q", at.Subject(), at.Audience())
	}
	if !at.IssuedAt().Equal(idp.Now()) || !at.Expiration().Equal(idp.Now().Add(24*time.Hour)) {
		t.Errorf("iat %v exp %v, want the provider's clock", at.IssuedAt(), at.Expiration())
	}
	c := at.PrivateClaims()
	for name, want := range map[string]any{
		"azp": "venue-app", "gty": "password", "scope": wantScope, "org_id": "org_acme", "org_name": "acme",
		"https://venue.example/tier": "gold",
	} {
		if c[name] != want {
			t.Errorf("%s = %v, want %v", name, c[name], want)
		}
	}
	if got := c["permissions"]; !equalAny(got, "book:venues", "read:datasets", "read:venues") {
		t.Errorf("permissions = %v", got)
	}
	if at.JwtID() == "" {
		t.Error("no jti")
	}

	id := verify(t, idp, a.str("id_token"))
	ic := id.PrivateClaims()
	if id.Subject() != "auth0|alice" || !slices.Equal(id.Audience(), []string{"venue-app"}) ||
		ic["name"] != "Alice Archer" || ic["email"] != "alice@acme.example" || ic["org_id"] != "org_acme" {
		t.Errorf("ID token: sub %q aud %v claims %v", id.Subject(), id.Audience(), ic)
	}
	if !id.Expiration().Equal(idp.Now().Add(10 * time.Hour)) {
		t.Errorf("ID token exp %v, want 10h", id.Expiration())
	}
}

// TestUserTokens covers who gets what: organizations, tenant-level roles,
// client authentication styles and the opaque userinfo-only token.
func TestUserTokens(t *testing.T) {
	for _, tc := range []struct {
		name        string
		form        []string // changes to aliceLogin
		basic       bool     // client_secret_basic rather than _post
		scope       string
		permissions []string
		org         string // "" = no org_id claim
	}{
		{name: "alice in acme, by org name", form: []string{"organization", "acme", "scope", "read:venues manage:venues"},
			scope: "read:venues", permissions: []string{"book:venues", "read:datasets", "read:venues"}, org: "org_acme"},
		{name: "client_secret_basic", basic: true, form: []string{"scope", "book:venues"},
			scope: "book:venues", permissions: []string{"book:venues", "read:datasets", "read:venues"}, org: "org_acme"},
		{name: "Auth0 password-realm grant", form: []string{"grant_type", "http://auth0.com/oauth/grant-type/password-realm", "realm", "Username-Password-Authentication", "scope", "read:venues"},
			scope: "read:venues", permissions: []string{"book:venues", "read:datasets", "read:venues"}, org: "org_acme"},
		{name: "alice without an organization has no tenant roles", form: []string{"organization", "", "scope", "openid read:venues"},
			scope: "openid", permissions: []string{}},
		{name: "nothing asked, nothing granted", form: []string{"scope", ""},
			scope: "", permissions: []string{"book:venues", "read:datasets", "read:venues"}, org: "org_acme"},
		{name: "bob in globex", form: []string{"username", "bob", "password", "bob-password", "organization", "org_globex", "scope", "read:venues book:venues"},
			scope: "read:venues", permissions: []string{"read:datasets", "read:venues"}, org: "org_globex"},
		{name: "carol, tenant-level admin", form: []string{"username", "carol", "password", "carol-password", "organization", "", "scope", "manage:venues email"},
			scope: "manage:venues email", permissions: []string{"book:venues", "manage:venues", "read:datasets", "read:venues"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			f := with(aliceLogin, tc.form...)
			var a answer
			if tc.basic {
				a = post(t, idp.TokenURL(), with(f, "client_id", "", "client_secret", ""), "venue-app", "venue-app-secret")
			} else {
				a = post(t, idp.TokenURL(), f)
			}
			if a.status != http.StatusOK {
				t.Fatalf("%d %s", a.status, a.raw)
			}
			c := verify(t, idp, a.str("access_token")).PrivateClaims()
			if got, _ := c["scope"].(string); got != tc.scope || a.str("scope") != tc.scope {
				t.Errorf("scope claim %q, answer %q, want %q", got, a.str("scope"), tc.scope)
			}
			if !equalAny(c["permissions"], tc.permissions...) {
				t.Errorf("permissions = %v, want %v", c["permissions"], tc.permissions)
			}
			if got, _ := c["org_id"].(string); got != tc.org {
				t.Errorf("org_id = %q, want %q", got, tc.org)
			}
		})
	}
}

func TestNoAudienceGivesAnOpaqueToken(t *testing.T) {
	idp := start(t)
	a := grant(t, idp, with(aliceLogin, "audience", "", "organization", "", "scope", "openid profile"))
	tok := a.str("access_token")
	if strings.Contains(tok, ".") || len(tok) < 32 {
		t.Fatalf("access token %q is not opaque", tok)
	}
	info := get(t, idp.UserinfoURL(), tok)
	if info.status != http.StatusOK || info.str("sub") != "auth0|alice" {
		t.Errorf("userinfo: %d %s", info.status, info.raw)
	}
	if got := introspect(t, idp, tok).body["aud"]; got != idp.Issuer()+"userinfo" {
		t.Errorf("aud = %v, want only the userinfo audience", got)
	}
}

func TestOpaqueAPI(t *testing.T) {
	idp := start(t, func(c *idptest.Config) {
		c.APIs = append(c.APIs, idptest.API{Identifier: "https://opaque.example", Scopes: []string{"read:things"}, Opaque: true, AccessTokenTTL: time.Hour})
		c.Roles[2].Permissions = append(c.Roles[2].Permissions, "read:things")
	})
	a := grant(t, idp, with(aliceLogin, "username", "carol", "password", "carol-password", "organization", "",
		"audience", "https://opaque.example", "scope", "read:things"))
	tok := a.str("access_token")
	if strings.Contains(tok, ".") || a.body["expires_in"] != 3600.0 {
		t.Fatalf("answer %s: want an opaque token living an hour", a.raw)
	}
	in := introspect(t, idp, tok)
	if in.body["active"] != true || in.str("aud") != "https://opaque.example" || in.str("scope") != "read:things" {
		t.Errorf("introspection: %s", in.raw)
	}
}

func TestAccessTokenTypeAtJWT(t *testing.T) {
	idp := start(t, func(c *idptest.Config) { c.AccessTokenType = "at+jwt" })
	a := grant(t, idp, aliceLogin)
	header, payload := decode(t, a.str("access_token"))
	if header["typ"] != "at+jwt" || payload["client_id"] != "venue-app" || payload["azp"] != "venue-app" {
		t.Errorf("header %v, client_id %v azp %v", header, payload["client_id"], payload["azp"])
	}
	if idHeader, _ := decode(t, a.str("id_token")); idHeader["typ"] != "JWT" {
		t.Errorf("ID token typ = %v, want JWT", idHeader["typ"])
	}
}

func TestClientCredentials(t *testing.T) {
	worker := form("grant_type", "client_credentials", "client_id", "venue-worker", "client_secret", "venue-worker-secret")
	for _, tc := range []struct {
		name  string
		form  []string
		scope string
	}{
		{"default audience, every granted scope", nil, "read:venues read:datasets"},
		{"explicit audience, narrowed", []string{"audience", api, "scope", "read:venues manage:venues"}, "read:venues"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			a := grant(t, idp, with(worker, tc.form...))
			if a.str("refresh_token") != "" || a.str("id_token") != "" || a.str("scope") != tc.scope {
				t.Errorf("answer = %s", a.raw)
			}
			_, payload := decode(t, a.str("access_token"))
			if payload["aud"] != api { // a string, not an array
				t.Errorf("aud = %#v", payload["aud"])
			}
			tok := verify(t, idp, a.str("access_token"))
			c := tok.PrivateClaims()
			if tok.Subject() != "venue-worker@clients" || c["gty"] != "client-credentials" || c["azp"] != "venue-worker" || c["scope"] != tc.scope {
				t.Errorf("sub %q claims %v", tok.Subject(), c)
			}
			if _, ok := c["permissions"]; ok {
				t.Error("a machine token carries permissions")
			}
		})
	}
}

func TestAuthorizationCode(t *testing.T) {
	const verifier = "a-very-long-pkce-code-verifier-of-at-least-43-characters"
	for _, tc := range []struct {
		name     string
		req      idptest.AuthorizeRequest
		exchange []string // the token request's form
	}{
		{
			name: "first-party with PKCE, no secret",
			req: idptest.AuthorizeRequest{ClientID: "venue-app", Username: "alice", RedirectURI: "http://127.0.0.1/cb",
				Audience: api, Scopes: []string{"openid", "read:venues"}, Organization: "org_acme", Nonce: "n-0S6",
				CodeChallenge: idptest.S256Challenge(verifier), CodeChallengeMethod: "S256"},
			exchange: []string{"client_id", "venue-app", "redirect_uri", "http://127.0.0.1/cb", "code_verifier", verifier},
		},
		{
			name: "partner with its secret",
			req: idptest.AuthorizeRequest{ClientID: "partner-app", Username: "alice", RedirectURI: "https://partner.example/cb",
				Audience: api, Scopes: []string{"openid", "read:venues"}, Organization: "org_acme", Nonce: "n-0S6"},
			exchange: []string{"client_id", "partner-app", "client_secret", "partner-app-secret", "redirect_uri", "https://partner.example/cb"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			code, err := idp.AuthorizationCode(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			f := form(append([]string{"grant_type", "authorization_code", "code", code}, tc.exchange...)...)
			a := grant(t, idp, f)
			at := verify(t, idp, a.str("access_token"))
			c := at.PrivateClaims()
			if c["azp"] != tc.req.ClientID || c["scope"] != "openid read:venues" || c["org_id"] != "org_acme" {
				t.Errorf("claims = %v", c)
			}
			if _, ok := c["gty"]; ok {
				t.Errorf("gty = %v, want none for the authorization code grant", c["gty"])
			}
			if id := verify(t, idp, a.str("id_token")); id.PrivateClaims()["nonce"] != "n-0S6" || !slices.Equal(id.Audience(), []string{tc.req.ClientID}) {
				t.Errorf("ID token: aud %v claims %v", id.Audience(), id.PrivateClaims())
			}
			if again := post(t, idp.TokenURL(), f); again.status != http.StatusForbidden || again.str("error") != "invalid_grant" {
				t.Errorf("second use of the code: %d %s", again.status, again.raw)
			}
		})
	}
}

func TestAuthorizationCodeRefusals(t *testing.T) {
	const verifier = "a-very-long-pkce-code-verifier-of-at-least-43-characters"
	pkce := idptest.AuthorizeRequest{ClientID: "venue-app", Username: "alice", RedirectURI: "http://127.0.0.1/cb", Audience: api,
		CodeChallenge: idptest.S256Challenge(verifier), CodeChallengeMethod: "S256"}
	plain := pkce
	plain.CodeChallenge, plain.CodeChallengeMethod = "", ""
	good := []string{"grant_type", "authorization_code", "client_id", "venue-app", "redirect_uri", "http://127.0.0.1/cb", "code_verifier", verifier}
	for _, tc := range []struct {
		name    string
		req     idptest.AuthorizeRequest
		change  []string
		advance time.Duration
		status  int
		err     string
	}{
		{"wrong verifier", pkce, []string{"code_verifier", "not-the-verifier"}, 0, 403, "invalid_grant"},
		{"no verifier", pkce, []string{"code_verifier", ""}, 0, 403, "invalid_grant"},
		{"other redirect_uri", pkce, []string{"redirect_uri", "http://127.0.0.1/other"}, 0, 403, "invalid_grant"},
		{"expired after five minutes", pkce, nil, 5 * time.Minute, 403, "invalid_grant"},
		{"another client", pkce, []string{"client_id", "partner-app", "client_secret", "partner-app-secret"}, 0, 403, "invalid_grant"},
		{"neither secret nor PKCE", plain, []string{"code_verifier", ""}, 0, 401, "invalid_client"},
		{"wrong secret", plain, []string{"client_secret", "nope"}, 0, 401, "invalid_client"},
		{"unknown code", pkce, []string{"code", "made-up"}, 0, 403, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			code, err := idp.AuthorizationCode(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			idp.Advance(tc.advance)
			a := post(t, idp.TokenURL(), with(form(append(good, "code", code)...), tc.change...))
			if a.status != tc.status || a.str("error") != tc.err {
				t.Errorf("%d %s, want %d %s", a.status, a.raw, tc.status, tc.err)
			}
		})
	}
	t.Run("just before expiry", func(t *testing.T) {
		idp := start(t)
		code, _ := idp.AuthorizationCode(pkce)
		idp.Advance(5*time.Minute - time.Second)
		grant(t, idp, form(append(good, "code", code)...))
	})
}

func TestAuthorizationCodeRequestErrors(t *testing.T) {
	idp := start(t)
	for _, tc := range []struct {
		name string
		req  idptest.AuthorizeRequest
		want string
	}{
		{"unknown client", idptest.AuthorizeRequest{ClientID: "nope", Username: "alice"}, "unknown client"},
		{"client without the grant", idptest.AuthorizeRequest{ClientID: "venue-worker", Username: "alice"}, "may not use"},
		{"unknown user", idptest.AuthorizeRequest{ClientID: "venue-app", Username: "mallory"}, "unknown user"},
		{"plain PKCE", idptest.AuthorizeRequest{ClientID: "venue-app", Username: "alice", CodeChallenge: "x", CodeChallengeMethod: "plain"}, "S256"},
		{"not a member", idptest.AuthorizeRequest{ClientID: "venue-app", Username: "bob", Organization: "org_acme"}, "access_denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := idp.AuthorizationCode(tc.req); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "idptest: ") {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestTokenEndpointRefusals(t *testing.T) {
	worker := form("grant_type", "client_credentials", "client_id", "venue-worker", "client_secret", "venue-worker-secret")
	for _, tc := range []struct {
		name   string
		form   map[string]string // nil values are not possible: "" deletes
		base   string            // "alice" or "worker"
		status int
		err    string
		desc   string
	}{
		{"wrong password", map[string]string{"password": "nope"}, "alice", 403, "invalid_grant", "Wrong email or password."},
		{"unknown user", map[string]string{"username": "mallory"}, "alice", 403, "invalid_grant", "Wrong email or password."},
		{"no password", map[string]string{"password": ""}, "alice", 403, "invalid_grant", ""},
		{"unknown grant type", map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, "alice", 400, "unsupported_grant_type", ""},
		{"no grant type", map[string]string{"grant_type": ""}, "alice", 400, "invalid_request", ""},
		{"wrong client secret", map[string]string{"client_secret": "nope"}, "alice", 401, "invalid_client", ""},
		{"unknown client", map[string]string{"client_id": "nope"}, "alice", 401, "invalid_client", ""},
		{"confidential client without its secret", map[string]string{"client_secret": ""}, "alice", 401, "invalid_client", ""},
		{"grant not allowed for the client", map[string]string{"client_id": "partner-app", "client_secret": "partner-app-secret"}, "alice", 403, "unauthorized_client", ""},
		{"not a member of the organization", map[string]string{"organization": "org_globex"}, "alice", 403, "access_denied", ""},
		{"unknown organization", map[string]string{"organization": "org_nope"}, "alice", 403, "access_denied", ""},
		{"unknown audience", map[string]string{"audience": "https://nope.example"}, "alice", 403, "access_denied", ""},
		{"machine asks only scopes it lacks", map[string]string{"scope": "manage:venues"}, "worker", 403, "access_denied", ""},
		{"machine asks for an unknown API", map[string]string{"audience": "https://nope.example"}, "worker", 403, "access_denied", ""},
		{"machine with the password grant", map[string]string{"grant_type": "password", "username": "alice", "password": "alice-password"}, "worker", 403, "unauthorized_client", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			f := aliceLogin
			if tc.base == "worker" {
				f = worker
			}
			for k, v := range tc.form {
				f = with(f, k, v)
			}
			a := post(t, idp.TokenURL(), f)
			if a.status != tc.status || a.str("error") != tc.err || a.str("error_description") == "" {
				t.Fatalf("%d %s, want %d %s", a.status, a.raw, tc.status, tc.err)
			}
			if tc.desc != "" && a.str("error_description") != tc.desc {
				t.Errorf("error_description = %q, want %q", a.str("error_description"), tc.desc)
			}
			if tc.err == "invalid_client" && a.header.Get("WWW-Authenticate") == "" {
				t.Error("invalid_client without WWW-Authenticate")
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Error("error answer without Cache-Control: no-store")
			}
		})
	}
	t.Run("Basic and client_secret together", func(t *testing.T) {
		idp := start(t)
		a := post(t, idp.TokenURL(), aliceLogin, "venue-app", "venue-app-secret")
		if a.status != 400 || a.str("error") != "invalid_request" {
			t.Errorf("%d %s", a.status, a.raw)
		}
	})
	t.Run("no default audience", func(t *testing.T) {
		idp := start(t, func(c *idptest.Config) { c.DefaultAudience = "" })
		a := post(t, idp.TokenURL(), worker)
		if a.status != 403 || a.str("error") != "access_denied" {
			t.Errorf("%d %s", a.status, a.raw)
		}
	})
}

func TestRemovedUserCannotLogIn(t *testing.T) {
	idp := start(t)
	idp.RemoveUser("alice")
	if a := post(t, idp.TokenURL(), aliceLogin); a.status != 403 || a.str("error") != "invalid_grant" {
		t.Errorf("%d %s", a.status, a.raw)
	}
}

// equalAny reports whether v, decoded from JSON, is the array of want.
func equalAny(v any, want ...string) bool {
	got, ok := v.([]any)
	if !ok || len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
