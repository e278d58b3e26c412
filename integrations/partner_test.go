package integrations_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/integrations"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

const api = "https://api.venue.example"

// instance is one instance of a venue-style service: the data route behind
// the middleware and the integration check, the revoker, and the
// integrations service on the shared SQLite database.
type instance struct {
	integrations *integrations.Service
	routes       http.Handler
}

func newInstance(t *testing.T, idp *idptest.Server, nodes *memcachedtest.Cluster, dbPath string, grants authn.ProviderGrants) *instance {
	t.Helper()
	ctx := context.Background()
	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{api},
		Mapping: claims.Mapping{FirstPartyClients: []string{"venue-app"}}}, tokenvalidator.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	cluster, err := cache.NewCluster(nodes.Addrs(), cache.ClusterConfig{ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Close() })
	shared, err := cache.NewMemcache(cluster, cache.MemcacheConfig{Namespace: "test/venue", HashKey: []byte("0123456789abcdef0123456789abcdef"),
		MACKeys: []cache.MACKey{{ID: 1, Secret: []byte("fedcba9876543210fedcba9876543210")}}}, cache.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.NewAuthenticator(v, authn.Config{MemoryTTL: 30 * time.Second}, authn.WithMemcache(shared), authn.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	store, err := integrations.OpenSQLite(ctx, dbPath, integrations.SQLConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := integrations.New(store, &authn.Revoker{Authenticator: a, Grants: grants}, integrations.Config{}, integrations.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	mw, err := middleware.New(a, middleware.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return &instance{integrations: svc, routes: mw.Handler(mw.RequireIntegration(svc)(ok))}
}

func (in *instance) call(token string) int {
	r := httptest.NewRequest(http.MethodGet, "/v1/venues", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	in.routes.ServeHTTP(w, r)
	return w.Code
}

// partnerTokens has partner-app log alice in to org_acme by authorization
// code, as a partner does, and keep both tokens.
func partnerTokens(t *testing.T, idp *idptest.Server) (access, refreshToken string) {
	t.Helper()
	code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: "alice",
		Audience: api, Scopes: []string{"offline_access", "read:venues"}, Organization: "org_acme"})
	if err != nil {
		t.Fatal(err)
	}
	return exchange(t, idp, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
}

func exchange(t *testing.T, idp *idptest.Server, form url.Values) (access, refreshToken string) {
	t.Helper()
	form.Set("client_id", "partner-app")
	form.Set("client_secret", "partner-app-secret")
	resp, err := http.PostForm(idp.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	return tok.Access, tok.Refresh
}

// TestPartnerIntegration is issue 14's second "done when", on three
// instances: a partner's delegated token is refused before alice enables
// its integration, accepted after, and refused again everywhere once she
// disables it — on the instance she disabled it on at once, on the others
// once their caches have passed MemoryTTL — and its refresh token is
// revoked at the provider.
func TestPartnerIntegration(t *testing.T) {
	cfg := idptest.Demo()
	cfg.Clients = append(cfg.Clients, idptest.Client{ID: "admin", Secret: "admin-secret", Kind: idptest.ClientMachine,
		Grants: []string{"client_credentials"}, ManagementScopes: []string{"read:grants", "delete:grants"}})
	idp := idptest.Start(t, cfg)
	idp.SetNow(time.Unix(1_900_000_000, 400_000_000))
	nodes := memcachedtest.StartCluster(t, 3)
	grants, err := authn.NewAuth0Grants(authn.Auth0GrantsConfig{Domain: idp.Issuer(), ClientID: "admin", ClientSecret: "admin-secret"})
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "integrations.db")
	var fleet [3]*instance
	for i := range fleet {
		fleet[i] = newInstance(t, idp, nodes, db, grants)
	}
	ctx := context.Background()
	access, refreshToken := partnerTokens(t, idp)

	for i, in := range fleet {
		if got := in.call(access); got != http.StatusForbidden {
			t.Errorf("instance %d, before alice enables the partner: %d, want 403", i, got)
		}
	}
	if _, err := fleet[0].integrations.Enable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
		t.Fatal(err)
	}
	if got := fleet[0].call(access); got != http.StatusOK {
		t.Errorf("the enabling instance, at once: %d, want 200", got)
	}
	idp.Advance(2 * time.Second) // the others' NegativeTTL
	for i, in := range fleet {
		if got := in.call(access); got != http.StatusOK {
			t.Errorf("instance %d, once enabled: %d, want 200", i, got)
		}
	}

	if err := fleet[1].integrations.Disable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
		t.Fatal(err)
	}
	if got := fleet[1].call(access); got != http.StatusUnauthorized {
		t.Errorf("the disabling instance, at once: %d, want 401", got)
	}
	idp.Advance(30 * time.Second) // MemoryTTL, and the integration cache's TTL
	for i, in := range fleet {
		if got := in.call(access); got != http.StatusUnauthorized {
			t.Errorf("instance %d, once disabled: %d, want 401", i, got)
		}
	}
	if st := idp.RefreshTokenState(refreshToken); st != idptest.RefreshRevoked {
		t.Errorf("the partner's refresh token: %v, want revoked", st)
	}
	if again, _ := exchange(t, idp, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}); again != "" {
		t.Error("the partner refreshed its way to a new token")
	}
	// Consent again, and the user's integration again: a new token works.
	idp.Advance(time.Second)
	access, _ = partnerTokens(t, idp)
	if got := fleet[2].call(access); got != http.StatusForbidden {
		t.Errorf("a new partner token while disabled: %d, want 403", got)
	}
	if _, err := fleet[2].integrations.Enable(ctx, "auth0|alice", "partner-app", "org_acme"); err != nil {
		t.Fatal(err)
	}
	if got := fleet[2].call(access); got != http.StatusOK {
		t.Errorf("a new partner token once enabled again: %d, want 200", got)
	}
}
