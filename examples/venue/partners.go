package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/integrations"
	"github.com/authgate/authgate/middleware"
)

// Seed 001: partner apps (a CMS syncing contacts, say) act for users who
// enabled them. A partner gets its tokens for a user the OAuth way; the
// venue API lets its calls through only while the user's integration is
// on, and turning it off cuts the partner off everywhere.

// managementClient is the embedded provider's machine client for the
// Management API: disabling an integration deletes the user's grant to
// the partner there, which revokes the partner's refresh tokens.
var managementClient = idptest.Client{ID: "venue-management", Secret: "venue-management-secret", Kind: idptest.ClientMachine,
	Grants: []string{"client_credentials"}, ManagementScopes: []string{"read:grants", "delete:grants"}}

// providerGrants returns where the user's grants are deleted at the
// provider: Auth0's Management API with MANAGEMENT_CLIENT_ID, or none.
func providerGrants(s settings) ([]authn.Option, error) {
	if s.managementClientID == "" {
		return nil, nil
	}
	g, err := authn.NewAuth0Grants(authn.Auth0GrantsConfig{Domain: s.issuer(), ClientID: s.managementClientID, ClientSecret: s.managementClientSecret})
	if err != nil {
		return nil, err
	}
	return []authn.Option{authn.WithProviderGrants(g)}, nil
}

// partners keeps the integrations users enable, in the SQLite database
// of their connections.
type partners struct {
	svc   *integrations.Service
	store *integrations.SQLStore
}

func (p *partners) Close() { p.store.Close() }

func startPartners(ctx context.Context, dbPath string, gate *authn.Gate) (*partners, error) {
	store, err := integrations.OpenSQLite(ctx, dbPath, integrations.SQLConfig{})
	if err != nil {
		return nil, err
	}
	svc, err := integrations.New(store, gate, integrations.Config{})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &partners{svc: svc, store: store}, nil
}

// routes adds the integration routes, for users with their own
// first-party token.
func (p *partners) routes(mux *http.ServeMux, mw *middleware.Middleware) {
	user := func(h http.HandlerFunc) http.Handler { return mw.Handler(mw.RequireKind(claims.KindUser)(h)) }
	mux.Handle("POST /v1/integrations/{client_id}", user(p.enable))
	mux.Handle("DELETE /v1/integrations/{client_id}", user(p.disable))
	mux.Handle("GET /v1/integrations", user(p.list))
}

func (p *partners) enable(w http.ResponseWriter, r *http.Request) {
	u, _ := middleware.PrincipalFrom(r.Context())
	in, err := p.svc.Enable(r.Context(), u.Subject, r.PathValue("client_id"), u.OrgID)
	if err != nil {
		integrationError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, in)
}

func (p *partners) disable(w http.ResponseWriter, r *http.Request) {
	u, _ := middleware.PrincipalFrom(r.Context())
	if err := p.svc.Disable(r.Context(), u.Subject, r.PathValue("client_id"), u.OrgID); err != nil {
		integrationError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *partners) list(w http.ResponseWriter, r *http.Request) {
	u, _ := middleware.PrincipalFrom(r.Context())
	ins, err := p.svc.List(r.Context(), u.Subject)
	if err != nil {
		integrationError(w, err)
		return
	}
	if ins == nil {
		ins = []integrations.Integration{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrations": ins})
}

func integrationError(w http.ResponseWriter, err error) {
	if errors.Is(err, integrations.ErrBadIntegration) {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the integrations store or the revocation failed; retry later")
}

// partnerCallback plays the partner's own server with the embedded
// provider: it trades the authorization code partner-app receives for the
// partner's tokens and shows the access token (a real partner keeps both).
func partnerCallback(idp *idptest.Server, api string) http.HandlerFunc {
	client := &http.Client{Timeout: 10 * time.Second}
	return func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.PostForm(idp.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {r.URL.Query().Get("code")},
			"redirect_uri": {api + "/demo/partner/callback"}, "client_id": {"partner-app"}, "client_secret": {"partner-app-secret"}})
		if err != nil {
			writeError(w, http.StatusBadGateway, "temporarily_unavailable", "the provider could not be reached")
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	}
}

// printPartners prints curl lines for a partner app acting for alice, her
// integration turned on and off, and an administrator's revocation.
func printPartners(out io.Writer, idp *idptest.Server, api string) {
	auth := `-H "Authorization: Bearer $TOKEN"`
	partner := `-H "Authorization: Bearer $PARTNER"`
	authorize := idp.AuthorizeURL() + "?" + url.Values{"response_type": {"code"}, "client_id": {"partner-app"},
		"redirect_uri": {api + "/demo/partner/callback"}, "login_hint": {"alice"}, "organization": {"org_acme"},
		"audience": {idptest.DemoAPI}, "scope": {"offline_access read:venues"}}.Encode()
	fmt.Fprintf(out, `Partner apps (seed 001): partner-app acts for alice only while she has it on; an administrator cuts a user off.
# partner-app gets a token for alice by authorization code (here /demo/partner/callback plays the partner's server) (302)
CALLBACK=$(curl -s -o /dev/null -w '%%{redirect_url}' '%[4]s')
# the partner trades the code for its tokens (200)
PARTNER=$(curl -s "$CALLBACK" | %[2]s)
# partner-app reads venues for alice, who has not enabled it (403)
curl -s %[1]s/v1/venues %[5]s
# alice turns partner-app on for her organization, with her own token (201)
curl -s -X POST %[1]s/v1/integrations/partner-app %[3]s
# now partner-app's calls for alice pass (200)
curl -s %[1]s/v1/venues %[5]s
# alice's integrations (200)
curl -s %[1]s/v1/integrations %[3]s
# alice turns it off: partner-app's tokens for her are refused on every instance, its refresh token revoked (204, then 401)
curl -s -X DELETE %[1]s/v1/integrations/partner-app %[3]s
curl -s %[1]s/v1/venues %[5]s
# alice may not revoke anyone: that takes manage:venues (403)
curl -s -X POST %[1]s/v1/admin/revocations %[3]s -d 'subject=auth0|bob'
# carol, an administrator, gets a manage:venues token from the provider (200)
ADMIN=$(curl -s -X POST %[6]s -d grant_type=password -d username=carol -d password=carol-password -d client_id=venue-app -d client_secret=venue-app-secret -d audience=%[7]s -d scope=manage:venues | %[2]s)
# carol revokes every token alice holds, on every instance, and ends her sessions (204, then 401)
curl -s -X POST %[1]s/v1/admin/revocations -H "Authorization: Bearer $ADMIN" -d 'subject=auth0|alice'
curl -s %[1]s/v1/whoami %[3]s
# a second later alice logs in again: tokens issued after the revocation are accepted (200, then 200)
sleep 1
TOKEN=$(curl -s -X POST %[1]s/auth/login -d username=alice -d password=alice-password -d organization=org_acme | %[2]s)
curl -s %[1]s/v1/whoami %[3]s

`, api, extractToken, auth, authorize, partner, idp.TokenURL(), idptest.DemoAPI)
}
