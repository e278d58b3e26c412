package main

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/quickstart"
)

// startTokenService builds cmd/tokenservice and runs it as its own process,
// as it is deployed, until stop or the end of the test; its log (stderr)
// goes to logs, or nowhere when nil.
func startTokenService(t *testing.T, logs io.Writer, env ...string) (base string, stop func()) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tokenservice")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/authgate/authgate/cmd/tokenservice").CombinedOutput(); err != nil {
		t.Fatalf("building the token service: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(env, "ADDR=127.0.0.1:0", "PATH=/usr/bin:/bin")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case base = <-found:
	case <-time.After(20 * time.Second):
		t.Fatal("the token service did not start")
	}
	return base, stop
}

// introspections returns how many introspection requests the token service
// has answered (active or not).
func introspections(t *testing.T, tokenService string) int {
	t.Helper()
	resp, err := http.Get(tokenService + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), `authgate_tokenservice_answers_total{endpoint="introspect",status="200"} `); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("no introspection count in the token service's metrics")
	return 0
}

// TestDelegating runs two venue instances that validate through the token
// service, sharing a real memcached: each token is introspected once, then
// served from the venue's own tiers — by both instances, and after the
// token service is gone — until it expires; logouts are still refused
// everywhere; new tokens are 503 while the token service is down.
func TestDelegating(t *testing.T) {
	mc := memcachedtest.Start(t)
	idp := idptest.Start(t, idptest.Demo())
	ts, stopTokenService := startTokenService(t, nil,
		"ISSUER_URL="+idp.Issuer(), "AUDIENCE="+idptest.DemoAPI, "FIRST_PARTY_CLIENTS=venue-app",
		"SERVICE_CLIENTS=venue-api:venue-api-secret", "MEMCACHE_SERVERS="+mc.Addr(),
		"AUTHGATE_SECRET=the token service's secret, 32 bytes or more")
	env := map[string]string{
		"ISSUER_URL": idp.Issuer(), "AUDIENCE": idptest.DemoAPI,
		"CLIENT_ID": "venue-app", "CLIENT_SECRET": "venue-app-secret",
		"MEMCACHE_SERVERS": mc.Addr(), "AUTHGATE_SECRET": "the venue's secret, 32 bytes or more",
		"TOKEN_SERVICE_URL": ts, "TOKEN_SERVICE_CLIENT_ID": "venue-api", "TOKEN_SERVICE_CLIENT_SECRET": "venue-api-secret",
	}
	a, b := quickstart.Start(t, run, env), quickstart.Start(t, run, env)
	if !strings.Contains(a.Output(), "validating tokens through the token service at "+ts) {
		t.Errorf("the venue does not say it delegates:\n%s", a.Output())
	}

	login := func(user, org string) string {
		t.Helper()
		status, body := call(t, "POST", a.URL+"/auth/login", "", url.Values{"username": {user}, "password": {user + "-password"}, "organization": {org}})
		if status != 200 {
			t.Fatalf("login %s: %d %v", user, status, body)
		}
		return body["access_token"].(string)
	}
	user := login("alice", "org_acme")
	status, body := call(t, "POST", idp.TokenURL(), "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"venue-worker"},
		"client_secret": {"venue-worker-secret"}, "audience": {idptest.DemoAPI}})
	if status != 200 {
		t.Fatalf("client credentials: %d %v", status, body)
	}
	machine := body["access_token"].(string)

	before := introspections(t, ts)
	for _, tc := range []struct {
		api, token, method, path string
		want                     int
	}{
		{a.URL, user, "GET", "/v1/venues", 200},
		{a.URL, user, "POST", "/v1/venues/v1/bookings", 201},
		{a.URL, user, "GET", "/v1/orgs/org_acme/datasets", 200},
		{a.URL, user, "GET", "/v1/orgs/org_globex/datasets", 403},
		{b.URL, user, "GET", "/v1/venues", 200}, // the other instance: from memcached
		{a.URL, machine, "GET", "/v1/venues", 200},
		{b.URL, machine, "POST", "/v1/venues/v1/bookings", 403},
		{a.URL, "", "GET", "/v1/venues", 401},
		{a.URL, user + "x", "GET", "/v1/venues", 401},
	} {
		if status, body := call(t, tc.method, tc.api+tc.path, tc.token, nil); status != tc.want {
			t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, status, body, tc.want)
		}
	}
	if n := introspections(t, ts) - before; n != 3 {
		t.Errorf("the token service was asked %d times, want 3: once per token (the forged one too), whichever instance asks", n)
	}
	if status, body := call(t, "GET", b.URL+"/v1/whoami", user, nil); status != 200 || body["kind"] != "user" || body["org_id"] != "org_acme" {
		t.Errorf("whoami: %d %v", status, body)
	}
	if status, body := call(t, "GET", a.URL+"/v1/orgs/org_acme/datasets", user, nil); status != 200 || len(body["datasets"].([]any)) != 3 {
		t.Errorf("the venue's own enricher: %d %v", status, body)
	}

	// Logged out on one instance: refused on both (an instance that had
	// the token in memory would keep it up to authn's MemoryTTL).
	gone := login("alice", "org_acme")
	if status, _ := call(t, "GET", a.URL+"/v1/venues", gone, nil); status != 200 {
		t.Fatalf("before logout: %d", status)
	}
	if status, body := call(t, "POST", a.URL+"/auth/logout", gone, nil); status != 204 {
		t.Fatalf("logout: %d %v", status, body)
	}
	for _, api := range []string{a.URL, b.URL} {
		if status, _ := call(t, "GET", api+"/v1/venues", gone, nil); status != 401 {
			t.Errorf("%s after logout: %d, want 401", api, status)
		}
	}

	// The token service stops: what the venue has cached keeps working on
	// both instances; a token it has not seen is 503, never 401.
	stopTokenService()
	fresh := login("bob", "org_globex")
	for _, api := range []string{a.URL, b.URL} {
		for _, token := range []string{user, machine} {
			if status, body := call(t, "GET", api+"/v1/venues", token, nil); status != 200 {
				t.Errorf("%s, cached token, token service down: %d %v", api, status, body)
			}
		}
		req, _ := http.NewRequest("GET", api+"/v1/venues", nil)
		req.Header.Set("Authorization", "Bearer "+fresh)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s, new token, token service down: %d (Retry-After %q), want 503", api, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
}
