package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/nginxtest"
)

// gatewayRules is the token service's RULES_FILE in the gateway phase: the
// hot tokens pass the rule the requests match.
const gatewayRules = `{"rules": [
  {"methods": ["POST"], "path_prefix": "/v1/venues/", "scopes": ["book:venues"], "kinds": ["user", "delegated"]},
  {"methods": ["GET"], "path_prefix": "/v1/venues", "scopes": ["read:venues"]}
]}`

// gatewayPhase measures cmd/tokenservice on tokens it has cached — its
// /introspect and /auth endpoints driven directly — and a real nginx in
// front of a trivial API, alone and with auth_request to the token service,
// in rotation within one run.
func (w *world) gatewayPhase(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "authgate-gateway-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ts, stopTS, err := startTokenService(ctx, dir, w.idp.Issuer())
	if err != nil {
		return err
	}
	defer stopTS()
	apiURL, stopAPI, err := serve(ok)
	if err != nil {
		return err
	}
	defer stopAPI()
	api := strings.TrimSuffix(strings.TrimPrefix(apiURL, "http://"), "/")
	alone, err := nginxtest.Launch(filepath.Join(dir, "nginx-alone"), func(addr string) string {
		return fmt.Sprintf(`upstream api { server %s; keepalive 32; }
server { listen %s; proxy_http_version 1.1; proxy_set_header Connection ""; location / { proxy_pass http://api; } }`, api, addr)
	})
	if err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	defer alone.Stop()
	guarded, err := nginxtest.Launch(filepath.Join(dir, "nginx-auth"), func(addr string) string {
		return nginxtest.AuthRequest(addr, strings.TrimPrefix(ts, "http://"), api)
	})
	if err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	defer guarded.Stop()

	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("bench:bench-secret"))
	introspectHeader := http.Header{"Authorization": {basic}}
	nginxHeader := http.Header{"X-Original-Method": {"GET"}, "X-Original-URI": {"/v1/venues"}}
	contenders := []struct {
		name string
		req  func(token string) request
	}{
		{"token service POST /introspect", func(tok string) request {
			return request{kind: "hot", method: "POST", url: ts + "/introspect", form: "token=" + url.QueryEscape(tok), header: introspectHeader, valid: &yes}
		}},
		{"token service GET /auth", func(tok string) request {
			return request{kind: "hot", method: "GET", url: ts + "/auth", token: tok, header: nginxHeader, valid: &yes}
		}},
		{"nginx alone", func(tok string) request {
			return request{kind: "hot", method: "GET", url: alone.URL() + "/v1/venues", token: tok, valid: &yes}
		}},
		{"nginx + auth_request", func(tok string) request {
			return request{kind: "hot", method: "GET", url: guarded.URL() + "/v1/venues", token: tok, valid: &yes}
		}},
	}
	// Warm up: every hot token once through each, so that the token
	// service answers from its in-process tier.
	client := newHTTPClient(w.c.clients)
	for _, ct := range contenders {
		for _, tok := range w.hot {
			if status, err := send(ctx, client, ct.req(tok)); err != nil || status != 200 {
				return fmt.Errorf("%s refuses a hot token: %d %v", ct.name, status, err)
			}
		}
	}
	const rounds = 3
	fmt.Printf("\nGateway: %d clients, %d rounds of %v per contender in rotation, the same %d hot tokens (cached by the token service)\n",
		w.c.clients, rounds, w.c.gateway, len(w.hot))
	names := make([]string, len(contenders))
	for i, ct := range contenders {
		names[i] = ct.name
	}
	rows, err := w.inRotation(ctx, names, rounds, w.c.gateway, func(i int, token string) request { return contenders[i].req(token) })
	if err != nil {
		return err
	}
	fmt.Println()
	fmt.Println("| contender | requests/s | p50 | p99 | unexpected answers |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %.0f | %v | %v | %d |\n", r.name, r.res.perSecond(),
			r.res.percentile(.50).Round(time.Microsecond), r.res.percentile(.99).Round(time.Microsecond), sum(r.res.unexpected))
	}
	a, g := rows[2].res, rows[3].res
	fmt.Printf("\nnginx + auth_request ÷ nginx alone: %.2f of the requests/s, %.2f× the p99\n",
		g.perSecond()/a.perSecond(), float64(g.percentile(.99))/float64(a.percentile(.99)))
	for _, r := range rows {
		if r.res.firstError != "" {
			fmt.Printf("first unexpected answer (%s): %s\n", r.name, r.res.firstError)
		}
	}
	return ctx.Err()
}

// startTokenService builds cmd/tokenservice and starts it against issuer;
// stop ends it.
func startTokenService(ctx context.Context, dir, issuer string) (base string, stop func(), err error) {
	bin := filepath.Join(dir, "tokenservice")
	fmt.Println("\nbuilding cmd/tokenservice …")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/authgate/authgate/cmd/tokenservice").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("building the token service: %v\n%s", err, out)
	}
	rules := filepath.Join(dir, "rules.json")
	if err := os.WriteFile(rules, []byte(gatewayRules), 0o600); err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "ADDR="+addr, "ISSUER_URL="+issuer, "AUDIENCE="+api, "FIRST_PARTY_CLIENTS=venue-app",
		"SERVICE_CLIENTS=bench:bench-secret", "RULES_FILE="+rules)
	logFile, err := os.Create(filepath.Join(dir, "tokenservice.log"))
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	stop = func() { _ = cmd.Process.Kill(); <-exited }
	base = "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("the token service did not become healthy within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
