package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/secretenv"
	"github.com/authgate/authgate/middleware"
)

// settings are the program's environment, read once.
type settings struct {
	addr, clientID, clientSecret, namespace string
	// issuers and audiences: tokens of any listed issuer for any listed
	// audience are accepted; logins use the first of each.
	issuers, audiences []string
	loginScopes        []string
	preset             claims.Preset
	memcacheServers    []string
	secrets            secretenv.Secrets
	connectionsDB      string
	// The token service requests are validated through, if any.
	tokenService, tokenServiceClientID, tokenServiceClientSecret string
	dpop                                                         middleware.DPoPMode
	publicURL                                                    string
	managementClientID, managementClientSecret                   string
}

// issuer and audience are the ones logins use.
func (s settings) issuer() string   { return s.issuers[0] }
func (s settings) audience() string { return s.audiences[0] }

func readSettings(getenv func(string) string) (settings, error) {
	s := settings{
		addr:         or(getenv("ADDR"), "127.0.0.1:8080"),
		issuers:      list(getenv("ISSUER_URL")),
		audiences:    list(getenv("AUDIENCE")),
		loginScopes:  strings.Fields(getenv("LOGIN_SCOPES")),
		clientID:     getenv("CLIENT_ID"),
		clientSecret: getenv("CLIENT_SECRET"),
		namespace:    or(getenv("CACHE_NAMESPACE"), "venue"),

		connectionsDB:            getenv("CONNECTIONS_DB"),
		tokenService:             getenv("TOKEN_SERVICE_URL"),
		tokenServiceClientID:     getenv("TOKEN_SERVICE_CLIENT_ID"),
		tokenServiceClientSecret: getenv("TOKEN_SERVICE_CLIENT_SECRET"),
		publicURL:                getenv("PUBLIC_URL"),
		managementClientID:       getenv("MANAGEMENT_CLIENT_ID"),
		managementClientSecret:   getenv("MANAGEMENT_CLIENT_SECRET"),
	}
	var err error
	if s.secrets, err = secretenv.Read(getenv); err != nil {
		return s, err
	}
	if s.dpop, err = middleware.ParseDPoPMode(getenv("DPOP")); err != nil {
		return s, err
	}
	if name := getenv("CLAIMS_PRESET"); name != "" {
		if s.preset, err = claims.ParsePreset(name); err != nil {
			return s, fmt.Errorf("CLAIMS_PRESET: %w", err)
		}
	}
	s.memcacheServers = list(getenv("MEMCACHE_SERVERS"))
	if len(s.loginScopes) == 0 {
		s.loginScopes = defaultLoginScopes
	}
	if len(s.issuers) > 0 && len(s.audiences) == 0 {
		return s, errors.New("AUDIENCE is required with ISSUER_URL")
	}
	if s.tokenService != "" && (len(s.issuers) == 0 || s.tokenServiceClientID == "" || s.tokenServiceClientSecret == "") {
		return s, errors.New("ISSUER_URL (the token service's provider), TOKEN_SERVICE_CLIENT_ID and TOKEN_SERVICE_CLIENT_SECRET are required with TOKEN_SERVICE_URL")
	}
	if len(s.memcacheServers) > 0 && s.secrets.Current == nil {
		return s, errors.New("AUTHGATE_SECRET (32+ bytes, the same on every instance) is required with MEMCACHE_SERVERS")
	}
	if s.secrets.Current == nil {
		// One instance, nothing shared: a random key per run will do.
		s.secrets.Current = []byte(rand.Text() + rand.Text())
	}
	return s, nil
}

// run starts the service and serves until ctx ends, logging JSON lines to
// stderr (zap's production logger). ready, when not nil, receives the
// listening address (tests use it).
func run(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error {
	logger, err := zap.NewProduction()
	if err != nil {
		return err
	}
	defer logger.Sync()
	return serve(ctx, getenv, out, ready, hooks{logger: logger})
}

// hooks are what a test may change in the program beyond its settings.
type hooks struct {
	logger *zap.Logger // every component's logger
	// started, when not nil, is handed each embedded identity provider
	// the program starts (the venue's own and RoomSMart), before it
	// serves.
	started func(*idptest.Server)
	// tracerProvider, when not nil, traces the gate (authn.WithTracerProvider).
	tracerProvider trace.TracerProvider
}

// memcacheTuning is what the program's memcached clusters are built with:
// the library's defaults. Its tests, on a machine loaded by parallel test
// binaries under the race detector, give longer timeouts, so that a stall
// of the test process does not take a healthy node out.
var memcacheTuning cache.ClusterConfig

// serve is run with its hooks.
func serve(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string, h hooks) error {
	s, err := readSettings(getenv)
	if err != nil {
		return err
	}
	var idp *idptest.Server
	if len(s.issuers) == 0 {
		tenant := idptest.Demo()
		tenant.Clients = append(tenant.Clients, managementClient)
		if idp, err = idptest.New(tenant); err != nil {
			return fmt.Errorf("starting the embedded identity provider: %w", err)
		}
		defer idp.Close()
		s.issuers, s.audiences = []string{idp.Issuer()}, []string{idptest.DemoAPI}
		s.clientID, s.clientSecret = or(s.clientID, "venue-app"), or(s.clientSecret, "venue-app-secret")
		s.managementClientID, s.managementClientSecret = managementClient.ID, managementClient.Secret
	}
	grants, err := providerGrants(s)
	if err != nil {
		return err
	}
	issuers := make([]authn.IssuerConfig, len(s.issuers))
	for i, iss := range s.issuers {
		issuers[i] = authn.IssuerConfig{Issuer: iss, Audiences: s.audiences, Mapping: claims.Mapping{Preset: s.preset}}
	}
	// The service's own client is at the first issuer: logins go there.
	issuers[0].ClientID, issuers[0].ClientSecret = s.clientID, s.clientSecret

	logger := h.logger
	reg := prometheus.NewRegistry()
	setupCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var tokenService *authn.TokenServiceConfig
	if s.tokenService != "" {
		tokenService = &authn.TokenServiceConfig{URL: strings.TrimSuffix(s.tokenService, "/") + "/introspect",
			ClientID: s.tokenServiceClientID, ClientSecret: s.tokenServiceClientSecret}
	}
	// Listen first: the address is the default PUBLIC_URL that DPoP proofs
	// name.
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	defer l.Close()
	public := publicURLOf(s, l.Addr().String())
	gate, err := authn.Setup(setupCtx, authn.SetupConfig{
		Issuers:         issuers,
		MemcacheServers: s.memcacheServers,
		Memcache:        memcacheTuning,
		Namespace:       s.namespace,
		Secret:          s.secrets.Current,
		SecretID:        s.secrets.CurrentID,
		PreviousSecrets: previousSecrets(s.secrets),
		NameSecret:      s.secrets.Names,
		LoginScopes:     s.loginScopes,
		TokenService:    tokenService,
		DPoP:            s.dpop,
		PublicURL:       public,
	}, append(grants, authn.WithEnricher("datasets-v1", datasets{}), authn.WithRegisterer(reg), authn.WithLogger(logger),
		authn.WithTracerProvider(h.tracerProvider))...)
	if err != nil {
		return err
	}
	defer gate.Close()
	api := "http://" + l.Addr().String()
	lodging, err := startLodging(setupCtx, s, gate, api, logger, reg)
	if err != nil {
		return fmt.Errorf("starting the connections to RoomSMart: %w", err)
	}
	defer lodging.Close()
	partners, err := startPartners(setupCtx, lodging.dbPath, gate)
	if err != nil {
		l.Close()
		return fmt.Errorf("starting the partner integrations: %w", err)
	}
	defer partners.Close()
	mux := http.NewServeMux()
	mux.Handle("/", routes(gate, partners.svc, reg))
	lodging.routes(mux)
	partners.routes(mux, gate.Middleware)
	if idp != nil {
		mux.Handle("GET /demo/partner/callback", partnerCallback(idp, api))
	}
	if h.started != nil {
		for _, p := range []*idptest.Server{idp, lodging.roomsmart} {
			if p != nil {
				h.started(p)
			}
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "venue API listening on http://%s\n", l.Addr())
	fmt.Fprintf(out, "accepting tokens of %s for %s\n", strings.Join(s.issuers, ", "), strings.Join(s.audiences, ", "))
	if s.tokenService != "" {
		fmt.Fprintf(out, "validating tokens through the token service at %s\n", s.tokenService)
	}
	if s.dpop != middleware.DPoPOff {
		fmt.Fprintf(out, "DPoP %s: each proof's htu must be %s followed by the request's path\n", s.dpop, public)
	}
	if idp != nil {
		printDemo(out, idp, api)
		printConnections(out, lodging.roomsmart, api)
		printPartners(out, idp, api)
	}
	if ready != nil {
		ready <- l.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// defaultLoginScopes are asked at login, by password or by authorization
// code, unless LOGIN_SCOPES says otherwise.
var defaultLoginScopes = []string{"openid", "profile", "offline_access", "read:venues", "book:venues", "read:datasets"}

// list splits a comma-separated setting, dropping blanks.
func list(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// previousSecrets is the secret a rotation still accepts, if any.
func previousSecrets(s secretenv.Secrets) []authn.PreviousSecret {
	if s.Previous == nil {
		return nil
	}
	return []authn.PreviousSecret{{ID: s.PreviousID, Secret: s.Previous}}
}
