package authn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// One issuer and one API: the common case. Setup discovers the provider's
// endpoints, fetches its keys and fails, naming the problem, when it
// cannot.
func ExampleSetup() {
	idp, err := idptest.New(idptest.Demo()) // stands in for https://tenant.auth0.com/
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuer:   idp.Issuer(),
		Audience: idptest.DemoAPI,
		// MemcacheServers: []string{"mc1:11211", "mc2:11211"}, Secret: secret,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	token := accessToken(idp, idp, "alice")
	p, err := gate.Authenticator.Authenticate(context.Background(), token)
	fmt.Println(p.Subject, p.Kind, err)
	// Output: auth0|alice user <nil>
}

// Several issuers — dev and int tenants here — behind one Setup: a JWT goes
// to the issuer its iss names, and logins to the first issuer with a
// client.
func ExampleSetup_severalIssuers() {
	dev, _ := idptest.New(idptest.Demo())
	defer dev.Close()
	intTenant, _ := idptest.New(idptest.Demo())
	defer intTenant.Close()

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuers: []authn.IssuerConfig{
			{Issuer: dev.Issuer(), Audiences: []string{idptest.DemoAPI}},
			{Issuer: intTenant.Issuer(), Audiences: []string{idptest.DemoAPI}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	for _, idp := range []*idptest.Server{dev, intTenant} {
		_, err := gate.Authenticator.Authenticate(context.Background(), accessToken(idp, idp, "alice"))
		fmt.Println(err == nil)
	}
	// A token naming dev but signed by int's key is refused.
	_, err = gate.Authenticator.Authenticate(context.Background(), accessToken(dev, intTenant, "alice"))
	fmt.Println(err)
	// Output:
	// true
	// true
	// tokenvalidator: invalid token: issuer: the token's kid is another issuer's
}

// A provider other than Auth0: its claim-mapping preset says where it puts
// the authorized party, scopes, roles, organization and the machine mark.
// Here a provider shaped like Dex (no azp, no scope claim, the client id
// as aud), whose users are users of the service's app.
func ExampleSetup_preset() {
	cfg := idptest.Demo()
	cfg.Dialect = idptest.DialectDex
	idp, _ := idptest.New(cfg)
	defer idp.Close()

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuers: []authn.IssuerConfig{{
			Issuer:    idp.Issuer(), // Dex's has no trailing slash
			Audiences: []string{"venue-app"},
			Mapping:   claims.Mapping{Preset: claims.PresetDex, FirstPartyClients: []string{"venue-app"}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Scopes: []string{"openid"}})
	token, _ := idp.Mint(c)
	p, err := gate.Authenticator.Authenticate(context.Background(), token)
	fmt.Println(p.Kind, p.AuthorizedParty, strings.HasSuffix(idp.Issuer(), "/"), err)
	// Output: user venue-app false <nil>
}

// Validation delegated to authgate's token service (cmd/tokenservice) —
// here the provider's own RFC 7662 endpoint stands in for it: each token
// is introspected once, then served from this Gate's tiers until it
// expires, the token service up or not.
func ExampleSetup_tokenService() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuer:   idp.Issuer(),
		Audience: idptest.DemoAPI,
		TokenService: &authn.TokenServiceConfig{
			URL:      idp.IntrospectionURL(), // "http://tokenservice:8081/introspect"
			ClientID: "venue-app", ClientSecret: "venue-app-secret",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	token := accessToken(idp, idp, "alice")
	for range 3 {
		p, err := gate.Authenticator.Authenticate(context.Background(), token)
		fmt.Println(p.Subject, err)
	}
	fmt.Println("introspections:", idp.Calls(idptest.EndpointIntrospect))
	// Output:
	// auth0|alice <nil>
	// auth0|alice <nil>
	// auth0|alice <nil>
	// introspections: 1
}

// DPoP-bound tokens (RFC 9449), required: each request carries a fresh
// proof, signed by the key the token is bound to, naming the URL clients
// reach the service at, good once across every instance that shares
// MemcacheServers.
func ExampleSetup_dpop() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuer:    idp.Issuer(),
		Audience:  idptest.DemoAPI,
		DPoP:      middleware.DPoPRequired,
		PublicURL: "https://api.venue.example", // behind a gateway; proofs name it
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	// The client's key, and a token bound to it (its cnf.jkt), as the
	// provider issues it for a token request that carries a proof.
	key, _ := idptest.NewDPoPKey("ES256")
	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI})
	c["cnf"] = map[string]any{"jkt": key.Thumbprint()}
	token, _ := idp.Mint(c)

	h := gate.Middleware.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	send := func(scheme, proof string) {
		req := httptest.NewRequest(http.MethodGet, "http://10.0.0.7:8080/v1/venues", nil)
		req.Header.Set("Authorization", scheme+" "+token)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Header().Get("WWW-Authenticate"))))
	}
	proof, _ := key.Proof(http.MethodGet, "https://api.venue.example/v1/venues", token, "")
	send("DPoP", proof)
	send("DPoP", proof) // the same proof again
	send("Bearer", "")  // the bound token as a bearer token
	// Output:
	// 200
	// 401 DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof was used before", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"
	// 401 DPoP realm="api", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"
}

// Cutting off a user everywhere — an employee who left, a compromised
// account: the tokens issued to them until now are refused by every
// instance sharing memcached (this one at once), their sessions in the
// refresh service end, and their grants at the provider are deleted when
// WithProviderGrants says where. A login after it works.
func ExampleGate_RevokeSubject() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()
	ctx := context.Background()

	before := accessToken(idp, idp, "alice")
	_, err = gate.Authenticator.Authenticate(ctx, before)
	fmt.Println(err)
	if err := gate.RevokeSubject(ctx, "auth0|alice", time.Time{}); err != nil { // time.Time{}: now
		log.Fatal(err)
	}
	_, err = gate.Authenticator.Authenticate(ctx, before)
	fmt.Println(err)

	idp.Advance(time.Second) // iat has whole seconds: a token of the next one
	_, err = gate.Authenticator.Authenticate(ctx, accessToken(idp, idp, "alice"))
	fmt.Println(err)
	// Output:
	// <nil>
	// authn: invalid token: inactive: the token was invalidated
	// <nil>
}

// An enricher adds what the service knows about the caller — here the
// datasets its organization may see — once per token: the result is
// cached with the Principal in both tiers. Its name binds shared entries:
// change it when the enricher would answer differently.
func ExampleWithEnricher() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	datasets := authn.EnricherFunc(func(ctx context.Context, p *claims.Principal) (map[string][]string, error) {
		return map[string][]string{"datasets": {"footfall", "ticket-sales"}}, nil // from the service's database
	})
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI},
		authn.WithEnricher("datasets-v1", datasets))
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	p, err := gate.Authenticator.Authenticate(context.Background(), accessToken(idp, idp, "alice"))
	fmt.Println(p.Enrichment["datasets"], err)
	// Output: [footfall ticket-sales] <nil>
}

// An Authenticator wired by hand, for a validator Setup does not build —
// here one JWKS validator — with the same tiers, single-flight and
// revocation as Setup's.
func ExampleNewAuthenticator() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	ctx := context.Background()
	keys, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI}})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()

	a, err := authn.NewAuthenticator(keys, authn.Config{MemoryTTL: 10 * time.Second}) // authn.WithMemcache(shared) for the shared tier
	if err != nil {
		log.Fatal(err)
	}
	mw, err := middleware.New(a, middleware.Config{Realm: "venues"})
	if err != nil {
		log.Fatal(err)
	}
	_ = mw // mux.Handle("GET /v1/venues", mw.Handler(…))

	token := accessToken(idp, idp, "alice")
	p, err := a.Authenticate(ctx, token)
	fmt.Println(p.Subject, err)
	fmt.Println(a.Invalidate(ctx, token)) // a logout
	_, err = a.Authenticate(ctx, token)
	fmt.Println(err)
	// Output:
	// auth0|alice <nil>
	// <nil>
	// authn: invalid token: inactive: the token was invalidated
}

// The administrators' revocation endpoint, behind the middleware and a
// scope only administrators get: a subject, a subject and a client (a
// partner's grant), or an organization, as JSON or a form.
func ExampleRevoker_Handler() {
	idp, _ := idptest.New(idptest.Demo())
	defer idp.Close()
	gate, err := authn.Setup(context.Background(), authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()
	mw := gate.Middleware
	h := mw.Handler(mw.RequireScopes("manage:venues")(gate.Revoker().Handler()))

	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "carol", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Scopes: []string{"manage:venues"}})
	admin, _ := idp.Mint(c)
	for _, body := range []string{`{"org_id": "org_globex"}`, `{"org_id": "org_globex", "subject": "auth0|bob"}`} {
		req := httptest.NewRequest(http.MethodPost, "/v1/admin/revocations", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// 204
	// 400
}

// Revoking a partner's grant also deletes the user's consent at Auth0
// through its Management API (a machine client with read:grants and
// delete:grants), which revokes the refresh tokens the partner holds.
func ExampleNewAuth0Grants() {
	tenant := idptest.Demo()
	tenant.Clients = append(tenant.Clients, idptest.Client{ID: "venue-management", Secret: "venue-management-secret",
		Kind: idptest.ClientMachine, Grants: []string{"client_credentials"}, ManagementScopes: []string{"read:grants", "delete:grants"}})
	idp, _ := idptest.New(tenant)
	defer idp.Close()
	grants, err := authn.NewAuth0Grants(authn.Auth0GrantsConfig{
		Domain: idp.Issuer(), ClientID: "venue-management", ClientSecret: "venue-management-secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	gate, err := authn.Setup(ctx, authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI}, authn.WithProviderGrants(grants))
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	// partner-app holds a refresh token for bob, from bob's consent.
	code, _ := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: "bob",
		RedirectURI: "https://partner.example/cb", Audience: idptest.DemoAPI, Scopes: []string{"offline_access"}})
	resp, err := http.PostForm(idp.TokenURL(), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"https://partner.example/cb"}, "client_id": {"partner-app"}, "client_secret": {"partner-app-secret"}})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)

	fmt.Println(gate.RevokeGrant(ctx, "auth0|bob", "partner-app", time.Time{}))
	fmt.Println(idp.RefreshTokenState(answer.RefreshToken) == idptest.RefreshRevoked)
	// Output:
	// <nil>
	// true
}

// A fleet that must start while its provider is down: the Gate answers
// 503 for the issuer's tokens until the provider answers, and Ready says
// so to the readiness probe.
func ExampleGate_Ready() {
	idp, _ := idptest.New(idptest.Demo())
	issuer := idp.Issuer()
	idp.Close() // the provider is down

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{
		Issuer: issuer, Audience: idptest.DemoAPI, StartWithoutProvider: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()
	readyz := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := gate.Ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	rec := httptest.NewRecorder()
	readyz.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), issuer))
	// Output: 503 true
}

// accessToken is alice's token as issuer would issue it, signed by signer.
func accessToken(issuer, signer *idptest.Server, user string) string {
	c, err := issuer.UserClaims(idptest.ClaimsRequest{Username: user, ClientID: "venue-app", Audience: idptest.DemoAPI})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := signer.Mint(c)
	if err != nil {
		log.Fatal(err)
	}
	return tok
}
