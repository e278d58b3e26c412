package memcached

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// getter reads several keys from one node with one gets, in the calling
// goroutine, over connections of its own. gomemcache's GetMulti starts a
// goroutine per call, and on a busy machine waking it and then its caller
// costs about half a loopback round trip more than a Get (BenchmarkGetMulti).
type getter struct {
	addr    net.Addr
	timeout time.Duration // bounds the dial, and the write and read of each gets
	maxIdle int

	mu     sync.Mutex
	idle   []*getConn
	closed bool
}

type getConn struct {
	nc net.Conn
	rw *bufio.ReadWriter
}

// maxValueLen bounds the value a gets answer may announce: memcached's own
// item limit is 1 MiB by default and 1 GiB at most, and no value this
// module stores comes near the bound.
const maxValueLen = 16 << 20

// newGetter returns a getter for addr, resolved as gomemcache resolves it.
func newGetter(addr string, timeout time.Duration, maxIdle int) (*getter, error) {
	var ss memcache.ServerList
	if err := ss.SetServers(addr); err != nil {
		return nil, fmt.Errorf("memcached: server %q: %w", addr, err)
	}
	g := &getter{timeout: timeout, maxIdle: maxIdle}
	_ = ss.Each(func(a net.Addr) error { g.addr = a; return nil })
	return g, nil
}

// getMulti returns the items the node holds of keys, aligned with keys (nil
// for a miss). Its errors are those of the connection (a timeout is a
// net.Error whose Timeout is true) or a malformed answer.
func (g *getter) getMulti(keys []string) ([]*memcache.Item, error) {
	for _, k := range keys {
		if !legalKey(k) {
			return nil, memcache.ErrMalformedKey
		}
	}
	cn, err := g.conn()
	if err != nil {
		return nil, err
	}
	items, err := cn.gets(keys, time.Now().Add(g.timeout))
	if err != nil {
		cn.nc.Close() // in an unknown state: never reused
		return nil, err
	}
	g.release(cn)
	return items, nil
}

// legalKey is gomemcache's rule: at most 250 bytes, no space or control
// character.
func legalKey(key string) bool {
	if len(key) > 250 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return false
		}
	}
	return true
}

func (g *getter) conn() (*getConn, error) {
	g.mu.Lock()
	if n := len(g.idle); n > 0 {
		cn := g.idle[n-1]
		g.idle = g.idle[:n-1]
		g.mu.Unlock()
		return cn, nil
	}
	g.mu.Unlock()
	nc, err := net.DialTimeout(g.addr.Network(), g.addr.String(), g.timeout)
	if err != nil {
		return nil, err
	}
	return &getConn{nc: nc, rw: bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))}, nil
}

func (g *getter) release(cn *getConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || len(g.idle) >= g.maxIdle {
		cn.nc.Close()
		return
	}
	g.idle = append(g.idle, cn)
}

// close closes the idle connections, and those released from now on.
func (g *getter) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	var errs []error
	for _, cn := range g.idle {
		errs = append(errs, cn.nc.Close())
	}
	g.idle = nil
	return errors.Join(errs...)
}

var (
	crlf   = []byte("\r\n")
	end    = []byte("END\r\n")
	valueP = []byte("VALUE ")
)

// gets sends "gets k1 k2 …" and reads the answer, all before deadline.
// memcached answers the keys it holds in the order asked.
func (cn *getConn) gets(keys []string, deadline time.Time) ([]*memcache.Item, error) {
	if err := cn.nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	cn.rw.WriteString("gets")
	for _, k := range keys {
		cn.rw.WriteByte(' ')
		cn.rw.WriteString(k)
	}
	cn.rw.Write(crlf)
	if err := cn.rw.Flush(); err != nil {
		return nil, err
	}
	items := make([]*memcache.Item, len(keys))
	next := 0 // the first key not yet answered
	for {
		line, err := cn.rw.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if bytes.Equal(line, end) {
			return items, nil
		}
		key, flags, size, cas, err := parseValueLine(line)
		if err != nil {
			return nil, err
		}
		for next < len(keys) && keys[next] != string(key) {
			next++
		}
		if next == len(keys) {
			return nil, fmt.Errorf("memcached: gets: answer for a key not asked, or out of order: %.40q", line)
		}
		v := make([]byte, size+len(crlf))
		if _, err := io.ReadFull(cn.rw, v); err != nil {
			return nil, err
		}
		if !bytes.HasSuffix(v, crlf) {
			return nil, errors.New("memcached: gets: value not followed by CRLF")
		}
		items[next] = &memcache.Item{Key: keys[next], Value: v[:size], Flags: flags, CasID: cas}
		next++
	}
}

// parseValueLine reads "VALUE <key> <flags> <bytes> <cas>\r\n".
func parseValueLine(line []byte) (key []byte, flags uint32, size int, cas uint64, err error) {
	rest, ok := bytes.CutPrefix(line, valueP)
	rest, ok2 := bytes.CutSuffix(rest, crlf)
	var f [4][]byte
	for i := range f {
		if i < len(f)-1 {
			f[i], rest, ok2 = bytes.Cut(rest, []byte{' '})
		} else {
			f[i] = rest
		}
		if !ok || !ok2 || len(f[i]) == 0 {
			return nil, 0, 0, 0, fmt.Errorf("memcached: gets: unexpected answer %.40q", line)
		}
	}
	fl, err1 := strconv.ParseUint(string(f[1]), 10, 32)
	size, err2 := strconv.Atoi(string(f[2]))
	cas, err3 := strconv.ParseUint(string(f[3]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || size < 0 || size > maxValueLen {
		return nil, 0, 0, 0, fmt.Errorf("memcached: gets: malformed VALUE line %.40q", line)
	}
	return f[0], uint32(fl), size, cas, nil
}
