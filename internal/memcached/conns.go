package memcached

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// conns are raw connections to one node, beside gomemcache's, for what
// gomemcache does not do: a multi-key gets in the calling goroutine
// (getMulti) and pipelined writes (run). Idle ones are kept, up to
// maxIdle; a connection whose exchange failed is in an unknown state and
// is closed, never reused.
type conns struct {
	addr    net.Addr
	timeout time.Duration // bounds the dial, and each exchange
	maxIdle int

	mu     sync.Mutex
	idle   []*rawConn
	closed bool
}

// rawConn is one connection with its buffers.
type rawConn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

// newConns returns the connections to addr, resolved as gomemcache
// resolves it.
func newConns(addr string, timeout time.Duration, maxIdle int) (*conns, error) {
	var ss memcache.ServerList
	if err := ss.SetServers(addr); err != nil {
		return nil, fmt.Errorf("memcached: server %q: %w", addr, err)
	}
	a, err := ss.PickServer("")
	if err != nil {
		return nil, err
	}
	return &conns{addr: a, timeout: timeout, maxIdle: maxIdle}, nil
}

// exchange runs f on an idle or new connection, within the timeout.
func (cs *conns) exchange(f func(*rawConn) error) error {
	c, err := cs.get()
	if err != nil {
		return err
	}
	if err := c.nc.SetDeadline(time.Now().Add(cs.timeout)); err != nil {
		c.nc.Close()
		return err
	}
	if err := f(c); err != nil {
		c.nc.Close()
		return err
	}
	cs.put(c)
	return nil
}

func (cs *conns) get() (*rawConn, error) {
	cs.mu.Lock()
	if n := len(cs.idle); n > 0 {
		c := cs.idle[n-1]
		cs.idle = cs.idle[:n-1]
		cs.mu.Unlock()
		return c, nil
	}
	cs.mu.Unlock()
	nc, err := net.DialTimeout(cs.addr.Network(), cs.addr.String(), cs.timeout)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, &memcache.ConnectTimeoutError{Addr: cs.addr}
		}
		return nil, err
	}
	return &rawConn{nc: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}, nil
}

func (cs *conns) put(c *rawConn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed || len(cs.idle) >= cs.maxIdle {
		c.nc.Close()
		return
	}
	cs.idle = append(cs.idle, c)
}

// dropIdle closes the idle connections: opened before a node went out,
// they may lead to a process killed since.
func (cs *conns) dropIdle() error {
	cs.mu.Lock()
	idle := cs.idle
	cs.idle = nil
	cs.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, c.nc.Close())
	}
	return errors.Join(errs...)
}

// close closes the idle connections, and those put back from now on.
func (cs *conns) close() error {
	cs.mu.Lock()
	cs.closed = true
	cs.mu.Unlock()
	return cs.dropIdle()
}
