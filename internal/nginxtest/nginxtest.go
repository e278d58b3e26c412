// Package nginxtest starts real nginx processes for tests: a gateway in
// front of test servers, as users deploy authgate's token service.
//
// [Start] writes a configuration into a temporary directory — the caller's
// http {} block, with the address to listen on, wrapped in the settings
// that keep nginx inside that directory (its own prefix, pid file, logs and
// temp paths) — runs nginx in the foreground (daemon off, master_process
// off: one process, killed by the kernel if the test binary dies), waits
// until it accepts connections on a free loopback port, and stops it when
// the test ends.
//
// The nginx binary is looked up in $AUTHGATE_NGINX, then on PATH, then in
// /usr/sbin. When it is missing the test is skipped with a message saying
// how to install it, unless AUTHGATE_REQUIRE_NGINX=1 (`make test` sets it,
// so that a missing binary can never turn into a silent pass).
package nginxtest

import (
	"errors"
	"fmt"
	"github.com/authgate/authgate/internal/testserver"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// RequireEnv names the variable that turns a missing binary into a failure.
	RequireEnv = "AUTHGATE_REQUIRE_NGINX"
	// BinaryEnv names the variable that may hold the path of the nginx binary.
	BinaryEnv = "AUTHGATE_NGINX"

	startTimeout = 10 * time.Second
	startTries   = 5
)

// HTTPBlock returns the contents of nginx's http {} block for a server that
// listens on addr (host:port): typically one server {} with `listen addr;`.
type HTTPBlock func(addr string) string

// Process is one running nginx.
type Process struct {
	// Addr is the host:port nginx listens on.
	Addr string
	// Dir holds the configuration, the pid file and the logs.
	Dir string

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
	stderr *strings.Builder
}

// Start launches nginx with the http block conf on a free 127.0.0.1 port,
// in a temporary directory of tb's, and registers its shutdown with
// tb.Cleanup. It skips (or fails, under RequireEnv) when no nginx binary is
// installed, and fails when nginx does not start; the failure quotes nginx's
// error log.
func Start(tb testing.TB, conf HTTPBlock) *Process {
	tb.Helper()
	bin, err := binary()
	if err != nil {
		msg := fmt.Sprintf("nginxtest: %v; install nginx (Debian/Ubuntu: apt-get install nginx) or run `make test`, which installs it", err)
		testserver.Missing(tb, RequireEnv, msg)
	}
	p, err := launch(bin, tb.TempDir(), conf)
	if err != nil {
		tb.Fatalf("nginxtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.Stop(); err != nil {
			tb.Errorf("nginxtest: %v", err)
		}
	})
	return p
}

// Launch is Start for a program rather than a test (the load test): it
// starts nginx in dir, which it creates if need be, and Stop ends it.
func Launch(dir string, conf HTTPBlock) (*Process, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return launch(bin, dir, conf)
}

// URL returns "http://" + Addr.
func (p *Process) URL() string { return "http://" + p.Addr }

// ErrorLog returns what nginx has written to its error log so far.
func (p *Process) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "error.log"))
	return string(b)
}

// Stop asks nginx to stop (SIGTERM), kills it if it has not exited within a
// few seconds, and waits for it.
func (p *Process) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(startTimeout / 2):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
		return nil
	case <-time.After(startTimeout):
		return fmt.Errorf("nginx pid %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

func launch(bin, dir string, conf HTTPBlock) (*Process, error) {
	var lastErr error
	for range startTries {
		port, err := testserver.FreePort()
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := launchOn(bin, dir, addr, conf)
		if err == nil {
			return p, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// launchOn writes the configuration for addr into dir, starts nginx and
// waits until it accepts connections.
func launchOn(bin, dir, addr string, conf HTTPBlock) (*Process, error) {
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(mainConfig(dir, conf(addr))), 0o600); err != nil {
		return nil, err
	}
	// -e: the error log before the configuration is read, so that nginx
	// never touches the system's log directory.
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	cmd.SysProcAttr = sysProcAttr()
	p := &Process{Addr: addr, Dir: dir, cmd: cmd, exited: make(chan struct{}), stderr: &strings.Builder{}}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("nginx exited (%v): %s%s", waitErr, p.stderr, p.ErrorLog())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.exited
			return nil, fmt.Errorf("nginx on %s did not accept connections within %v: %s", addr, startTimeout, p.ErrorLog())
		}
	}
}

// mainConfig wraps the caller's http block in what keeps nginx in dir and
// in the foreground.
func mainConfig(dir, httpBlock string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "daemon off;\nmaster_process off;\npid %s;\nerror_log %s info;\n",
		filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	if os.Geteuid() == 0 {
		// As root nginx would switch to "nobody", who cannot write the
		// temporary directory; stay who we are.
		if u, err := user.Current(); err == nil {
			fmt.Fprintf(&b, "user %s;\n", u.Username)
		}
	}
	b.WriteString("events { worker_connections 1024; }\nhttp {\n")
	fmt.Fprintf(&b, "access_log %s;\n", filepath.Join(dir, "access.log"))
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "%s_temp_path %s;\n", t, filepath.Join(dir, t+"_temp"))
	}
	b.WriteString(httpBlock)
	b.WriteString("\n}\n")
	return b.String()
}

func binary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnv, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	// Debian installs it in /usr/sbin, which is not on a user's PATH.
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("no nginx binary on PATH or in /usr/sbin")
}

// AuthRequest returns the http block README.md documents for nginx in front
// of an API, authenticating each request with auth_request to authgate's
// token service: nginx listens on listen, the token service is at
// tokenService and the API at api (both host:port). The identity headers
// reach the API; 401 and 403 reach the client with their challenge, and the
// token service's 503 with its Retry-After.
func AuthRequest(listen, tokenService, api string) string {
	return fmt.Sprintf(authRequestConfig, listen, tokenService, api)
}

const authRequestConfig = `upstream authgate {
    server %[2]s;
    keepalive 32;
}

upstream api {
    server %[3]s;
    keepalive 32;
}

server {
    listen %[1]s;
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    location / {
        auth_request /_authgate;
        # The caller, for the API (a header left empty is not sent).
        auth_request_set $auth_subject $upstream_http_x_auth_subject;
        auth_request_set $auth_client  $upstream_http_x_auth_client;
        auth_request_set $auth_org     $upstream_http_x_auth_org;
        auth_request_set $auth_scopes  $upstream_http_x_auth_scopes;
        auth_request_set $auth_kind    $upstream_http_x_auth_kind;
        proxy_set_header X-Auth-Subject $auth_subject;
        proxy_set_header X-Auth-Client  $auth_client;
        proxy_set_header X-Auth-Org     $auth_org;
        proxy_set_header X-Auth-Scopes  $auth_scopes;
        proxy_set_header X-Auth-Kind    $auth_kind;
        # A 401's challenge reaches the client by itself; 403 and 503 need help.
        auth_request_set $auth_status      $upstream_status;
        auth_request_set $auth_challenge   $upstream_http_www_authenticate;
        auth_request_set $auth_retry_after $upstream_http_retry_after;
        error_page 403 = @authgate_403;
        error_page 500 = @authgate_error;
        proxy_pass http://api;
    }

    location = /_authgate {
        internal;
        proxy_pass http://authgate/auth;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Original-URI $request_uri;
    }

    location @authgate_403 {
        add_header WWW-Authenticate $auth_challenge always;
        return 403;
    }

    # auth_request turns any other answer into 500: give the client the
    # token service's 503 and its Retry-After.
    location @authgate_error {
        if ($auth_status = 503) {
            add_header Retry-After $auth_retry_after always;
            return 503;
        }
        return 500;
    }
}`
