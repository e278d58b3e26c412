// Package memcachedtest starts real memcached processes for tests.
//
// [Start] launches a memcached on a free loopback port, waits until it answers
// the "version" command, and kills it when the test ends. The returned
// [Server] can be stopped, restarted on the same address, and paused (so that
// it accepts connections but never answers), which is what fault tests need.
// [StartCluster] starts several, each on its own port, for tests of a
// memcached cluster; [Cluster.Add] starts one more.
//
// The memcached binary is looked up in $AUTHGATE_MEMCACHED, then on PATH. When
// it is missing the test is skipped with a message saying how to install it,
// unless AUTHGATE_REQUIRE_MEMCACHED=1, in which case the test fails (CI sets
// it, so that a missing binary can never turn into a silent pass).
package memcachedtest

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/authgate/authgate/internal/testserver"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// RequireEnv names the variable that turns a missing binary into a failure.
	RequireEnv = "AUTHGATE_REQUIRE_MEMCACHED"
	// BinaryEnv names the variable that may hold the path of the memcached binary.
	BinaryEnv = "AUTHGATE_MEMCACHED"

	startTimeout = 10 * time.Second
	startTries   = 5
)

// Server is one memcached process owned by a test. It is safe for concurrent use.
type Server struct {
	tb   testing.TB
	bin  string
	addr string

	mu     sync.Mutex // guards proc and paused
	proc   *process   // nil when stopped
	paused bool
}

// process is one run of the memcached binary.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// Start launches memcached on a free 127.0.0.1 port and registers its
// shutdown with tb.Cleanup. It skips (or fails, under RequireEnv) when no
// memcached binary is installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := binary()
	if err != nil {
		msg := fmt.Sprintf("memcachedtest: %v; install memcached (Debian/Ubuntu: apt-get install memcached; macOS: brew install memcached) or run `make test`, which installs it", err)
		testserver.Missing(tb, RequireEnv, msg)
	}
	s := &Server{tb: tb, bin: bin}
	var lastErr error
	for range startTries {
		port, err := testserver.FreePort()
		if err != nil {
			tb.Fatalf("memcachedtest: finding a free port: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			tb.Cleanup(s.kill)
			return s
		}
	}
	tb.Fatalf("memcachedtest: starting memcached: %v", lastErr)
	return nil
}

// Addr returns the host:port the server listens on; it stays the same across
// [Server.Restart].
func (s *Server) Addr() string { return s.addr }

// PID returns the process id of the running memcached, or 0 when stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Stop kills the memcached process and waits for it to exit. Clients see
// connection refused until [Server.Restart].
func (s *Server) Stop() {
	s.tb.Helper()
	s.kill()
}

// Restart starts a fresh, empty memcached on the same address. It fails the
// test when the address cannot be bound again within a few seconds.
func (s *Server) Restart() {
	s.tb.Helper()
	s.kill()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("memcachedtest: restarting memcached on %s: %v", s.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause freezes the process (SIGSTOP) and, on Linux, waits until all its
// threads have stopped: the kernel still accepts connections but nothing
// is answered, as with a memcached that hangs.
func (s *Server) Pause() {
	s.tb.Helper()
	s.signal(syscall.SIGSTOP, true)
}

// Resume undoes [Server.Pause].
func (s *Server) Resume() {
	s.tb.Helper()
	s.signal(syscall.SIGCONT, false)
}

func (s *Server) signal(sig syscall.Signal, paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.tb.Fatalf("memcachedtest: %v on a stopped server", sig)
	}
	if err := s.proc.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("memcachedtest: sending %v: %v", sig, err)
	}
	if sig == syscall.SIGSTOP {
		if err := waitStopped(s.proc.cmd.Process.Pid); err != nil {
			s.tb.Fatalf("memcachedtest: %v", err)
		}
	}
	s.paused = paused
}

func (s *Server) start() error {
	p, err := launch(s.bin, s.addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc, s.paused = p, false
	s.mu.Unlock()
	go func() {
		<-p.exited
		s.mu.Lock()
		if s.proc == p {
			s.proc = nil
		}
		s.mu.Unlock()
	}()
	return nil
}

// launch starts bin listening on addr and waits until it answers.
func launch(bin, addr string) (*process, error) {
	_, port, _ := net.SplitHostPort(addr)
	args := []string{
		"-l", "127.0.0.1",
		"-p", port,
		"-U", "0", // no UDP
		"-m", "64", // MiB of item memory
		"-c", "1024", // connections
		"-t", "2", // threads
	}
	if os.Geteuid() == 0 {
		// memcached refuses to run as root without naming a user.
		if u, err := user.Current(); err == nil {
			args = append(args, "-u", u.Username)
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(p.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		if _, err := Version(addr, 200*time.Millisecond); err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("memcached exited (%v): %s", waitErr, strings.TrimSpace(stderr.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.exited
			return nil, fmt.Errorf("memcached on %s did not answer within %v", addr, startTimeout)
		}
	}
}

func (s *Server) kill() {
	s.mu.Lock()
	p, paused := s.proc, s.paused
	s.mu.Unlock()
	if p == nil {
		return
	}
	if paused {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
	if err := p.kill(); err != nil {
		s.tb.Errorf("memcachedtest: %v", err)
	}
	s.mu.Lock()
	if s.proc == p {
		s.proc = nil
	}
	s.mu.Unlock()
}

func (p *process) kill() error {
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
		return nil
	case <-time.After(startTimeout):
		return fmt.Errorf("memcached pid %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// Process is a memcached started by a program rather than a test (the load
// test): Launch starts it, Kill ends it, and Pause, Resume and Restart do
// what Server's methods of those names do. Its methods must not be called
// concurrently.
type Process struct {
	Addr string
	bin  string
	p    *process // nil once killed
}

// Launch starts memcached on a free loopback port and waits until it
// answers.
func Launch() (*Process, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range startTries {
		port, err := testserver.FreePort()
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := launch(bin, addr)
		if err == nil {
			return &Process{Addr: addr, bin: bin, p: p}, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// Kill stops the process (SIGKILL) and waits for it to exit. Killing a
// process already killed does nothing.
func (p *Process) Kill() error {
	if p.p == nil {
		return nil
	}
	err := p.p.kill()
	p.p = nil
	return err
}

// Pause freezes the process (SIGSTOP) and waits until it has stopped: it
// accepts connections and answers nothing, as a memcached that hangs.
func (p *Process) Pause() error {
	if p.p == nil {
		return errors.New("memcachedtest: pausing a killed memcached")
	}
	if err := p.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return waitStopped(p.p.cmd.Process.Pid)
}

// Resume undoes Pause.
func (p *Process) Resume() error {
	if p.p == nil {
		return errors.New("memcachedtest: resuming a killed memcached")
	}
	return p.p.cmd.Process.Signal(syscall.SIGCONT)
}

// Restart kills the process if it runs and starts a fresh, empty memcached
// on the same address, waiting a few seconds at most for the address to be
// free again.
func (p *Process) Restart() error {
	if err := p.Kill(); err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		np, err := launch(p.bin, p.Addr)
		if err == nil {
			p.p = np
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("memcachedtest: restarting memcached on %s: %w", p.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Version sends the memcached "version" command to addr and returns the
// version it reports, proving that a real memcached answers there.
func Version(addr string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte("version\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "VERSION ")
	if !ok {
		return "", fmt.Errorf("unexpected answer to version: %q", line)
	}
	return v, nil
}

// Keys lists every key the memcached at addr holds (lru_crawler metadump),
// for tests that look at what was stored: that no key or value shows a
// token, or which key an entry went to.
func Keys(addr string, timeout time.Duration) ([]string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte("lru_crawler metadump all\r\n")); err != nil {
		return nil, err
	}
	var keys []string
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		line := sc.Text()
		if line == "END" {
			return keys, nil
		}
		if k, ok := strings.CutPrefix(line, "key="); ok {
			k, _, _ = strings.Cut(k, " ")
			u, err := url.QueryUnescape(k)
			if err != nil {
				return nil, fmt.Errorf("metadump key %q: %w", k, err)
			}
			keys = append(keys, u)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("metadump ended without END")
}

func binary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnv, p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("memcached")
	if err != nil {
		return "", errors.New("no memcached binary on PATH")
	}
	return p, nil
}

// Cluster is several memcached servers owned by a test, each on its own
// loopback port. It is safe for concurrent use.
type Cluster struct {
	tb testing.TB

	mu      sync.Mutex // guards servers
	servers []*Server
}

// StartCluster starts n memcached servers, as [Start] does each.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb}
	for range n {
		c.Add()
	}
	return c
}

// Add starts one more server and returns it.
func (c *Cluster) Add() *Server {
	c.tb.Helper()
	s := Start(c.tb)
	c.mu.Lock()
	c.servers = append(c.servers, s)
	c.mu.Unlock()
	return s
}

// Servers returns the servers in the order they were started.
func (c *Cluster) Servers() []*Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.servers)
}

// Addrs returns the servers' addresses in the order they were started.
func (c *Cluster) Addrs() []string {
	var addrs []string
	for _, s := range c.Servers() {
		addrs = append(addrs, s.Addr())
	}
	return addrs
}

// Server returns the server listening on addr; it fails the test if there
// is none.
func (c *Cluster) Server(addr string) *Server {
	c.tb.Helper()
	for _, s := range c.Servers() {
		if s.Addr() == addr {
			return s
		}
	}
	c.tb.Fatalf("memcachedtest: no server on %s", addr)
	return nil
}
