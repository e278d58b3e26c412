package idptest

import (
	"fmt"
	"net/http"
)

// Endpoint names one of the provider's endpoints, for Calls and SetFault.
type Endpoint string

// The provider's endpoints.
const (
	EndpointDiscovery  Endpoint = "discovery"  // GET /.well-known/openid-configuration
	EndpointJWKS       Endpoint = "jwks"       // GET /.well-known/jwks.json
	EndpointToken      Endpoint = "token"      // POST /oauth/token
	EndpointUserinfo   Endpoint = "userinfo"   // GET or POST /userinfo
	EndpointIntrospect Endpoint = "introspect" // POST /oauth/introspect
	EndpointRevoke     Endpoint = "revoke"     // POST /oauth/revoke
	EndpointAuthorize  Endpoint = "authorize"  // GET /authorize
	EndpointManagement Endpoint = "management" // the Management API under /api/v2/
)

var endpoints = []Endpoint{EndpointDiscovery, EndpointJWKS, EndpointToken, EndpointUserinfo, EndpointIntrospect, EndpointRevoke,
	EndpointAuthorize, EndpointManagement}

// Fault makes an endpoint misbehave; see SetFault.
type Fault int

// The faults an endpoint can be switched to.
const (
	FaultNone        Fault = iota // answer normally
	FaultError                    // 500 with a JSON error body
	FaultUnavailable              // 503 with Retry-After: 1
	FaultHang                     // no answer until the fault is changed, the request's context ends, or Close
	FaultDrop                     // close the TCP connection without any answer
)

// String returns the fault's name, such as "hang".
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

// Calls returns how many requests reached e since New or the last
// ResetCalls, faulted ones included. Go's HTTP client retries an
// idempotent request once when a reused connection is dropped, so a
// FaultDrop on a GET may count twice.
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

// SetFault makes e misbehave as f for the requests that arrive from now on
// and for those hung at e; FaultNone restores it. It may be called at any
// time from any goroutine.
func (s *Server) SetFault(e Endpoint, f Fault) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults[e] = f
	close(s.faultChanged)
	s.faultChanged = make(chan struct{})
}

// fault returns e's fault and a channel closed at its next change.
func (s *Server) fault(e Endpoint) (Fault, <-chan struct{}) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults[e], s.faultChanged
}

// endpoint counts the requests to e and applies e's rate limit and fault
// before h runs.
func (s *Server) endpoint(e Endpoint, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls[e].Add(1)
		if s.rateLimited(w, e) {
			return
		}
		for {
			f, changed := s.fault(e)
			switch f {
			case FaultError:
				writeJSON(w, http.StatusInternalServerError, map[string]string{
					"error": "server_error", "error_description": "idptest: injected fault"})
				return
			case FaultUnavailable:
				w.Header().Set("Retry-After", "1")
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{
					"error": "temporarily_unavailable", "error_description": "idptest: injected fault"})
				return
			case FaultDrop:
				abort()
			case FaultHang:
				select {
				case <-changed:
					continue // the fault changed: apply the new one
				case <-r.Context().Done():
				case <-s.done:
				}
				abort() // Close must not turn a hang into an empty 200
			}
			h(w, r)
			return
		}
	})
}

// abort ends the request by closing its connection without an answer: for
// this panic value net/http discards what the handler buffered, and logs
// nothing.
func abort() { panic(http.ErrAbortHandler) }
