package idptest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server is a running identity provider. Its methods are safe for
// concurrent use, also while requests are being served.
type Server struct {
	cfg    Config // with defaults; read-only after New
	url    string
	srv    *http.Server
	conns  sync.WaitGroup // one count per open connection (ConnState)
	served chan struct{}  // closed when Serve has returned
	done   chan struct{}  // closed by Close: releases hung requests

	closeOnce sync.Once
	closeErr  error

	calls map[Endpoint]*atomic.Int64 // the map is fixed at New

	faultMu      sync.Mutex // guards faults and faultChanged
	faults       map[Endpoint]Fault
	faultChanged chan struct{} // closed and replaced by every SetFault

	tokenErr atomic.Pointer[TokenError] // set by SetTokenError; nil answers normally

	clockMu  sync.Mutex // guards frozen and frozenAt
	frozen   bool       // set by SetNow and Advance
	frozenAt time.Time

	limits rateLimits // SetRateLimit's limits

	keysMu sync.Mutex // guards keys and signer
	keys   []*key     // published in the JWKS, in order of creation
	signer *key       // one of keys

	mu sync.Mutex // guards st; may be held while taking clockMu
	st *state
}

// New checks cfg, generates the first signing key and starts serving on
// cfg.Addr. The caller must Close the server.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	signer, err := newKey(cfg.SigningAlgorithm)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("idptest: %w", err)
	}
	s := &Server{
		cfg:          cfg,
		url:          "http://" + l.Addr().String(),
		served:       make(chan struct{}),
		done:         make(chan struct{}),
		calls:        make(map[Endpoint]*atomic.Int64, len(endpoints)),
		faults:       make(map[Endpoint]Fault),
		faultChanged: make(chan struct{}),
		keys:         []*key{signer},
		signer:       signer,
		st:           newState(cfg),
	}
	for _, e := range endpoints {
		s.calls[e] = new(atomic.Int64)
	}
	s.managementLocked() // not serving yet
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, cs http.ConnState) {
			// StateNew happens in Serve's goroutine before Serve returns,
			// so every Add precedes the Wait in Close.
			switch cs {
			case http.StateNew:
				s.conns.Add(1)
			case http.StateClosed:
				s.conns.Done()
			}
		},
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(l)
	}()
	return s, nil
}

// Start is New for tests: it fails tb on error and closes the server when
// the test and its subtests end.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("idptest: closing the server: %v", err)
		}
	})
	return s
}

// Close stops the server: it stops listening, ends every request in flight
// (hung ones too) and returns once every connection and handler is gone.
// Calling it again does nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		// Server.Close waits for Serve to return, then closes every
		// connection Serve accepted.
		s.closeErr = s.srv.Close()
		<-s.served
		s.conns.Wait()
	})
	return s.closeErr
}

// URL returns the server's base URL, such as "http://127.0.0.1:41234",
// without a trailing slash.
func (s *Server) URL() string { return s.url }

// Issuer returns the issuer: URL() with a trailing slash, as at Auth0, or
// the Config.Dialect's (see Dialect).
func (s *Server) Issuer() string { return s.issuer() }

// DiscoveryURL returns the URL of the OpenID discovery document.
func (s *Server) DiscoveryURL() string { return s.url + s.paths().discovery }

// JWKSURL returns the URL of the published keys.
func (s *Server) JWKSURL() string { return s.url + s.paths().jwks }

// TokenURL returns the URL of the token endpoint.
func (s *Server) TokenURL() string { return s.url + s.paths().token }

// UserinfoURL returns the URL of the userinfo endpoint.
func (s *Server) UserinfoURL() string { return s.url + s.paths().userinfo }

// IntrospectionURL returns the URL of the RFC 7662 introspection endpoint.
func (s *Server) IntrospectionURL() string { return s.url + s.paths().introspect }

// RevocationURL returns the URL of the RFC 7009 revocation endpoint.
func (s *Server) RevocationURL() string { return s.url + s.paths().revoke }

// userinfoAudience is the audience Auth0 adds to tokens that carry openid.
func (s *Server) userinfoAudience() string { return s.Issuer() + "userinfo" }

// Now returns the provider's time: Config.Now, or the frozen clock once
// SetNow or Advance was called.
func (s *Server) Now() time.Time {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	if s.frozen {
		return s.frozenAt
	}
	return s.cfg.Now()
}

// SetNow freezes the provider's clock at t. The tokens it issues from then
// on are dated by it, and every expiry it checks is judged by it.
func (s *Server) SetNow(t time.Time) {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	s.frozen, s.frozenAt = true, t
}

// Advance moves the provider's clock forward by d (back, if d is
// negative), freezing it first at Config.Now() if it was running.
func (s *Server) Advance(d time.Duration) {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	if !s.frozen {
		s.frozen, s.frozenAt = true, s.cfg.Now()
	}
	s.frozenAt = s.frozenAt.Add(d)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.routeDialect(mux)
	mux.Handle("GET /.well-known/openid-configuration", s.endpoint(EndpointDiscovery, s.serveDiscovery))
	mux.Handle("GET /.well-known/jwks.json", s.endpoint(EndpointJWKS, s.serveJWKS))
	mux.Handle("POST /oauth/token", s.endpoint(EndpointToken, s.serveToken))
	mux.Handle("GET /userinfo", s.endpoint(EndpointUserinfo, s.serveUserinfo))
	mux.Handle("POST /userinfo", s.endpoint(EndpointUserinfo, s.serveUserinfo))
	mux.Handle("POST /oauth/introspect", s.endpoint(EndpointIntrospect, s.serveIntrospect))
	mux.Handle("POST /oauth/revoke", s.endpoint(EndpointRevoke, s.serveRevoke))
	mux.Handle("GET /authorize", s.endpoint(EndpointAuthorize, s.serveAuthorize))
	mux.Handle("GET /api/v2/users/{id}", s.endpoint(EndpointManagement, s.serveUser))
	mux.Handle("PATCH /api/v2/users/{id}", s.endpoint(EndpointManagement, s.servePatchUser))
	mux.Handle("GET /api/v2/grants", s.endpoint(EndpointManagement, s.serveGrants))
	mux.Handle("DELETE /api/v2/grants/{id}", s.endpoint(EndpointManagement, s.serveDeleteGrant))
	return mux
}

// serveDiscovery is the OpenID Connect discovery document.
func (s *Server) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	doc := map[string]any{
		"issuer":                                        s.Issuer(),
		"authorization_endpoint":                        s.AuthorizeURL(),
		"jwks_uri":                                      s.JWKSURL(),
		"token_endpoint":                                s.TokenURL(),
		"userinfo_endpoint":                             s.UserinfoURL(),
		"introspection_endpoint":                        s.IntrospectionURL(),
		"revocation_endpoint":                           s.RevocationURL(),
		"grant_types_supported":                         knownGrants,
		"response_types_supported":                      []string{"code"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         keyAlgorithms,
		"dpop_signing_alg_values_supported":             keyAlgorithms,
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":              []string{"S256"},
		"scopes_supported":                              oidcScopes,
		"claims_supported":                              []string{"sub", "iss", "aud", "exp", "iat", "name", "email", "nonce", "org_id"},
	}
	if s.cfg.IssuerInAuthorizationResponse {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, doc)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
