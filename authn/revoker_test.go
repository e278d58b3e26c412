package authn_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/refresh"
	"github.com/authgate/authgate/tokenvalidator"
)

// fleet is three instances of one service: each an Authenticator, a
// refresh service and a Revoker, over one provider (the demo tenant with
// a Management API client) and three memcached nodes.
type fleet struct {
	*env
	in       [3]*instance
	sessions [3]*refresh.Service
	revokers [3]*authn.Revoker
}

func newFleet(t *testing.T) *fleet {
	cfg := idptest.Demo()
	cfg.Clients = append(cfg.Clients, idptest.Client{ID: "admin", Secret: "admin-secret", Kind: idptest.ClientMachine,
		Grants: []string{"client_credentials"}, ManagementScopes: []string{"read:grants", "delete:grants"}})
	e := &env{t: t, idp: idptest.Start(t, cfg), mc: memcachedtest.Start(t), nodes: memcachedtest.StartCluster(t, 3)}
	e.idp.SetNow(time.Unix(1_900_000_000, 400_000_000))
	f := &fleet{env: e}
	grants, err := authn.NewAuth0Grants(authn.Auth0GrantsConfig{Domain: e.idp.Issuer(), ClientID: "admin", ClientSecret: "admin-secret"})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := cache.NewCluster(e.nodes.Addrs(), cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Close() })
	store := refresh.NewMemcacheStore(cluster)
	for i := range f.in {
		v := e.jwks().(*tokenvalidator.JWKS)
		f.in[i] = e.instance(v, true, authn.Config{})
		f.sessions[i], err = refresh.New(store, v, refresh.Config{
			TokenURL: e.idp.TokenURL(), RevocationURL: e.idp.RevocationURL(),
			ClientID: "venue-app", ClientSecret: "venue-app-secret", Audience: api,
			Scopes:    []string{"openid", "offline_access", "read:venues"},
			Namespace: "test/venue", HashKey: []byte("refresh-names-refresh-names-1234"),
			EncryptionKeys: []refresh.Key{{ID: 1, Secret: []byte("record-key-one-record-key-one-32")}},
		}, refresh.WithTokenCache(f.in[i].a), refresh.WithClock(e.idp.Now))
		if err != nil {
			t.Fatal(err)
		}
		f.revokers[i] = &authn.Revoker{Authenticator: f.in[i].a, Sessions: f.sessions[i], Grants: grants}
	}
	return f
}

// login logs username in through instance i's refresh service.
func (f *fleet) login(i int, username, org string) string {
	f.t.Helper()
	tok, err := f.sessions[i].Login(context.Background(), refresh.Credentials{Username: username, Password: username + "-password", Organization: org})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok.AccessToken
}

// partner has partner-app get tokens for username by authorization code,
// as a partner does: it keeps its refresh token itself.
func (f *fleet) partner(username, org string) (access, refreshToken string) {
	f.t.Helper()
	code, err := f.idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: username,
		Audience: api, Scopes: []string{"offline_access", "read:venues"}, Organization: org})
	if err != nil {
		f.t.Fatal(err)
	}
	resp, err := http.PostForm(f.idp.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"client_id": {"partner-app"}, "client_secret": {"partner-app-secret"}})
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ AccessToken, RefreshToken string }
	if err := json.NewDecoder(resp.Body).Decode(&struct {
		A *string `json:"access_token"`
		R *string `json:"refresh_token"`
	}{&tok.AccessToken, &tok.RefreshToken}); err != nil || tok.RefreshToken == "" {
		f.t.Fatalf("partner code exchange: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken, tok.RefreshToken
}

// TestRevokerRevokeSubject: the whole of issue 14's first "done when",
// on three instances: after RevokeSubject on one, alice's tokens issued
// before — her own and a partner's — are refused at once on the revoking
// instance and on one that never saw them, and on one that cached them
// once MemoryTTL has passed; her sessions are gone, their refresh tokens
// and the partner's revoked at the provider; bob goes on; a login a
// second later works everywhere.
func TestRevokerRevokeSubject(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	own := []string{f.login(0, "alice", "org_acme"), f.login(1, "alice", "")}
	partnerAccess, partnerRefresh := f.partner("alice", "org_acme")
	bob := f.login(2, "bob", "org_globex")
	aliceRTs, bobRTs := f.idp.RefreshTokens("auth0|alice", "venue-app"), f.idp.RefreshTokens("auth0|bob", "venue-app")
	for _, tok := range append(own, partnerAccess, bob) {
		mustAuth(t, f.in[0].a, tok)
		mustAuth(t, f.in[1].a, tok)
	}

	if err := f.revokers[0].RevokeSubject(ctx, "auth0|alice", time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range append(own, partnerAccess) {
		mustRefuse(t, f.in[0].a, tok, "the revoking instance")
		mustRefuse(t, f.in[2].a, tok, "an instance that never saw the token")
	}
	mustAuth(t, f.in[2].a, bob)
	f.idp.Advance(30 * time.Second) // the default MemoryTTL
	for _, tok := range append(own, partnerAccess) {
		mustRefuse(t, f.in[1].a, tok, "an instance that cached the token, after MemoryTTL")
	}
	for i, rt := range append(aliceRTs, partnerRefresh) {
		if st := f.idp.RefreshTokenState(rt); st != idptest.RefreshRevoked {
			t.Errorf("alice's refresh token %d: %v, want revoked", i, st)
		}
	}
	if st := f.idp.RefreshTokenState(bobRTs[0]); st != idptest.RefreshActive {
		t.Errorf("bob's refresh token: %v", st)
	}
	for i, tok := range own {
		if _, err := f.sessions[2].Refresh(ctx, tok); !errors.Is(err, refresh.ErrLoginRequired) {
			t.Errorf("alice's session %d refreshed: %v", i, err)
		}
	}
	if _, err := f.sessions[2].Refresh(ctx, bob); err != nil {
		t.Errorf("bob's session: %v", err)
	}
	f.idp.Advance(time.Second)
	again := f.login(1, "alice", "org_acme")
	for i, in := range f.in {
		if _, err := in.a.Authenticate(ctx, again); err != nil {
			t.Errorf("instance %d: a login after the revocation: %v", i, err)
		}
	}
}

// TestRevokerRevokeGrant: the partner's tokens for alice are refused
// everywhere and its refresh token revoked at the provider; alice's own
// session and the partner's tokens for bob go on; the partner can get new
// tokens once alice consents again.
func TestRevokerRevokeGrant(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	own := f.login(0, "alice", "org_acme")
	aliceAccess, aliceRefresh := f.partner("alice", "org_acme")
	bobAccess, bobRefresh := f.partner("bob", "org_globex")
	mustAuth(t, f.in[1].a, aliceAccess)
	if err := f.revokers[0].RevokeGrant(ctx, "auth0|alice", "partner-app", time.Time{}); err != nil {
		t.Fatal(err)
	}
	for i, in := range []*instance{f.in[0], f.in[2]} {
		mustRefuse(t, in.a, aliceAccess, "the partner's token for alice, instance "+string(rune('0'+2*i)))
	}
	f.idp.Advance(30 * time.Second)
	mustRefuse(t, f.in[1].a, aliceAccess, "an instance that cached it, after MemoryTTL")
	if st := f.idp.RefreshTokenState(aliceRefresh); st != idptest.RefreshRevoked {
		t.Errorf("the partner's refresh token for alice: %v, want revoked", st)
	}
	if st := f.idp.RefreshTokenState(bobRefresh); st != idptest.RefreshActive {
		t.Errorf("the partner's refresh token for bob: %v", st)
	}
	for _, tok := range []string{own, bobAccess} {
		mustAuth(t, f.in[2].a, tok)
	}
	if _, err := f.sessions[1].Refresh(ctx, own); err != nil {
		t.Errorf("alice's own session: %v", err)
	}
	f.idp.Advance(time.Second)
	again, _ := f.partner("alice", "org_acme")
	mustAuth(t, f.in[2].a, again)
}

// TestRevokerRevokeOrganization: every member's token is refused, and a
// member's session cannot refresh; another organization goes on.
func TestRevokerRevokeOrganization(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	alice, bob := f.login(0, "alice", "org_acme"), f.login(0, "bob", "org_globex")
	if err := f.revokers[1].RevokeOrganization(ctx, "org_acme", time.Time{}); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, f.in[2].a, alice, "a member's token")
	mustAuth(t, f.in[2].a, bob)
	f.idp.Advance(time.Second)
	if _, err := f.sessions[2].Refresh(ctx, alice); !errors.Is(err, refresh.ErrLoginRequired) {
		t.Errorf("a member's session refreshed: %v", err)
	}
	if st := f.idp.RefreshTokenState(f.idp.RefreshTokens("auth0|alice", "venue-app")[0]); st != idptest.RefreshRevoked {
		t.Errorf("the member's refresh token: %v, want revoked when the refresh was refused", st)
	}
	if _, err := f.sessions[2].Refresh(ctx, bob); err != nil {
		t.Errorf("another organization's session: %v", err)
	}
}

// TestRevocationHandler: the admin endpoint's answers.
func TestRevocationHandler(t *testing.T) {
	f := newFleet(t)
	h := f.revokers[0].Handler()
	tok := f.login(0, "alice", "org_acme")
	for _, tc := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"json subject", "application/json", `{"subject":"auth0|carol"}`, 204},
		{"form grant", "application/x-www-form-urlencoded", "subject=auth0%7Ccarol&client_id=partner-app", 204},
		{"json organization, issued before", "application/json; charset=utf-8", `{"org_id":"org_globex","issued_before":"2030-03-17T00:00:00Z"}`, 204},
		{"nothing", "application/json", `{}`, 400},
		{"organization and subject", "application/json", `{"org_id":"o","subject":"s"}`, 400},
		{"client alone", "application/x-www-form-urlencoded", "client_id=partner-app", 400},
		{"unknown field", "application/json", `{"subject":"s","sub":"x"}`, 400},
		{"not a string", "application/json", `{"subject":7}`, 400},
		{"repeated", "application/x-www-form-urlencoded", "subject=a&subject=b", 400},
		{"bad time", "application/json", `{"subject":"s","issued_before":"yesterday"}`, 400},
		{"future", "application/json", `{"subject":"s","issued_before":"2099-01-01T00:00:00Z"}`, 400},
		{"text", "text/plain", "subject=s", 400},
		{"no content type", "", `{"subject":"s"}`, 400},
		{"too large", "application/json", `{"subject":"` + strings.Repeat("a", 20<<10) + `"}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/admin/revocations", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Errorf("%d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
	mustAuth(t, f.in[1].a, tok) // none of these named alice
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v1/admin/revocations", strings.NewReader(`{"subject":"auth0|alice"}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, req)
	if w.Code != 204 {
		t.Fatalf("revoking alice: %d %s", w.Code, w.Body)
	}
	mustRefuse(t, f.in[2].a, tok, "alice after the admin revoked her")
}

// FuzzParseRevocation: any body is a revocation of one valid shape or an
// ErrBadRevocation, never a panic.
func FuzzParseRevocation(f *testing.F) {
	f.Add("application/json", `{"subject":"auth0|alice","issued_before":"2030-01-02T03:04:05Z"}`)
	f.Add("application/x-www-form-urlencoded", "subject=a&client_id=b")
	f.Add("application/json", `{"org_id":"org_acme"}`)
	f.Add("application/json", `{"subject":null}`)
	f.Add("application/x-www-form-urlencoded", "%zz")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rv, err := authn.ParseRevocation(req)
		if err != nil {
			if !errors.Is(err, authn.ErrBadRevocation) {
				t.Fatalf("error %v does not match ErrBadRevocation", err)
			}
			return
		}
		grant := rv.Subject != "" && rv.ClientID != "" && rv.OrgID == ""
		subject := rv.Subject != "" && rv.ClientID == "" && rv.OrgID == ""
		org := rv.OrgID != "" && rv.Subject == "" && rv.ClientID == ""
		if !grant && !subject && !org {
			t.Fatalf("accepted %+v", rv)
		}
	})
}
