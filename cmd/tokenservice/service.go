package main

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/middleware"
)

// service is the token service's HTTP side. Everything that authenticates
// is the library's: the Authenticator (cache tiers, validation), the
// middleware (token extraction, the answers and challenges of RFC 6750, the
// Require… checks the rules are made of).
type service struct {
	auth    middleware.Authenticator
	mw      *middleware.Middleware
	clients serviceClients
	rules   []rule
	answers *prometheus.CounterVec // by endpoint and status
}

func newService(auth middleware.Authenticator, mw *middleware.Middleware, clients serviceClients, rules []rule, reg prometheus.Registerer) *service {
	s := &service{auth: auth, mw: mw, clients: clients, rules: rules}
	s.answers = metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_tokenservice_answers_total",
		Help: "Answers of the token service by endpoint (introspect, auth) and HTTP status.",
	}, []string{"endpoint", "status"}))
	for _, e := range []string{"introspect", "auth"} {
		for _, code := range answerCodes {
			s.answers.WithLabelValues(e, code)
		}
	}
	return s
}

// answerCodes are the statuses the endpoints answer with; anything else is
// counted as "other".
var answerCodes = []string{"200", "400", "401", "403", "499", "503", "other"}

func (s *service) routes(reg prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("POST /introspect", s.counted("introspect", http.HandlerFunc(s.introspect)))
	forward := s.counted("auth", s.mw.Handler(http.HandlerFunc(s.authorize)))
	mux.Handle("GET /auth", forward)
	mux.Handle("/auth/", forward)
	return mux
}

// allow answers a forward-authentication request that passed: 200 with the
// caller in headers the gateway copies to the upstream request. Every
// header is sent, empty or not, so that a gateway replacing them leaves
// none of a client's own.
func allow(w http.ResponseWriter, r *http.Request) {
	p, _ := claims.FromContext(r.Context())
	h := w.Header()
	h.Set("X-Auth-Subject", p.Subject)
	h.Set("X-Auth-Client", p.AuthorizedParty)
	h.Set("X-Auth-Org", p.OrgID)
	h.Set("X-Auth-Scopes", p.Scopes.String())
	h.Set("X-Auth-Kind", p.Kind.String())
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// authorize runs after the middleware has authenticated the request: the
// first rule that matches the original request decides what else it needs.
func (s *service) authorize(w http.ResponseWriter, r *http.Request) {
	method, p, err := original(r)
	if err != nil {
		s.mw.Refuse(w, r, &middleware.Error{Status: http.StatusBadRequest, Code: middleware.CodeInvalidRequest, Description: err.Error(), Err: err})
		return
	}
	if rl := match(s.rules, method, p); rl != nil {
		rl.handler.ServeHTTP(w, r)
		return
	}
	allow(w, r)
}

// maxIntrospectBody bounds an introspection request's body.
const maxIntrospectBody = 64 << 10

// introspect is RFC 7662: a service client asks about a token.
func (s *service) introspect(w http.ResponseWriter, r *http.Request) {
	if !s.clients.authenticate(r) {
		// RFC 7662 §2.1 and RFC 6749 §5.2: the caller must authenticate.
		w.Header().Set("WWW-Authenticate", `Basic realm="introspect", charset="UTF-8"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxIntrospectBody)
	if err := r.ParseForm(); err != nil || len(r.PostForm["token"]) != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "one token is required in a form-encoded body"})
		return
	}
	p, err := s.auth.Authenticate(r.Context(), r.PostForm.Get("token"))
	if err != nil {
		e := middleware.ErrorFor(err)
		if e.Status == http.StatusUnauthorized {
			// RFC 7662 §2.2: anything not active is just that, and never why.
			writeJSON(w, http.StatusOK, inactive{})
			return
		}
		s.mw.Refuse(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, activeAnswer(p))
}

type inactive struct {
	Active bool `json:"active"`
}

// answer is an active token's introspection response: RFC 7662's members
// and authgate's (org_id, org_name, permissions, kind, ext), which
// tokenvalidator.Remote reads back.
type answer struct {
	Active      bool                `json:"active"`
	Subject     string              `json:"sub"`
	ClientID    string              `json:"client_id,omitempty"`
	Scope       string              `json:"scope,omitempty"`
	ExpiresAt   int64               `json:"exp,omitempty"`
	IssuedAt    int64               `json:"iat,omitempty"`
	Issuer      string              `json:"iss,omitempty"`
	Audience    []string            `json:"aud,omitempty"`
	TokenType   string              `json:"token_type"`
	OrgID       string              `json:"org_id,omitempty"`
	OrgName     string              `json:"org_name,omitempty"`
	Permissions []string            `json:"permissions,omitempty"`
	Kind        string              `json:"kind"`
	Ext         map[string][]string `json:"ext,omitempty"`
}

func activeAnswer(p *claims.Principal) answer {
	a := answer{
		Active: true, Subject: p.Subject, ClientID: p.AuthorizedParty, Scope: p.Scopes.String(),
		Issuer: p.Issuer, Audience: p.Audience, TokenType: "Bearer",
		OrgID: p.OrgID, OrgName: p.OrgName, Permissions: p.Permissions.Strings(), Kind: p.Kind.String(), Ext: p.Enrichment,
	}
	if !p.ExpiresAt.IsZero() {
		a.ExpiresAt = p.ExpiresAt.Unix()
	}
	if !p.IssuedAt.IsZero() {
		a.IssuedAt = p.IssuedAt.Unix()
	}
	return a
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// counted counts the answers of next by status.
func (s *service) counted(endpoint string, next http.Handler) http.Handler {
	byCode := make(map[int]prometheus.Counter, len(answerCodes))
	for _, c := range answerCodes {
		if n, err := strconv.Atoi(c); err == nil {
			byCode[n] = s.answers.WithLabelValues(endpoint, c)
		}
	}
	other := s.answers.WithLabelValues(endpoint, "other")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if c, ok := byCode[sw.status]; ok {
			c.Inc()
		} else {
			other.Inc()
		}
	})
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
