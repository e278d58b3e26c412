package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/secretenv"
	"github.com/authgate/authgate/middleware"
)

// run starts the service and serves until ctx ends. ready, when not nil,
// receives the listening address (tests use it).
func run(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error {
	s, err := readSettings(getenv)
	if err != nil {
		return err
	}
	var idp *idptest.Server
	if len(s.issuers) == 0 {
		if idp, err = idptest.New(idptest.Demo()); err != nil {
			return fmt.Errorf("starting the embedded identity provider: %w", err)
		}
		defer idp.Close()
		s.issuers, s.audiences = []string{idp.Issuer()}, []string{idptest.DemoAPI}
		if len(s.mapping.FirstPartyClients) == 0 {
			s.mapping.FirstPartyClients = []string{demoFirstParty}
		}
		if len(s.clients) == 0 {
			s.clients, _ = parseServiceClients(demoServiceClient)
		}
	}

	logger, _ := zap.NewProduction()
	defer logger.Sync()
	reg := prometheus.NewRegistry()
	setupCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	issuers := make([]authn.IssuerConfig, len(s.issuers))
	for i, iss := range s.issuers {
		issuers[i] = authn.IssuerConfig{Issuer: iss, Audiences: s.audiences, Mapping: s.mapping}
	}
	gate, err := authn.Setup(setupCtx, authn.SetupConfig{
		Issuers:           issuers,
		FirstPartyClients: s.mapping.FirstPartyClients,
		MemcacheServers:   s.memcacheServers,
		Namespace:         s.namespace,
		Secret:            s.secrets.Current,
		SecretID:          s.secrets.CurrentID,
		PreviousSecrets:   previousSecrets(s.secrets),
		NameSecret:        s.secrets.Names,
	}, authn.WithRegisterer(reg), authn.WithLogger(logger))
	if err != nil {
		return err
	}
	defer gate.Close()

	rules, err := loadRules(s.rulesFile, idp != nil, gate.Middleware)
	if err != nil {
		return err
	}
	svc := newService(gate.Authenticator, gate.Middleware, s.clients, rules, reg)

	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: svc.routes(reg), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "token service listening on http://%s (issuers %s, audiences %s, %d rules, %d service clients)\n",
		l.Addr(), strings.Join(s.issuers, ", "), strings.Join(s.audiences, ", "), len(rules), len(s.clients))
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

// loadRules reads RULES_FILE; without one, the demo's rules go with the
// embedded provider, and none (any valid token) otherwise.
func loadRules(file string, demo bool, mw *middleware.Middleware) ([]rule, error) {
	var r io.Reader
	switch {
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("RULES_FILE: %w", err)
		}
		defer f.Close()
		r = f
	case demo:
		r = strings.NewReader(demoRules)
	default:
		return nil, nil
	}
	rules, err := parseRules(r, mw, http.HandlerFunc(allow))
	if err != nil && file != "" {
		return nil, fmt.Errorf("RULES_FILE %s: %w", file, err)
	}
	return rules, err
}

// previousSecrets is the secret a rotation still accepts, if any.
func previousSecrets(s secretenv.Secrets) []authn.PreviousSecret {
	if s.Previous == nil {
		return nil
	}
	return []authn.PreviousSecret{{ID: s.PreviousID, Secret: s.Previous}}
}
