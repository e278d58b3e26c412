package idptest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// refreshWith exchanges rt as venue-app; extra are more form pairs.
func refreshWith(t *testing.T, idp *idptest.Server, rt string, extra ...string) answer {
	t.Helper()
	f := form(append([]string{"grant_type", "refresh_token", "refresh_token", rt,
		"client_id", "venue-app", "client_secret", "venue-app-secret"}, extra...)...)
	return post(t, idp.TokenURL(), f)
}

func wantState(t *testing.T, idp *idptest.Server, rt string, want idptest.RefreshState) {
	t.Helper()
	if got := idp.RefreshTokenState(rt); got != want {
		t.Errorf("refresh token state = %v, want %v", got, want)
	}
}

func TestRefreshRotationAndReuseInterval(t *testing.T) {
	idp := start(t, func(c *idptest.Config) { c.RefreshReuseInterval = 10 * time.Second })
	login := grant(t, idp, aliceLogin)
	first := login.str("refresh_token")
	wantState(t, idp, first, idptest.RefreshActive)

	idp.Advance(time.Hour)
	a := refreshWith(t, idp, first)
	if a.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", a.status, a.raw)
	}
	second := a.str("refresh_token")
	if second == "" || second == first || a.str("id_token") == "" || a.str("scope") != login.str("scope") {
		t.Fatalf("refresh answer: %s", a.raw)
	}
	at := verify(t, idp, a.str("access_token"))
	if at.PrivateClaims()["gty"] != "password" || !at.IssuedAt().Equal(idp.Now()) {
		t.Errorf("refreshed token: gty %v iat %v", at.PrivateClaims()["gty"], at.IssuedAt())
	}
	wantState(t, idp, first, idptest.RefreshRotated)
	wantState(t, idp, second, idptest.RefreshActive)

	// Within the reuse interval the rotated token still works, as at Auth0.
	idp.Advance(9 * time.Second)
	a = refreshWith(t, idp, first)
	if a.status != http.StatusOK || a.str("refresh_token") == "" {
		t.Fatalf("reuse within the interval: %d %s", a.status, a.raw)
	}
	third := a.str("refresh_token")

	// After it, the same token is reuse: the whole family goes.
	idp.Advance(time.Second)
	a = refreshWith(t, idp, first)
	if a.status != http.StatusBadRequest || a.str("error") != "invalid_grant" {
		t.Fatalf("reuse after the interval: %d %s", a.status, a.raw)
	}
	for _, rt := range []string{first, second, third} {
		wantState(t, idp, rt, idptest.RefreshRevoked)
	}
	if a := refreshWith(t, idp, third); a.status != http.StatusBadRequest || a.str("error") != "invalid_grant" {
		t.Errorf("the family's newest token after reuse: %d %s", a.status, a.raw)
	}
}

func TestRefreshReuseWithoutInterval(t *testing.T) {
	idp := start(t) // the demo's reuse interval is 0
	first := grant(t, idp, aliceLogin).str("refresh_token")
	second := grant(t, idp, form("grant_type", "refresh_token", "refresh_token", first,
		"client_id", "venue-app", "client_secret", "venue-app-secret")).str("refresh_token")
	// The clock is frozen: even at the very instant of rotation a second use
	// is reuse.
	if a := refreshWith(t, idp, first); a.status != http.StatusBadRequest || a.str("error") != "invalid_grant" {
		t.Fatalf("reuse: %d %s", a.status, a.raw)
	}
	wantState(t, idp, second, idptest.RefreshRevoked)
}

func TestRefreshRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, idp *idptest.Server, rt string) string // returns the token to present
		extra  []string
		status int
		err    string
		state  idptest.RefreshState // of the login's token afterwards
	}{
		{"unknown token", func(_ *testing.T, _ *idptest.Server, _ string) string { return "not-a-refresh-token" }, nil, 400, "invalid_grant", idptest.RefreshActive},
		{"no token", func(_ *testing.T, _ *idptest.Server, _ string) string { return "" }, nil, 400, "invalid_request", idptest.RefreshActive},
		{"expired family", func(t *testing.T, idp *idptest.Server, rt string) string { idp.Advance(30 * 24 * time.Hour); return rt }, nil, 400, "invalid_grant", idptest.RefreshExpired},
		{"revoked family", func(t *testing.T, idp *idptest.Server, rt string) string {
			revoke(t, idp, "venue-app", rt)
			return rt
		}, nil, 400, "invalid_grant", idptest.RefreshRevoked},
		{"removed user", func(t *testing.T, idp *idptest.Server, rt string) string { idp.RemoveUser("alice"); return rt }, nil, 403, "invalid_grant", idptest.RefreshActive},
		{"scope wider than granted", func(_ *testing.T, _ *idptest.Server, rt string) string { return rt }, []string{"scope", "read:venues manage:venues"}, 400, "invalid_scope", idptest.RefreshActive},
		{"another client's token", func(_ *testing.T, _ *idptest.Server, rt string) string { return rt }, []string{"client_id", "partner-app", "client_secret", "partner-app-secret"}, 400, "invalid_grant", idptest.RefreshActive},
		{"wrong client secret", func(_ *testing.T, _ *idptest.Server, rt string) string { return rt }, []string{"client_secret", "nope"}, 401, "invalid_client", idptest.RefreshActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := start(t)
			rt := grant(t, idp, aliceLogin).str("refresh_token")
			a := refreshWith(t, idp, tc.setup(t, idp, rt), tc.extra...)
			if a.status != tc.status || a.str("error") != tc.err {
				t.Errorf("%d %s, want %d %s", a.status, a.raw, tc.status, tc.err)
			}
			wantState(t, idp, rt, tc.state)
		})
	}
}

func TestRefreshNarrowsScope(t *testing.T) {
	idp := start(t)
	rt := grant(t, idp, aliceLogin).str("refresh_token")
	a := refreshWith(t, idp, rt, "scope", "read:venues")
	if a.status != http.StatusOK || a.str("scope") != "read:venues" || a.str("id_token") != "" {
		t.Fatalf("narrowed refresh: %d %s", a.status, a.raw)
	}
	if c := verify(t, idp, a.str("access_token")).PrivateClaims(); c["scope"] != "read:venues" {
		t.Errorf("scope claim = %v", c["scope"])
	}
	// The new refresh token keeps the scopes first granted (RFC 6749 §6).
	wide := refreshWith(t, idp, a.str("refresh_token"))
	if wide.status != http.StatusOK || wide.str("scope") != "openid profile offline_access read:venues book:venues read:datasets" {
		t.Errorf("refresh with the new token: %d %s", wide.status, wide.raw)
	}
}

func TestRefreshWithoutRotation(t *testing.T) {
	idp := start(t, func(c *idptest.Config) { c.Clients[0].DisableRotation = true })
	rt := grant(t, idp, aliceLogin).str("refresh_token")
	for i := range 3 {
		a := refreshWith(t, idp, rt)
		if a.status != http.StatusOK || a.str("access_token") == "" || a.str("refresh_token") != "" {
			t.Fatalf("refresh %d: %d %s", i, a.status, a.raw)
		}
	}
	wantState(t, idp, rt, idptest.RefreshActive)
}

func TestRefreshTokenOnlyWithOfflineAccess(t *testing.T) {
	idp := start(t)
	if a := grant(t, idp, with(aliceLogin, "scope", "openid read:venues")); a.str("refresh_token") != "" {
		t.Error("a refresh token without offline_access")
	}
	if got := idp.RefreshTokenState("never-issued"); got != idptest.RefreshUnknown {
		t.Errorf("state of an unknown token = %v", got)
	}
}

func TestPublicClientRefreshesWithPKCE(t *testing.T) {
	const verifier = "another-long-pkce-code-verifier-of-at-least-43-characters"
	idp := start(t, func(c *idptest.Config) {
		c.Clients = append(c.Clients, idptest.Client{ID: "spa", Name: "Single-page app", Kind: idptest.ClientFirstParty,
			Grants: []string{"authorization_code", "refresh_token"}})
	})
	code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "spa", Username: "carol", Audience: api,
		Scopes: []string{"offline_access", "read:venues"}, CodeChallenge: idptest.S256Challenge(verifier), CodeChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	a := grant(t, idp, form("grant_type", "authorization_code", "code", code, "client_id", "spa", "code_verifier", verifier))
	a = grant(t, idp, form("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"), "client_id", "spa"))
	if verify(t, idp, a.str("access_token")).PrivateClaims()["azp"] != "spa" || a.str("refresh_token") == "" {
		t.Errorf("refresh answer: %s", a.raw)
	}
	if b := post(t, idp.TokenURL(), form("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"), "client_id", "spa", "client_secret", "guess")); b.status != 401 {
		t.Errorf("a public client presenting a secret: %d %s", b.status, b.raw)
	}
}

// TestRefreshTokens: a user's refresh tokens through a client are listed,
// rotated ones included, and no one else's.
func TestRefreshTokens(t *testing.T) {
	idp := start(t)
	first := grant(t, idp, aliceLogin).str("refresh_token")
	second := refreshWith(t, idp, first).str("refresh_token")
	got := idp.RefreshTokens("auth0|alice", "venue-app")
	if len(got) != 2 || !(got[0] == first && got[1] == second || got[0] == second && got[1] == first) {
		t.Errorf("RefreshTokens = %v, want %s and %s", got, first, second)
	}
	if got := idp.RefreshTokens("auth0|alice", "partner-app"); len(got) != 0 {
		t.Errorf("another client's: %v", got)
	}
	if got := idp.RefreshTokens("auth0|bob", "venue-app"); len(got) != 0 {
		t.Errorf("another user's: %v", got)
	}
}
