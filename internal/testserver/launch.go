// Package testserver holds what the launchers of real servers for tests
// (internal/memcachedtest, pgtest, nginxtest) share: a free loopback port,
// and what a test does when the server is not installed.
package testserver

import (
	"net"
	"os"
	"testing"
)

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Missing ends tb for a server that is not installed, saying msg: it fails
// when the environment variable requireEnv is "1" (make test sets it, so
// that a missing server can never turn into a silent pass), and skips
// otherwise.
func Missing(tb testing.TB, requireEnv, msg string) {
	tb.Helper()
	if os.Getenv(requireEnv) == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}
