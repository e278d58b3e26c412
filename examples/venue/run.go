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
	// The token service requests are validated through, if any.
	tokenService, tokenServiceClientID, tokenServiceClientSecret string
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

		tokenService:             getenv("TOKEN_SERVICE_URL"),
		tokenServiceClientID:     getenv("TOKEN_SERVICE_CLIENT_ID"),
		tokenServiceClientSecret: getenv("TOKEN_SERVICE_CLIENT_SECRET"),
	}
	for _, srv := range strings.Split(getenv("MEMCACHE_SERVERS"), ",") {
		if srv = strings.TrimSpace(srv); srv != "" {
			s.memcacheServers = append(s.memcacheServers, srv)
		}
	}
	if s.issuer != "" && s.audience == "" {
		return s, errors.New("AUDIENCE is required with ISSUER_URL")
	}
	if s.tokenService != "" && (s.issuer == "" || s.tokenServiceClientID == "" || s.tokenServiceClientSecret == "") {
		return s, errors.New("ISSUER_URL (the token service's provider), TOKEN_SERVICE_CLIENT_ID and TOKEN_SERVICE_CLIENT_SECRET are required with TOKEN_SERVICE_URL")
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
		if idp, err = idptest.New(idptest.Demo()); err != nil {
			return fmt.Errorf("starting the embedded identity provider: %w", err)
		}
		defer idp.Close()
		s.issuer, s.audience = idp.Issuer(), idptest.DemoAPI
		s.clientID, s.clientSecret = or(s.clientID, "venue-app"), or(s.clientSecret, "venue-app-secret")
	}

	logger, _ := zap.NewProduction()
	defer logger.Sync()
	reg := prometheus.NewRegistry()
	setupCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	opts := []authn.Option{authn.WithEnricher("datasets-v1", datasets{}), authn.WithRegisterer(reg), authn.WithLogger(logger)}
	gate, err := authn.Setup(setupCtx, authn.SetupConfig{
		Issuer:          s.issuer,
		Audience:        s.audience,
		ClientID:        s.clientID,
		ClientSecret:    s.clientSecret,
		MemcacheServers: s.memcacheServers,
		Namespace:       s.namespace,
		Secret:          s.secret,
		LoginScopes:     []string{"openid", "profile", "offline_access", "read:venues", "book:venues", "read:datasets"},
	}, opts...)
	if err != nil {
		return err
	}
	defer gate.Close()
	var handler http.Handler
	if s.tokenService == "" {
		handler = routes(gate, reg)
	} else {
		delegated, err := delegate(gate, s, opts...)
		if err != nil {
			return err
		}
		handler = keepInStep(delegated, routes(gate, reg))
	}

	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "venue API listening on http://%s\n", l.Addr())
	if s.tokenService != "" {
		fmt.Fprintf(out, "validating tokens through the token service at %s\n", s.tokenService)
	}
	if idp != nil {
		printDemo(out, idp, "http://"+l.Addr().String())
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

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
