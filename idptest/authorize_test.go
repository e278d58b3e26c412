package idptest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/authgate/authgate/idptest"
)

// noRedirects is a client that returns redirects instead of following
// them, as a test of /authorize needs.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize GETs /authorize with params and returns the redirect's query.
func authorize(t *testing.T, idp *idptest.Server, params url.Values) (int, url.Values) {
	t.Helper()
	resp, err := noRedirects.Get(idp.AuthorizeURL() + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "app.example" || loc.Path != "/cb" || loc.Query().Get("keep") != "1" {
		t.Fatalf("redirect to %q: want the redirect_uri with its own query", resp.Header.Get("Location"))
	}
	return resp.StatusCode, loc.Query()
}

var codeRequest = form("response_type", "code", "client_id", "venue-app", "redirect_uri", "https://app.example/cb?keep=1",
	"scope", "openid offline_access read:venues book:venues", "audience", api, "organization", "acme",
	"state", "st-123", "login_hint", "alice", "code_challenge", idptest.S256Challenge(verifier), "code_challenge_method", "S256")

const verifier = "a-pkce-verifier-a-pkce-verifier-a-pkce-verifier"

// TestAuthorizeCodeFlow: /authorize redirects with a code and the state;
// the code, with the PKCE verifier, gives alice's token for the API in the
// organization asked, and a refresh token.
func TestAuthorizeCodeFlow(t *testing.T) {
	idp := start(t)
	status, q := authorize(t, idp, codeRequest)
	if status != http.StatusFound || q.Get("state") != "st-123" || q.Get("code") == "" || q.Has("error") {
		t.Fatalf("authorize: %d %v", status, q)
	}
	exchange := form("grant_type", "authorization_code", "code", q.Get("code"), "client_id", "venue-app",
		"redirect_uri", "https://app.example/cb?keep=1", "code_verifier", verifier)
	a := grant(t, idp, exchange)
	if a.str("refresh_token") == "" {
		t.Error("no refresh token for offline_access")
	}
	_, claims := decode(t, a.str("access_token"))
	if claims["sub"] != "auth0|alice" || claims["org_id"] != "org_acme" || claims["scope"] != "openid offline_access read:venues book:venues" {
		t.Errorf("claims: %v", claims)
	}
	if a := post(t, idp.TokenURL(), exchange); a.status != 403 || a.str("error") != "invalid_grant" {
		t.Errorf("the code used twice: %d %s", a.status, a.raw)
	}
	if a := post(t, idp.TokenURL(), with(exchange, "code_verifier", "wrong")); a.status != 403 {
		t.Errorf("a wrong verifier: %d", a.status)
	}
}

func TestAuthorizeAnswers(t *testing.T) {
	idp := start(t)
	for _, tc := range []struct {
		name   string
		params url.Values
		setup  func()
		status int
		err    string
	}{
		{"unknown client", with(codeRequest, "client_id", "nobody"), nil, 400, ""},
		{"relative redirect", with(codeRequest, "redirect_uri", "/cb"), nil, 400, ""},
		{"javascript redirect", with(codeRequest, "redirect_uri", "javascript:alert(1)"), nil, 400, ""},
		{"token response type", with(codeRequest, "response_type", "token"), nil, 302, "unsupported_response_type"},
		{"plain PKCE", with(codeRequest, "code_challenge_method", "plain"), nil, 302, "invalid_request"},
		{"method without challenge", with(codeRequest, "code_challenge", ""), nil, 302, "invalid_request"},
		{"not a member", with(codeRequest, "organization", "globex"), nil, 302, "access_denied"},
		{"unknown user", with(codeRequest, "login_hint", "mallory"), nil, 302, "access_denied"},
		{"nobody named", with(codeRequest, "login_hint", ""), nil, 302, "login_required"},
		{"default user", with(codeRequest, "login_hint", "", "organization", ""), func() { idp.SetDefaultUser("carol") }, 302, ""},
		{"login hint by email", with(codeRequest, "login_hint", "alice@acme.example"), nil, 302, ""},
		{"machine client", with(codeRequest, "client_id", "venue-worker"), nil, 302, "access_denied"},
		{"consent declined", codeRequest, func() { idp.DenyConsent(true) }, 302, "access_denied"},
		{"consent given again", codeRequest, func() { idp.DenyConsent(false) }, 302, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			status, q := authorize(t, idp, tc.params)
			if status != tc.status || q.Get("error") != tc.err {
				t.Fatalf("got %d %v, want %d error=%q", status, q, tc.status, tc.err)
			}
			if status == 302 && q.Get("state") != "st-123" {
				t.Errorf("state %q not echoed", q.Get("state"))
			}
			if status == 302 && tc.err != "" && q.Has("code") {
				t.Error("an error redirect carries a code")
			}
		})
	}
	if n := idp.Calls(idptest.EndpointAuthorize); n != 14 {
		t.Errorf("Calls(authorize) = %d, want 14", n)
	}
}

// TestDiscoveryListsAuthorize: the discovery document names /authorize.
func TestDiscoveryListsAuthorize(t *testing.T) {
	idp := start(t)
	if a := get(t, idp.DiscoveryURL(), ""); a.str("authorization_endpoint") != idp.AuthorizeURL() {
		t.Errorf("authorization_endpoint %q", a.str("authorization_endpoint"))
	}
}
