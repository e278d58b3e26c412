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
	"go.uber.org/zap"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/idptest"
)

// settings are the program's environment, read once.
type settings struct {
	addr, issuer, audience, clientID, clientSecret, namespace string
	memcacheServers                                           []string
	secret                                                    []byte
	connectionsDB                                             string
	managementClientID, managementClientSecret                string
}

func readSettings(getenv func(string) string) (settings, error) {
	s := settings{
		addr:         or(getenv("ADDR"), "127.0.0.1:8080"),
		issuer:       getenv("ISSUER_URL"),
		audience:     getenv("AUDIENCE"),
		clientID:     getenv("CLIENT_ID"),
		clientSecret: getenv("CLIENT_SECRET"),
		namespace:    or(getenv("CACHE_NAMESPACE"), "venue"),
		secret:       []byte(getenv("AUTHGATE_SECRET")),

		connectionsDB: getenv("CONNECTIONS_DB"),

		managementClientID:     getenv("MANAGEMENT_CLIENT_ID"),
		managementClientSecret: getenv("MANAGEMENT_CLIENT_SECRET"),
	}
	for _, srv := range strings.Split(getenv("MEMCACHE_SERVERS"), ",") {
		if srv = strings.TrimSpace(srv); srv != "" {
			s.memcacheServers = append(s.memcacheServers, srv)
		}
	}
	if s.issuer != "" && s.audience == "" {
		return s, errors.New("AUDIENCE is required with ISSUER_URL")
	}
	if len(s.memcacheServers) > 0 && len(s.secret) < 32 {
		return s, errors.New("AUTHGATE_SECRET (32+ bytes, the same on every instance) is required with MEMCACHE_SERVERS")
	}
	if len(s.secret) == 0 {
		// One instance, nothing shared: a random key per run will do.
		s.secret = []byte(rand.Text() + rand.Text())
	}
	return s, nil
}

// run starts the service and serves until ctx ends. ready, when not nil,
// receives the listening address (tests use it).
func run(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error {
	s, err := readSettings(getenv)
	if err != nil {
		return err
	}
	var idp *idptest.Server
	if s.issuer == "" {
		tenant := idptest.Demo()
		tenant.Clients = append(tenant.Clients, managementClient)
		if idp, err = idptest.New(tenant); err != nil {
			return fmt.Errorf("starting the embedded identity provider: %w", err)
		}
		defer idp.Close()
		s.issuer, s.audience = idp.Issuer(), idptest.DemoAPI
		s.clientID, s.clientSecret = or(s.clientID, "venue-app"), or(s.clientSecret, "venue-app-secret")
		s.managementClientID, s.managementClientSecret = managementClient.ID, managementClient.Secret
	}
	grants, err := providerGrants(s)
	if err != nil {
		return err
	}

	logger, _ := zap.NewProduction()
	defer logger.Sync()
	reg := prometheus.NewRegistry()
	setupCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	gate, err := authn.Setup(setupCtx, authn.SetupConfig{
		Issuer:          s.issuer,
		Audience:        s.audience,
		ClientID:        s.clientID,
		ClientSecret:    s.clientSecret,
		MemcacheServers: s.memcacheServers,
		Namespace:       s.namespace,
		Secret:          s.secret,
		LoginScopes:     loginScopes,
	}, append(grants, authn.WithEnricher("datasets-v1", datasets{}), authn.WithRegisterer(reg), authn.WithLogger(logger))...)
	if err != nil {
		return err
	}
	defer gate.Close()

	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	api := "http://" + l.Addr().String()
	lodging, err := startLodging(setupCtx, s, gate, api)
	if err != nil {
		l.Close()
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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "venue API listening on http://%s\n", l.Addr())
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

// loginScopes are asked at login, by password or by authorization code.
var loginScopes = []string{"openid", "profile", "offline_access", "read:venues", "book:venues", "read:datasets"}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
