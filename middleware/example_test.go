package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/integrations"
	"github.com/authgate/authgate/middleware"
)

// A service's routes behind the middleware: Handler authenticates, the
// Require… helpers authorize, and the handler reads the caller from its
// request's context.
func Example() {
	idp, _ := idptest.New(idptest.Demo()) // stands in for https://tenant.auth0.com/
	defer idp.Close()
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuer: idp.Issuer(), Audience: idptest.DemoAPI, FirstPartyClients: []string{"venue-app"},
	})
	if err != nil {
		panic(err)
	}
	defer gate.Close()
	mw := gate.Middleware // or middleware.New(authenticator, middleware.Config{…})

	mux := http.NewServeMux()
	mux.Handle("GET /v1/whoami", mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintln(w, p.Subject, p.Kind, p.OrgID)
	})))
	mux.Handle("GET /v1/venues", mw.Handler(mw.RequireScopes("read:venues")(listVenues)))

	alice := token(idp, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Organization: "org_acme", Scopes: []string{"read:venues"}})
	try(mux, "GET", "/v1/whoami", "")
	try(mux, "GET", "/v1/whoami", alice)
	try(mux, "GET", "/v1/venues", alice)
	try(mux, "GET", "/v1/venues", alice+"x")
	// Output:
	// 401 Bearer realm="api"
	// 200 auth0|alice user org_acme
	// 200 ["Harbour Hall"]
	// 401 Bearer realm="api", error="invalid_token", error_description="the access token is invalid"
}

// Optional lets requests without a token through with no Principal, for a
// route that answers everyone but says more to a caller it knows; a token
// that is sent must still be valid.
func ExampleNew() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI})
	if err != nil {
		panic(err)
	}
	defer gate.Close()

	mw, err := middleware.New(gate.Authenticator, middleware.Config{Realm: "venues", Optional: true})
	if err != nil {
		panic(err)
	}
	h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := middleware.PrincipalFrom(r.Context()); ok {
			fmt.Fprintln(w, "hello", p.Subject)
			return
		}
		fmt.Fprintln(w, "hello stranger")
	}))
	try(h, "GET", "/", "")
	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "bob", ClientID: "venue-app", Audience: idptest.DemoAPI}))
	try(h, "GET", "/", "not-a-token")
	// Output:
	// 200 hello stranger
	// 200 hello auth0|bob
	// 401 Bearer realm="venues", error="invalid_token", error_description="the access token is invalid"
}

// RequireScopes needs every scope listed; a refusal names them.
func ExampleMiddleware_RequireScopes() {
	idp, mw, done := venueGate()
	defer done()
	h := mw.Handler(mw.RequireScopes("read:venues", "book:venues")(listVenues))

	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Organization: "org_acme", Scopes: []string{"read:venues", "book:venues"}}))
	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Organization: "org_acme", Scopes: []string{"read:venues"}}))
	// Output:
	// 200 ["Harbour Hall"]
	// 403 Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="read:venues book:venues"
}

// RequireAnyScope needs one of the scopes listed.
func ExampleMiddleware_RequireAnyScope() {
	idp, mw, done := venueGate()
	defer done()
	h := mw.Handler(mw.RequireAnyScope("read:venues", "manage:venues")(listVenues))

	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "carol", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Scopes: []string{"manage:venues"}}))
	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "carol", ClientID: "venue-app", Audience: idptest.DemoAPI}))
	// Output:
	// 200 ["Harbour Hall"]
	// 403 Bearer realm="api", error="insufficient_scope", error_description="the access token has none of the accepted scopes", scope="read:venues manage:venues"
}

// RequirePermissions reads the provider's RBAC permissions (Auth0's
// permissions claim, Keycloak's roles, Entra's app roles; see the claims
// presets), which follow the user's roles rather than the scopes the app
// asked for.
func ExampleMiddleware_RequirePermissions() {
	idp, mw, done := venueGate()
	defer done()
	h := mw.Handler(mw.RequirePermissions("manage:venues")(listVenues))

	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "carol", ClientID: "venue-app", Audience: idptest.DemoAPI})) // venue-admin
	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Organization: "org_acme"}))
	// Output:
	// 200 ["Harbour Hall"]
	// 403 Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required permission"
}

// One service, two APIs: the Gate accepts tokens for either, and each
// route takes its own API's.
func ExampleMiddleware_RequireAudience() {
	const tickets = "https://api.tickets.example"
	cfg := idptest.Demo()
	cfg.APIs = append(cfg.APIs, idptest.API{Identifier: tickets, Scopes: []string{"read:venues"}})
	idp, _ := idptest.New(cfg)
	defer idp.Close()
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{Issuers: []authn.IssuerConfig{
		{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI, tickets}},
	}})
	if err != nil {
		panic(err)
	}
	defer gate.Close()
	mw := gate.Middleware
	h := mw.Handler(mw.RequireAudience(tickets)(listVenues))

	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "bob", ClientID: "venue-app", Audience: tickets}))
	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "bob", ClientID: "venue-app", Audience: idptest.DemoAPI}))
	// Output:
	// 200 ["Harbour Hall"]
	// 403 Bearer realm="api", error="insufficient_scope", error_description="the access token is not for this API"
}

// RequireOrganization keeps each customer to its own data: the token's
// org_id must be the one the path names.
func ExampleMiddleware_RequireOrganization() {
	idp, mw, done := venueGate()
	defer done()
	mux := http.NewServeMux()
	mux.Handle("GET /v1/orgs/{org}/datasets", mw.Handler(mw.RequireOrganization(func(r *http.Request) string {
		return r.PathValue("org")
	})(listVenues)))

	alice := token(idp, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI, Organization: "org_acme"})
	try(mux, "GET", "/v1/orgs/org_acme/datasets", alice)
	try(mux, "GET", "/v1/orgs/org_globex/datasets", alice)
	// Output:
	// 200 ["Harbour Hall"]
	// 403 Bearer realm="api", error="insufficient_scope", error_description="the access token is not for this organization"
}

// RequireKind tells users, partner apps acting for users, and machines
// apart: only people book.
func ExampleMiddleware_RequireKind() {
	idp, mw, done := venueGate()
	defer done()
	h := mw.Handler(mw.RequireKind(claims.KindUser, claims.KindDelegated)(listVenues))

	try(h, "POST", "/", token(idp, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI}))
	try(h, "POST", "/", token(idp, idptest.ClaimsRequest{Username: "bob", ClientID: "partner-app", Audience: idptest.DemoAPI}))
	try(h, "POST", "/", token(idp, idptest.ClaimsRequest{ClientID: "venue-worker"}))
	// Output:
	// 200 ["Harbour Hall"]
	// 200 ["Harbour Hall"]
	// 403 Bearer realm="api", error="insufficient_scope", error_description="this kind of caller may not make this request"
}

// RequirePartners lists the partner apps a route admits; users and
// machines pass it.
func ExampleMiddleware_RequirePartners() {
	idp, mw, done := venueGate()
	defer done()
	h := mw.Handler(mw.RequirePartners("crm-sync")(listVenues))

	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "bob", ClientID: "partner-app", Audience: idptest.DemoAPI}))
	try(h, "GET", "/", token(idp, idptest.ClaimsRequest{Username: "bob", ClientID: "venue-app", Audience: idptest.DemoAPI}))
	// Output:
	// 403 Bearer realm="api", error="insufficient_scope", error_description="this partner app may not make this request"
	// 200 ["Harbour Hall"]
}

// A partner app acting for a user passes RequireIntegration only while the
// user has it enabled (package integrations keeps who enabled what);
// disabling it refuses the partner's tokens everywhere.
func ExampleMiddleware_RequireIntegration() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuer: idp.Issuer(), Audience: idptest.DemoAPI, FirstPartyClients: []string{"venue-app"},
	})
	if err != nil {
		panic(err)
	}
	defer gate.Close()
	partners, err := integrations.New(&integrations.MemoryStore{}, gate, integrations.Config{})
	if err != nil {
		panic(err)
	}
	mw := gate.Middleware
	h := mw.Handler(mw.RequireIntegration(partners)(listVenues))
	partner := token(idp, idptest.ClaimsRequest{Username: "bob", ClientID: "partner-app", Audience: idptest.DemoAPI, Organization: "org_globex"})

	try(h, "GET", "/", partner)
	_, _ = partners.Enable(context.Background(), "auth0|bob", "partner-app", "org_globex") // bob, with his own token
	try(h, "GET", "/", partner)
	_ = partners.Disable(context.Background(), "auth0|bob", "partner-app", "org_globex")
	try(h, "GET", "/", partner)
	// Output:
	// 403 Bearer realm="api", error="insufficient_scope", error_description="the user has not enabled this partner app"
	// 200 ["Harbour Hall"]
	// 401 Bearer realm="api", error="invalid_token", error_description="the access token is invalid"
}

// The middleware and its checks are plain func(http.Handler) http.Handler,
// so they compose by hand or with any router that takes that type: with
// chi, r.Use(mw.Handler) and r.With(mw.RequireScopes("book:venues")).Post(…);
// with gorilla/mux, r.Use(mw.Handler) and sub.Use(mw.RequireScopes(…)).
// Authentication comes first; the checks after it, in any order.
func Example_chaining() {
	idp, mw, done := venueGate()
	defer done()
	chain := func(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}
	book := chain(listVenues, mw.Handler, mw.RequireScopes("book:venues"), mw.RequireKind(claims.KindUser))

	try(book, "POST", "/", token(idp, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Organization: "org_acme", Scopes: []string{"book:venues"}}))
	try(book, "POST", "/", "")
	// Output:
	// 200 ["Harbour Hall"]
	// 401 Bearer realm="api"
}

// WithErrorWriter replaces the refusals' body — here with RFC 9457
// problem details — while the status and the challenge stay the
// middleware's.
func ExampleWithErrorWriter() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI})
	if err != nil {
		panic(err)
	}
	defer gate.Close()
	mw, err := middleware.New(gate.Authenticator, middleware.Config{}, middleware.WithErrorWriter(
		func(w http.ResponseWriter, r *http.Request, e *middleware.Error) {
			w.Header().Set("WWW-Authenticate", middleware.Challenge(e))
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(e.Status)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": e.Status, "title": e.Code, "detail": e.Description})
		}))
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	mw.Handler(listVenues).ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body)
	// Output: 401 {"detail":"the access token is invalid","status":401,"title":"invalid_token"}
}

// venueGate returns the demo provider and a Gate's middleware trusting
// it, with venue-app as the service's own app (partner-app's users are
// delegated calls), and a function that closes both.
func venueGate() (*idptest.Server, *middleware.Middleware, func()) {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuer: idp.Issuer(), Audience: idptest.DemoAPI, FirstPartyClients: []string{"venue-app"},
	})
	if err != nil {
		panic(err)
	}
	return idp, gate.Middleware, func() { gate.Close(); idp.Close() }
}

// token is idp's access token for req; in a test, idp.AccessToken(t, req)
// is the one-line form.
func token(idp *idptest.Server, req idptest.ClaimsRequest) string {
	c, err := idp.UserClaims(req)
	if req.Username == "" {
		c, err = idp.MachineClaims(req.ClientID, req.Audience)
	}
	if err != nil {
		panic(err)
	}
	tok, err := idp.Mint(c)
	if err != nil {
		panic(err)
	}
	return tok
}

// listVenues stands for a service's handler.
var listVenues = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, `["Harbour Hall"]`)
})

// try sends a request to h with token as its bearer token (none when
// empty) and prints the status, and the challenge of a refusal or the
// body of an answer.
func try(h http.Handler, method, target, token string) {
	req := httptest.NewRequest(method, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
		return
	}
	fmt.Print(rec.Code, " ", rec.Body)
}
