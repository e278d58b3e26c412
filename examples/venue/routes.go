package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/middleware"
)

// routes wires the venue API. Each handler is a few lines: authgate has
// done the authentication and authorization before it runs.
func routes(gate *authn.Gate, partners middleware.IntegrationChecker, reg *prometheus.Registry) http.Handler {
	mw := gate.Middleware
	// data wraps the venue's data routes: a partner app acting for a user
	// passes only while the user has its integration on.
	data := func(h http.Handler) http.Handler { return mw.Handler(mw.RequireIntegration(partners)(h)) }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	mux.Handle("GET /v1/whoami", mw.Handler(http.HandlerFunc(whoami)))
	mux.Handle("GET /v1/venues", data(mw.RequireScopes("read:venues")(http.HandlerFunc(listVenues))))
	mux.Handle("POST /v1/venues/{id}/bookings", data(mw.RequireScopes("book:venues")(
		mw.RequireKind(claims.KindUser, claims.KindDelegated)(http.HandlerFunc(book)))))
	mux.Handle("GET /v1/orgs/{org}/datasets", data(mw.RequireOrganization(pathOrg)(http.HandlerFunc(orgDatasets))))
	// An administrator (or an operator's machine client) with manage:venues
	// cuts off a user, a partner acting for a user, or an organization.
	mux.Handle("POST /v1/admin/revocations", mw.Handler(mw.RequireScopes("manage:venues")(
		mw.RequireKind(claims.KindUser, claims.KindMachine)(gate.Revoker().Handler()))))

	if gate.Refresh != nil {
		mux.Handle("POST /auth/login", gate.Refresh.LoginHandler())
		mux.Handle("POST /auth/refresh", gate.Refresh.RefreshHandler())
		mux.Handle("POST /auth/logout", gate.Refresh.LogoutHandler())
	}
	return mux
}

func pathOrg(r *http.Request) string { return r.PathValue("org") }

// principalJSON is the stable shape of GET /v1/whoami.
type principalJSON struct {
	Subject         string     `json:"subject"`
	AuthorizedParty string     `json:"authorized_party"`
	OrgID           string     `json:"org_id"`
	OrgName         string     `json:"org_name"`
	Scopes          claims.Set `json:"scopes"`
	Permissions     claims.Set `json:"permissions"`
	Kind            string     `json:"kind"`
	Issuer          string     `json:"issuer"`
	ExpiresAt       string     `json:"expires_at"`
}

func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := middleware.PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, principalJSON{
		Subject: p.Subject, AuthorizedParty: p.AuthorizedParty, OrgID: p.OrgID, OrgName: p.OrgName,
		Scopes: p.Scopes, Permissions: p.Permissions, Kind: p.Kind.String(), Issuer: p.Issuer,
		ExpiresAt: p.ExpiresAt.UTC().Format(time.RFC3339),
	})
}

type venue struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Capacity int    `json:"capacity"`
}

var venues = []venue{{"v1", "Harbour Hall", 800}, {"v2", "Old Mill", 120}}

func listVenues(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, venues)
}

func book(w http.ResponseWriter, r *http.Request) {
	p, _ := middleware.PrincipalFrom(r.Context())
	writeJSON(w, http.StatusCreated, map[string]string{
		"venue": r.PathValue("id"), "booked_by": p.Subject, "via": p.AuthorizedParty, "org_id": p.OrgID,
	})
}

func orgDatasets(w http.ResponseWriter, r *http.Request) {
	p, _ := middleware.PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"org_id": p.OrgID, "datasets": p.Enrichment["datasets"]})
}

// datasets is the venue service's enricher: which datasets the caller's
// organization may see. A real service would ask its database; authgate
// caches the answer with the token, so this runs once per token.
type datasets struct{}

var datasetsByOrg = map[string][]string{
	"org_acme":   {"bookings-2026", "footfall", "ticket-sales"},
	"org_globex": {"footfall"},
}

func (datasets) Enrich(_ context.Context, p *claims.Principal) (map[string][]string, error) {
	return map[string][]string{"datasets": datasetsByOrg[p.OrgID]}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
