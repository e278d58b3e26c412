package main

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/secretenv"
	"github.com/authgate/authgate/middleware"
)

// RoomSMart is the third party of seed 000: a lodging marketplace whose
// API lets partners book rooms for its users. Here a second embedded
// provider plays it, and its API runs behind authgate's own middleware.
const lodgingAPI = "https://api.roomsmart.example"

func roomsmartTenant() idptest.Config {
	return idptest.Config{
		APIs:  []idptest.API{{Identifier: lodgingAPI, Scopes: []string{"book:rooms", "read:rooms", "rate:hosts"}, AccessTokenTTL: 10 * time.Minute}},
		Roles: []idptest.Role{{Name: "guest", Permissions: []string{"book:rooms", "read:rooms", "rate:hosts"}}},
		Users: []idptest.User{
			{ID: "roomsmart|alice", Username: "alice", Email: "alice@acme.example", Roles: []string{"guest"}},
			{ID: "roomsmart|bob", Username: "bob", Email: "bob@globex.example", Roles: []string{"guest"}},
		},
		Clients: []idptest.Client{{ID: "lodging-picks", Secret: "lodging-picks-secret", Kind: idptest.ClientPartner,
			Grants: []string{"authorization_code", "refresh_token"}}},
		// RoomSMart names itself in its redirects (RFC 9207), and the
		// venue checks it: a code from another server is refused.
		IssuerInAuthorizationResponse: true,
	}
}

// lodging is the venue service's side of it: connections to RoomSMart,
// the code-flow login, and the RoomSMart API they call.
type lodging struct {
	roomsmart *idptest.Server
	rsAPI     string // RoomSMart's API base URL
	conns     *connections.Service
	login     *connections.Flow // nil without a client for logins
	gate      *authn.Gate
	dbPath    string // the SQLite file of the connections, which the integrations share
	closers   []func()
}

func (l *lodging) Close() {
	for i := len(l.closers) - 1; i >= 0; i-- {
		l.closers[i]()
	}
}

// startLodging starts RoomSMart (provider and API) and the connection
// service of the venue API at api, logging to logger and counting on reg;
// s.issuer() is the venue's provider.
func startLodging(ctx context.Context, s settings, gate *authn.Gate, api string, logger *zap.Logger, reg prometheus.Registerer) (_ *lodging, err error) {
	l := &lodging{gate: gate}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.roomsmart, err = idptest.New(roomsmartTenant()); err != nil {
		return nil, err
	}
	l.closers = append(l.closers, func() { l.roomsmart.Close() })
	if err := l.serveRoomSMartAPI(ctx, logger.Named("roomsmart")); err != nil {
		return nil, err
	}

	var store *connections.SQLStore
	path := s.connectionsDB
	if path == "" {
		dir, err := os.MkdirTemp("", "venue-connections-")
		if err != nil {
			return nil, err
		}
		l.closers = append(l.closers, func() { os.RemoveAll(dir) })
		path = filepath.Join(dir, "connections.db")
	}
	l.dbPath = path
	if store, err = connections.OpenSQLite(ctx, path, connections.SQLConfig{}); err != nil {
		return nil, err
	}
	l.closers = append(l.closers, func() { store.Close() })
	var c connections.Cache = connections.NewMemoryCache(nil)
	if len(s.memcacheServers) > 0 {
		cluster, err := cache.NewCluster(s.memcacheServers, memcacheTuning, cache.WithLogger(logger))
		if err != nil {
			return nil, err
		}
		l.closers = append(l.closers, func() { cluster.Close() })
		c = connections.NewMemcache(cluster)
	}
	flows := connections.FlowConfig{
		Namespace:      s.namespace,
		HashKey:        derive(s.secrets.NameSecret(), "connection names"),
		EncryptionKeys: connectionKeys(s.secrets),
	}
	l.conns, err = connections.New(store, c, connections.Config{FlowConfig: flows, Parties: []connections.Party{{
		Name: "roomsmart", Issuer: l.roomsmart.Issuer(), IssuerInCallback: true, AuthURL: l.roomsmart.AuthorizeURL(), TokenURL: l.roomsmart.TokenURL(), RevocationURL: l.roomsmart.RevocationURL(),
		ClientID: "lodging-picks", ClientSecret: "lodging-picks-secret", RedirectURL: api + "/v1/connections/roomsmart/callback",
		Scopes: []string{"offline_access", "book:rooms"}, Audience: lodgingAPI,
	}}}, connections.WithLogger(logger), connections.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	if gate.Refresh != nil {
		// The service's own login by authorization code, at the
		// authorization endpoint the provider's discovery names.
		md, derr := gate.Discovery(ctx, s.issuer())
		if derr != nil {
			return nil, derr
		}
		l.login, err = connections.NewFlow(c, connections.Party{
			Name: "login", Issuer: md.Issuer, IssuerInCallback: md.IssuerInAuthorizationResponse,
			AuthURL: md.AuthorizationEndpoint, ClientID: s.clientID,
			RedirectURL: api + "/auth/callback", Scopes: s.loginScopes, Audience: s.audience(),
		}, flows, connections.WithLogger(logger))
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// serveRoomSMartAPI runs RoomSMart's booking API on loopback, behind
// authgate (book:rooms required).
func (l *lodging) serveRoomSMartAPI(ctx context.Context, logger *zap.Logger) error {
	gate, err := authn.Setup(ctx, authn.SetupConfig{Issuer: l.roomsmart.Issuer(), Audience: lodgingAPI}, authn.WithLogger(logger))
	if err != nil {
		return err
	}
	l.closers = append(l.closers, func() { gate.Close() })
	mux := http.NewServeMux()
	mux.Handle("POST /v1/rooms/{id}/bookings", gate.Middleware.Handler(gate.Middleware.RequireScopes("book:rooms")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := middleware.PrincipalFrom(r.Context())
			writeJSON(w, http.StatusCreated, map[string]string{"room": r.PathValue("id"), "guest": p.Subject, "booked_through": p.AuthorizedParty})
		}))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	l.closers = append(l.closers, func() { srv.Close() })
	l.rsAPI = "http://" + ln.Addr().String()
	return nil
}

// routes adds the connection and code-login routes to mux.
func (l *lodging) routes(mux *http.ServeMux) {
	mw := l.gate.Middleware
	user := func(h http.HandlerFunc) http.Handler {
		return mw.Handler(mw.RequireKind(claims.KindUser)(h))
	}
	mux.Handle("POST /v1/connections/{party}", user(l.connect))
	mux.Handle("GET /v1/connections/{party}/callback", user(l.callback))
	mux.Handle("GET /v1/connections", user(l.list))
	mux.Handle("DELETE /v1/connections/{party}", user(l.disconnect))
	mux.Handle("POST /v1/lodging/rooms/{id}/bookings", user(l.bookRoom))
	if l.login != nil {
		mux.HandleFunc("GET /auth/authorize", l.authorize)
		mux.HandleFunc("GET /auth/callback", l.loginCallback)
	}
}

func subject(r *http.Request) string {
	p, _ := middleware.PrincipalFrom(r.Context())
	return p.Subject
}

// connect answers {"authorization_url": …}: where the front-end sends the
// user to consent. login_hint (form or query) pre-fills RoomSMart's login.
func (l *lodging) connect(w http.ResponseWriter, r *http.Request) {
	u, err := l.conns.Connect(r.Context(), subject(r), r.PathValue("party"), connections.AuthRequest{LoginHint: r.FormValue("login_hint")})
	if err != nil {
		answerError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // the URL's & stay as they are
	_ = enc.Encode(map[string]string{"authorization_url": u})
}

// callback completes a connection. The party redirects the browser to the
// front-end, which hands the query to this route with the user's token;
// in the walk-through curl does both.
func (l *lodging) callback(w http.ResponseWriter, r *http.Request) {
	cb, err := connections.ParseCallback(r.URL.Query())
	var c *connections.Connection
	if err == nil {
		c, err = l.conns.Complete(r.Context(), subject(r), r.PathValue("party"), cb)
	}
	if err != nil {
		answerError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (l *lodging) list(w http.ResponseWriter, r *http.Request) {
	cs, err := l.conns.List(r.Context(), subject(r))
	if err != nil {
		answerError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": cs})
}

func (l *lodging) disconnect(w http.ResponseWriter, r *http.Request) {
	if err := l.conns.Disconnect(r.Context(), subject(r), r.PathValue("party")); err != nil {
		answerError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// bookRoom books a room at RoomSMart for the caller, with an access token
// of the caller's connection (book:rooms only, shared by every instance).
func (l *lodging) bookRoom(w http.ResponseWriter, r *http.Request) {
	client := oauth2.NewClient(r.Context(), l.conns.TokenSource(r.Context(), subject(r), "roomsmart"))
	client.Timeout = 10 * time.Second
	resp, err := client.Post(l.rsAPI+"/v1/rooms/"+r.PathValue("id")+"/bookings", "application/json", nil)
	if err != nil {
		answerError(w, err)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

// bindingCookie ties a login to the browser that started it, so that a
// callback cannot be replayed in another (login CSRF).
const bindingCookie = "venue_login"

// authorize starts a login by authorization code: a redirect to the
// provider, with the organization (optional) and login_hint asked.
func (l *lodging) authorize(w http.ResponseWriter, r *http.Request) {
	binding := rand.Text()
	u, err := l.login.Start(r.Context(), binding, connections.AuthRequest{
		Organization: r.URL.Query().Get("organization"), LoginHint: r.URL.Query().Get("login_hint")})
	if err != nil {
		answerError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: bindingCookie, Value: binding, Path: "/auth/callback", MaxAge: 600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// loginCallback finishes the login: the code and PKCE verifier go to the
// refresh service, which keeps the refresh token on the server; the client
// gets its access token only.
func (l *lodging) loginCallback(w http.ResponseWriter, r *http.Request) {
	binding, err := r.Cookie(bindingCookie)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "no login was started in this browser")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: bindingCookie, Path: "/auth/callback", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil})
	cb, err := connections.ParseCallback(r.URL.Query())
	var a *connections.Authorization
	if err == nil {
		a, err = l.login.Finish(r.Context(), binding.Value, cb)
	}
	if err != nil {
		answerError(w, err)
		return
	}
	t, err := l.gate.Refresh.ExchangeCode(r.Context(), a.Code, a.RedirectURI, a.CodeVerifier)
	if err != nil {
		if errors.Is(err, claims.ErrUnavailable) {
			answerError(w, err)
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_grant", "the provider refused the code; log in again")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, t)
}

// answerError maps the connection errors to HTTP answers.
func answerError(w http.ResponseWriter, err error) {
	var reconnect *connections.ReconnectError
	switch {
	case errors.As(err, &reconnect):
		writeError(w, http.StatusConflict, "reconnect_required", reconnect.Error())
	case errors.Is(err, connections.ErrUnknownParty):
		writeError(w, http.StatusNotFound, "not_found", "no such party")
	case errors.As(err, new(*connections.AuthorizationError)):
		writeError(w, http.StatusForbidden, "access_denied", err.Error())
	case errors.Is(err, connections.ErrInvalidState), errors.Is(err, connections.ErrBadCallback):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, connections.ErrCodeRefused), errors.Is(err, connections.ErrNoRefreshToken):
		writeError(w, http.StatusBadRequest, "invalid_grant", err.Error())
	default:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "a provider or the store could not be reached; retry later")
	}
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// connectionKeys seal the connections' records with the current secret's
// key and open them with the previous one's too, under the secrets' ids.
func connectionKeys(s secretenv.Secrets) []connections.Key {
	keys := []connections.Key{{ID: s.CurrentID, Secret: derive(s.Current, "connection records")}}
	if s.Previous != nil {
		keys = append(keys, connections.Key{ID: s.PreviousID, Secret: derive(s.Previous, "connection records")})
	}
	return keys
}

// derive returns a 32-byte key for purpose from a secret.
func derive(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "venue "+purpose, 32)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err))
	}
	return k
}
