package testserver_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/authgate/authgate/internal/testserver"
)

func TestFreePort(t *testing.T) {
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("the free port %d cannot be listened on: %v", port, err)
	}
	l.Close()
}
