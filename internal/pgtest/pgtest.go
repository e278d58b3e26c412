// Package pgtest starts throw-away PostgreSQL servers for tests.
//
// [Start] runs initdb in a fresh temporary directory, starts postgres on a
// free loopback port (fsync off: nothing here needs to survive a crash),
// waits until it accepts connections, and stops it and removes the
// directory when the test ends. [Server.NewDatabase] gives a test its own
// empty database on that server, which is much cheaper than a server per
// test.
//
// The binaries are looked up in $AUTHGATE_POSTGRES_BIN (a directory), then
// on PATH, then in Debian's /usr/lib/postgresql/<version>/bin (the
// postgresql package does not put them on PATH). When none is found the
// test is skipped with a message saying how to install them, unless
// AUTHGATE_REQUIRE_POSTGRES=1, in which case it fails (`make test` sets
// it, so that a missing PostgreSQL can never turn into a silent pass).
//
// postgres refuses to run as root: under root, initdb and postgres run as
// the "postgres" user (Debian's package creates it), else as "nobody".
// On Linux the server is killed if the test binary dies before its
// cleanup runs.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/authgate/authgate/internal/testserver"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

const (
	// RequireEnv names the variable that turns missing binaries into a failure.
	RequireEnv = "AUTHGATE_REQUIRE_POSTGRES"
	// BinDirEnv names the variable that may hold the directory of initdb and postgres.
	BinDirEnv = "AUTHGATE_POSTGRES_BIN"

	startTimeout = 30 * time.Second
	startTries   = 3
)

// Server is one PostgreSQL server owned by a test. It is safe for
// concurrent use.
type Server struct {
	p *Process
}

// Start launches PostgreSQL on a free 127.0.0.1 port and registers its
// shutdown with tb.Cleanup. It skips (or fails, under RequireEnv) when the
// binaries are not installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if err := Installed(); err != nil {
		msg := fmt.Sprintf("pgtest: %v; install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) or run `make test`, which installs it", err)
		testserver.Missing(tb, RequireEnv, msg)
	}
	p, err := Launch()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.Kill(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return &Server{p: p}
}

// DSN returns the URL of the server's "postgres" database, for pgx.
func (s *Server) DSN() string { return s.p.DSN("postgres") }

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.p.Addr }

// NewDatabase creates an empty database on the server and returns its DSN.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	dsn, err := s.p.NewDatabase()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// Process is a PostgreSQL server started by Launch, for programs and
// TestMain; Kill ends it.
type Process struct {
	Addr   string
	dir    string // the temporary directory: data and socket
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
	dbs    atomic.Int64  // databases made by NewDatabase
}

// NewDatabase creates an empty database on the server and returns its
// DSN. It is safe for concurrent use.
func (p *Process) NewDatabase() (string, error) {
	name := "test_" + strconv.FormatInt(p.dbs.Add(1), 10)
	db, err := sql.Open("pgx", p.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	return p.DSN(name), nil
}

// DSN returns the URL of database on the server.
func (p *Process) DSN(database string) string {
	return "postgres://postgres@" + p.Addr + "/" + database + "?sslmode=disable"
}

// Launch initializes a cluster in a new temporary directory, starts
// postgres on a free loopback port and waits until it accepts connections.
func Launch() (*Process, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = sysProcAttr(cred)
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, strings.TrimSpace(string(out)))
	}
	var lastErr error
	for range startTries {
		port, err := testserver.FreePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		p := &Process{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
		if lastErr = p.start(bin, data, port, cred); lastErr == nil {
			return p, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func (p *Process) start(bin, data string, port int, cred *syscall.Credential) error {
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB", "-c", "dynamic_shared_memory_type=mmap")
	cmd.SysProcAttr = sysProcAttr(cred)
	cmd.Dir = p.dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(p.exited)
	}()
	db, err := sql.Open("pgx", p.DSN("postgres"))
	if err != nil {
		_ = p.stop()
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("postgres exited (%v): %s", waitErr, lastLines(stderr.String(), 5))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.stop()
			return fmt.Errorf("postgres on %s did not accept connections within %v: %s", p.Addr, startTimeout, lastLines(stderr.String(), 5))
		}
	}
}

// Kill stops the server (an immediate shutdown: SIGQUIT, then SIGKILL if
// it lingers), waits for it to exit and removes its directory.
func (p *Process) Kill() error {
	err := p.stop()
	if rmErr := os.RemoveAll(p.dir); err == nil {
		err = rmErr
	}
	return err
}

func (p *Process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
		return nil
	case <-time.After(startTimeout):
		return fmt.Errorf("postgres pid %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// Installed reports why PostgreSQL's binaries cannot be found, or nil.
func Installed() error {
	_, err := binDir()
	return err
}

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	if d := os.Getenv(BinDirEnv); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinDirEnv, d, err)
		}
		return d, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			// Debian's /usr/local links point into the versioned directory.
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			return filepath.Dir(p), nil
		}
	}
	// Debian and Ubuntu: /usr/lib/postgresql/<major>/bin, newest first.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(filepath.Dir(d), "postgres")); err == nil {
			return filepath.Dir(d), nil
		}
	}
	return "", errors.New("no initdb and postgres binaries found (PATH, /usr/lib/postgresql/*/bin)")
}

func majorOf(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// credential returns whom to run postgres as: nil (ourselves) unless we are
// root, which postgres refuses.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody user exists to run postgres as")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
