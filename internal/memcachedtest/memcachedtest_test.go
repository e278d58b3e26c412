package memcachedtest_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/memcachedtest"
)

// TestRealProcess proves the server is a real memcached process: it answers
// the version command, refuses connections once stopped, and answers again,
// as a new process on the same address, after a restart.
func TestRealProcess(t *testing.T) {
	s := memcachedtest.Start(t)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr = %q, want a loopback address", s.Addr())
	}
	v, err := memcachedtest.Version(s.Addr(), time.Second)
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if v == "" {
		t.Fatal("empty version")
	}
	pid := s.PID()
	if pid == 0 {
		t.Fatal("PID = 0 for a running server")
	}

	s.Stop()
	if s.PID() != 0 {
		t.Errorf("PID = %d after Stop, want 0", s.PID())
	}
	if conn, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		conn.Close()
		t.Fatal("dial succeeded after Stop")
	}

	s.Restart()
	if _, err := memcachedtest.Version(s.Addr(), time.Second); err != nil {
		t.Fatalf("version after restart: %v", err)
	}
	if s.PID() == pid || s.PID() == 0 {
		t.Errorf("PID after restart = %d, want a new process (was %d)", s.PID(), pid)
	}
}

// TestPause shows a paused server accepts connections but answers nothing,
// and answers again once resumed.
func TestPause(t *testing.T) {
	s := memcachedtest.Start(t)
	s.Pause()
	if _, err := memcachedtest.Version(s.Addr(), 200*time.Millisecond); err == nil {
		t.Fatal("a paused memcached answered")
	}
	s.Resume()
	if _, err := memcachedtest.Version(s.Addr(), time.Second); err != nil {
		t.Fatalf("version after resume: %v", err)
	}
}

// TestStopWhilePaused checks that cleanup works on a frozen process.
func TestStopWhilePaused(t *testing.T) {
	s := memcachedtest.Start(t)
	s.Pause()
	s.Stop()
	if s.PID() != 0 {
		t.Fatalf("PID = %d after Stop", s.PID())
	}
}
