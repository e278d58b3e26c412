package nginxtest_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/nginxtest"
)

// A real nginx proxies to a test server, and is gone once stopped.
func TestStartProxies(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream saw %s %s via %s", r.Method, r.URL.Path, r.Header.Get("X-Via"))
	}))
	t.Cleanup(upstream.Close)
	p := nginxtest.Start(t, func(addr string) string {
		return fmt.Sprintf(`server {
	listen %s;
	location / {
		proxy_set_header X-Via nginx;
		proxy_pass %s;
	}
}`, addr, upstream.URL)
	})
	resp, err := http.Get(p.URL() + "/v1/venues")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := string(body); resp.StatusCode != 200 || got != "upstream saw GET /v1/venues via nginx" || !strings.HasPrefix(resp.Header.Get("Server"), "nginx") {
		t.Fatalf("%d %q, Server %q", resp.StatusCode, got, resp.Header.Get("Server"))
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("nginx still accepts connections after Stop")
	}
}

// A configuration nginx refuses fails Launch with nginx's own message.
func TestLaunchReportsBadConfig(t *testing.T) {
	if _, err := nginxtest.Launch(t.TempDir(), func(string) string { return "no_such_directive on;" }); err == nil ||
		!strings.Contains(err.Error(), "no_such_directive") {
		if err != nil && strings.Contains(err.Error(), "no nginx binary") && os.Getenv(nginxtest.RequireEnv) != "1" {
			t.Skip(err)
		}
		t.Fatalf("Launch = %v, want nginx's complaint about the directive", err)
	}
}

// README.md shows AuthRequest's configuration as it is.
func TestReadmeShowsAuthRequest(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if block := nginxtest.AuthRequest("80", "tokenservice:8081", "api:8080"); !strings.Contains(string(readme), "```nginx\n"+block+"\n```") {
		t.Errorf("README.md does not show the tested nginx configuration; it is:\n%s", block)
	}
}
