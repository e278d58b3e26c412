package idptest

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Endpoint names one of the provider's endpoints, for counters and faults.
type Endpoint string

// The provider's endpoints.
const (
	EndpointDiscovery  Endpoint = "discovery"
	EndpointJWKS       Endpoint = "jwks"
	EndpointToken      Endpoint = "token"
	EndpointUserinfo   Endpoint = "userinfo"
	EndpointIntrospect Endpoint = "introspect"
	EndpointRevoke     Endpoint = "revoke"
)

var endpoints = []Endpoint{EndpointDiscovery, EndpointJWKS, EndpointToken, EndpointUserinfo, EndpointIntrospect, EndpointRevoke}

// Fault makes an endpoint misbehave.
type Fault int

// The faults an endpoint can be switched to.
const (
	FaultNone        Fault = iota
	FaultError             // 500 with a JSON error body
	FaultUnavailable       // 503 with Retry-After: 1
	FaultHang              // no answer until the fault is cleared, the request ends, or Close
	FaultDrop              // the connection is closed without any answer
)

// String returns the fault's name.
func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultError:
		return "error"
	case FaultUnavailable:
		return "unavailable"
	case FaultHang:
		return "hang"
	case FaultDrop:
		return "drop"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Server is a running identity provider. It is safe for concurrent use.
type Server struct {
	cfg    Config
	url    string
	srv    *http.Server
	done   chan struct{} // closed by Close
	served chan struct{} // closed when Serve returns

	calls map[Endpoint]*atomic.Int64 // fixed at New

	faultMu      sync.Mutex // guards faults and faultChanged
	faults       map[Endpoint]Fault
	faultChanged chan struct{} // closed and replaced at every SetFault

	mu       sync.Mutex // guards the fields below
	frozenAt time.Time  // the clock, once SetNow or Advance froze it
	frozen   bool
	keys     []*key // published, in order of creation
	signer   *key
	state    *state // users, clients, grants, tokens
}

// New checks cfg, generates the first signing key and starts serving on
// cfg.Addr. Close stops it.
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
		done:         make(chan struct{}),
		served:       make(chan struct{}),
		calls:        make(map[Endpoint]*atomic.Int64, len(endpoints)),
		faults:       map[Endpoint]Fault{},
		faultChanged: make(chan struct{}),
		keys:         []*key{signer},
		signer:       signer,
		state:        newState(cfg),
	}
	for _, e := range endpoints {
		s.calls[e] = new(atomic.Int64)
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(l)
	}()
	return s, nil
}

// Start is New for tests: it fails tb on error and closes the server when
// the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Close stops the server, ending every request in flight (hung ones too).
func (s *Server) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	close(s.done)
	err := s.srv.Close()
	<-s.served
	return err
}

// URL returns the server's base URL, such as "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Issuer returns the issuer: URL() with a trailing slash, as Auth0's.
func (s *Server) Issuer() string { return s.url + "/" }

// DiscoveryURL returns the OpenID discovery document's URL.
func (s *Server) DiscoveryURL() string { return s.url + "/.well-known/openid-configuration" }

// JWKSURL returns the URL of the published keys.
func (s *Server) JWKSURL() string { return s.url + "/.well-known/jwks.json" }

// TokenURL returns the token endpoint's URL.
func (s *Server) TokenURL() string { return s.url + "/oauth/token" }

// UserinfoURL returns the userinfo endpoint's URL.
func (s *Server) UserinfoURL() string { return s.url + "/userinfo" }

// IntrospectionURL returns the RFC 7662 introspection endpoint's URL.
func (s *Server) IntrospectionURL() string { return s.url + "/oauth/introspect" }

// RevocationURL returns the RFC 7009 revocation endpoint's URL.
func (s *Server) RevocationURL() string { return s.url + "/oauth/revoke" }

// Now returns the provider's time: Config.Now, or the frozen clock once
// SetNow or Advance was called.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time {
	if s.frozen {
		return s.frozenAt
	}
	return s.cfg.Now()
}

// SetNow freezes the provider's clock at t. Tokens it issues are dated by
// it, and every expiry it checks is judged by it.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frozen, s.frozenAt = true, t
}

// Advance moves the provider's clock forward by d, freezing it first if
// it was running.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frozenAt, s.frozen = s.now().Add(d), true
}

// Calls returns how many requests reached e, faulted ones included.
func (s *Server) Calls(e Endpoint) int {
	if c, ok := s.calls[e]; ok {
		return int(c.Load())
	}
	return 0
}

// ResetCalls sets every counter back to zero.
func (s *Server) ResetCalls() {
	for _, c := range s.calls {
		c.Store(0)
	}
}

// SetFault makes e misbehave as f from now on; FaultNone restores it and
// releases requests hung at e.
func (s *Server) SetFault(e Endpoint, f Fault) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults[e] = f
	close(s.faultChanged)
	s.faultChanged = make(chan struct{})
}

func (s *Server) fault(e Endpoint) (Fault, <-chan struct{}) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults[e], s.faultChanged
}

// endpoint counts requests to e and applies its fault before h runs.
func (s *Server) endpoint(e Endpoint, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls[e].Add(1)
		for {
			f, changed := s.fault(e)
			switch f {
			case FaultError:
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "injected fault"})
				return
			case FaultUnavailable:
				w.Header().Set("Retry-After", "1")
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
				return
			case FaultDrop:
				if hj, ok := w.(http.Hijacker); ok {
					if conn, _, err := hj.Hijack(); err == nil {
						conn.Close()
						return
					}
				}
				panic(http.ErrAbortHandler) // closes the connection without an answer
			case FaultHang:
				select {
				case <-changed:
					continue
				case <-r.Context().Done():
					return
				case <-s.done:
					return
				}
			}
			h(w, r)
			return
		}
	})
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/openid-configuration", s.endpoint(EndpointDiscovery, s.serveDiscovery))
	mux.Handle("GET /.well-known/jwks.json", s.endpoint(EndpointJWKS, s.serveJWKS))
	mux.Handle("POST /oauth/token", s.endpoint(EndpointToken, s.serveToken))
	mux.Handle("/userinfo", s.endpoint(EndpointUserinfo, s.serveUserinfo))
	mux.Handle("POST /oauth/introspect", s.endpoint(EndpointIntrospect, s.serveIntrospect))
	mux.Handle("POST /oauth/revoke", s.endpoint(EndpointRevoke, s.serveRevoke))
	return mux
}

func (s *Server) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.Issuer(),
		"authorization_endpoint":                s.url + "/authorize",
		"token_endpoint":                        s.TokenURL(),
		"userinfo_endpoint":                     s.UserinfoURL(),
		"jwks_uri":                              s.JWKSURL(),
		"introspection_endpoint":                s.IntrospectionURL(),
		"revocation_endpoint":                   s.RevocationURL(),
		"grant_types_supported":                 knownGrants,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
	})
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	keys := make([]map[string]any, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, k.jwk())
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400")
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// SigningKeyID returns the kid of the key that signs new tokens.
func (s *Server) SigningKeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signer.kid
}

// AddKey generates a key for alg ("RS256", "RS384", "RS512", "PS256",
// "ES256", "ES384", "ES512" or "EdDSA") and publishes it; it does not sign
// until UseKey.
func (s *Server) AddKey(alg string) (string, error) {
	k, err := newKey(alg)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	return k.kid, nil
}

// UseKey makes the published key kid the signer of new tokens.
func (s *Server) UseKey(kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keyLocked(kid)
	if k == nil {
		return fmt.Errorf("idptest: no published key %q", kid)
	}
	s.signer = k
	return nil
}

// RetireKey removes the key kid from the JWKS; the signer cannot be retired.
func (s *Server) RetireKey(kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signer.kid == kid {
		return errors.New("idptest: the signing key cannot be retired; UseKey another first")
	}
	for i, k := range s.keys {
		if k.kid == kid {
			s.keys = append(s.keys[:i], s.keys[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("idptest: no published key %q", kid)
}

// RotateKey adds a key for alg and makes it the signer; the old key stays
// published until retired, as at Auth0.
func (s *Server) RotateKey(alg string) (string, error) {
	kid, err := s.AddKey(alg)
	if err != nil {
		return "", err
	}
	return kid, s.UseKey(kid)
}

// PublicKey returns the public key of the published key kid.
func (s *Server) PublicKey(kid string) (crypto.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keyLocked(kid); k != nil {
		return k.public(), true
	}
	return nil, false
}

func (s *Server) keyLocked(kid string) *key {
	for _, k := range s.keys {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
