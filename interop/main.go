// Command interop runs the venue example against panva's oidc-provider, a
// certified OpenID provider from npm configured in interop/oidc-provider,
// once with JWT access tokens (RFC 9068) and once with opaque ones (RFC 7662
// introspection), and reports each step PASS or FAIL: discovery, logins by
// authorization code through the venue, whoami, scopes, refresh-token
// rotation, logout, client credentials, tokens for another resource, and
// forged or expired tokens. It exits non-zero when any step fails.
//
//	make interop                     # npm ci, then this
//	cd interop && go run . -repo ..  # the same, once npm ci has run
//
// The provider runs behind a recording proxy at the issuer's address, so
// that each step can say which calls reached the provider and replay a
// rotated refresh token there. The processes' output goes to a log
// directory, printed at the end (kept on failure, or with -keep-logs).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	repo := flag.String("repo", "..", "the authgate repository: examples/venue and interop/oidc-provider are found there")
	timeout := flag.Duration("timeout", 5*time.Minute, "the whole run's time limit")
	keepLogs := flag.Bool("keep-logs", false, "keep the log directory even when every step passes")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	r := &report{w: os.Stdout}
	logDir, err := os.MkdirTemp("", "authgate-interop-")
	if err == nil {
		err = run(ctx, *repo, logDir, r)
	}
	if err != nil {
		r.failed++
		fmt.Printf("FAIL  %-66s %v\n", "the run itself", err)
	}
	r.totals()
	if r.ok() && !*keepLogs {
		os.RemoveAll(logDir)
	} else if logDir != "" {
		fmt.Printf("logs of the provider and the venues: %s\n", logDir)
	}
	if !r.ok() {
		os.Exit(1)
	}
}

// interop is one run's shared state.
type interop struct {
	r        *report
	tap      *tap
	provider *proc
	info     *providerInfo
	tokenURL string // the provider's token endpoint, reached directly (not through the tap)
	venueBin string
	logDir   string
}

var errNoNode = errors.New("node is not on PATH: run scripts/ensure-node.sh (make interop does)")

// loginScopes are the scopes the venue asks at login (LOGIN_SCOPES).
const loginScopes = "openid offline_access read:venues book:venues read:datasets"

func run(ctx context.Context, repo, logDir string, r *report) error {
	if _, err := exec.LookPath("node"); err != nil {
		return errNoNode
	}
	pkg, err := os.ReadFile(filepath.Join(repo, "interop", "oidc-provider", "node_modules", "oidc-provider", "package.json"))
	if err != nil {
		return errors.New("oidc-provider is not installed: run npm ci in interop/oidc-provider (make interop does)")
	}
	var version struct{ Version string }
	_ = json.Unmarshal(pkg, &version)

	// The tap listens at the issuer's address; the provider behind it.
	tapLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer tapLn.Close()
	issuer := "http://" + tapLn.Addr().String()
	phases := []phase{{name: "jwt", jwt: true}, {name: "opaque"}}
	callbacks := map[string]string{}
	for i := range phases {
		if phases[i].addr, err = freeAddr(); err != nil {
			return err
		}
		callbacks[phases[i].name] = "http://" + phases[i].addr + "/auth/callback"
	}
	prov, info, err := startProvider(ctx, repo, logDir, issuer, callbacks)
	if err != nil {
		return err
	}
	defer prov.stop()
	t := newTap(&url.URL{Scheme: "http", Host: info.Listen})
	srv := &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(tapLn)
	defer srv.Close()

	phases[0].resource, phases[0].other, phases[0].client = info.Resources.JWT, info.Resources.Opaque, info.Clients.JWT
	phases[1].resource, phases[1].other, phases[1].client = info.Resources.Opaque, info.Resources.JWT, info.Clients.Opaque
	x := &interop{r: r, tap: t, provider: prov, info: info, tokenURL: "http://" + info.Listen + tokenPath, logDir: logDir}

	r.section(fmt.Sprintf("oidc-provider %s (node %s) at %s", version.Version, nodeVersion(), issuer))
	r.step("provider: discovery", func() (string, error) { return x.discovery(ctx) })
	if x.venueBin, err = buildVenue(ctx, repo, logDir); err != nil {
		return err
	}
	r.step("venue refuses the issuer spelled with a trailing slash", func() (string, error) { return x.trailingSlash(ctx) })
	for _, ph := range phases {
		x.phase(ctx, ph)
	}
	return nil
}

func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// discovery checks the provider's document as the venue will read it.
func (x *interop) discovery(ctx context.Context) (string, error) {
	var md struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
		RevocationEndpoint    string `json:"revocation_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, x.info.Issuer+"/.well-known/openid-configuration", &md); err != nil {
		return "", err
	}
	if md.Issuer != x.info.Issuer {
		return "", fmt.Errorf("issuer %q, want %q", md.Issuer, x.info.Issuer)
	}
	var missing []string
	for name, v := range map[string]string{"authorization_endpoint": md.AuthorizationEndpoint, "token_endpoint": md.TokenEndpoint,
		"introspection_endpoint": md.IntrospectionEndpoint, "revocation_endpoint": md.RevocationEndpoint, "jwks_uri": md.JWKSURI} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return "", fmt.Errorf("the document lists no %s", strings.Join(missing, ", "))
	}
	var set struct {
		Keys []struct{ Kty, Alg, Kid, Use string }
	}
	if err := getJSON(ctx, md.JWKSURI, &set); err != nil {
		return "", err
	}
	var keys []string
	for _, k := range set.Keys {
		keys = append(keys, k.Kty+"/"+k.Alg)
	}
	path := func(u string) string { p, _ := url.Parse(u); return p.Path }
	return fmt.Sprintf("issuer without trailing slash; authorization %s, token %s, introspection %s, revocation %s; keys %v",
		path(md.AuthorizationEndpoint), path(md.TokenEndpoint), path(md.IntrospectionEndpoint), path(md.RevocationEndpoint), keys), nil
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// trailingSlash starts a venue with the issuer spelled with a trailing
// slash (Auth0's habit): Setup must refuse it, naming both spellings.
func (x *interop) trailingSlash(ctx context.Context) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	ph := phase{name: "trailing-slash", addr: addr, resource: x.info.Resources.JWT, client: x.info.Clients.JWT}
	env := ph.env(x.info.Issuer + "/")
	p, err := startVenue(ctx, x.venueBin, x.logDir, "venue-trailing-slash", env)
	if p == nil {
		return "", err
	}
	defer p.stop()
	if err == nil {
		return "", errors.New("the venue started")
	}
	exit, done := p.exited(5 * time.Second)
	if !done || exit == nil {
		return "", fmt.Errorf("the venue did not exit with an error: %v", err)
	}
	out := p.lastOutput()
	if !strings.Contains(out, "trailing slash") {
		return "", fmt.Errorf("the venue's error does not mention the trailing slash:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "venue:") {
			return "exit: " + line, nil
		}
	}
	return "exit: " + exit.Error(), nil
}
