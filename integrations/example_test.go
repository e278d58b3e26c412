package integrations_test

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/integrations"
)

// A service lets users turn partner apps on and off with their own token,
// and lets a partner's calls through only while its user has it on.
func Example() {
	ctx := context.Background()
	gate := new(authn.Gate) // in a service: gate, err := authn.Setup(ctx, cfg, authn.WithProviderGrants(grants))
	store, err := integrations.OpenSQLite(ctx, "/var/lib/venue/integrations.db", integrations.SQLConfig{})
	if err != nil {
		return
	}
	defer store.Close()
	svc, err := integrations.New(store, gate, integrations.Config{})
	if err != nil {
		return
	}
	mw := gate.Middleware
	user := func(h http.HandlerFunc) http.Handler { return mw.Handler(mw.RequireKind(claims.KindUser)(h)) }
	mux := http.NewServeMux()
	mux.Handle("POST /v1/integrations/{client_id}", user(func(w http.ResponseWriter, r *http.Request) {
		p, _ := claims.FromContext(r.Context())
		in, err := svc.Enable(r.Context(), p.Subject, r.PathValue("client_id"), p.OrgID)
		if err != nil {
			http.Error(w, "retry later", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(in)
	}))
	mux.Handle("DELETE /v1/integrations/{client_id}", user(func(w http.ResponseWriter, r *http.Request) {
		p, _ := claims.FromContext(r.Context())
		if err := svc.Disable(r.Context(), p.Subject, r.PathValue("client_id"), p.OrgID); err != nil {
			http.Error(w, "retry later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.Handle("GET /v1/venues", mw.Handler(mw.RequireIntegration(svc)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))))
}
