package memcachedtest_test

import (
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

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

// TestCluster: StartCluster starts distinct servers; one of them paused
// leaves the others answering; Add starts another.
func TestCluster(t *testing.T) {
	c := memcachedtest.StartCluster(t, 3)
	addrs := c.Addrs()
	if len(addrs) != 3 || addrs[0] == addrs[1] || addrs[1] == addrs[2] || addrs[0] == addrs[2] {
		t.Fatalf("addresses %v", addrs)
	}
	c.Server(addrs[1]).Pause()
	for i, addr := range addrs {
		_, err := memcachedtest.Version(addr, 200*time.Millisecond)
		if (err == nil) != (i != 1) {
			t.Errorf("server %d (paused: %v): version error %v", i, i == 1, err)
		}
	}
	c.Server(addrs[1]).Resume()
	s := c.Add()
	if got := c.Addrs(); len(got) != 4 || got[3] != s.Addr() {
		t.Fatalf("after Add: %v", got)
	}
	if _, err := memcachedtest.Version(s.Addr(), time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestKeys(t *testing.T) {
	s := memcachedtest.Start(t)
	c := memcache.New(s.Addr())
	for _, k := range []string{"ag1:a:b", "with%percent"} {
		if err := c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := memcachedtest.Keys(s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"ag1:a:b", "with%percent"}) {
		t.Fatalf("Keys = %q", keys)
	}
}

// TestProcess: a launched process pauses, resumes, restarts empty on the
// same address, and is killed.
func TestProcess(t *testing.T) {
	p, err := memcachedtest.Launch()
	switch {
	case err != nil && os.Getenv(memcachedtest.RequireEnv) == "1":
		t.Fatal(err)
	case err != nil:
		t.Skipf("no memcached: %v", err)
	}
	defer p.Kill()
	c := memcache.New(p.Addr)
	if err := c.Set(&memcache.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if _, err := memcachedtest.Version(p.Addr, 200*time.Millisecond); err == nil {
		t.Fatal("a paused memcached answered")
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := memcachedtest.Version(p.Addr, time.Second); err != nil {
		t.Fatalf("version after resume: %v", err)
	}
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(); err != nil { // kills the paused process
		t.Fatal(err)
	}
	if _, err := memcache.New(p.Addr).Get("k"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get after restart: %v, want a miss (a fresh memcached)", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := memcachedtest.Version(p.Addr, 200*time.Millisecond); err == nil {
		t.Fatal("a killed memcached answered")
	}
	if err := p.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}
}
