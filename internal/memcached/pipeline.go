package memcached

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// SetReplicatedMulti stores items as SetReplicated stores each one, in one
// round trip per node: each node that is up gets the sets of every item it
// holds a copy of, written together on one connection (pipelined:
// gomemcache sends one command per round trip), and the nodes are asked at
// once. It returns one Copies per item, in the order of items, and fails
// only when no copy of any item was written. A copy that missed a node
// that was out, or failed, is replayed to it when it rejoins, as with
// SetReplicated.
func (c *Cluster) SetReplicatedMulti(ctx context.Context, items []*memcache.Item) ([]Copies, error) {
	now := time.Now()
	cps := make([]Copies, len(items))
	type slot struct{ item, copy int }
	type batch struct {
		n     *node
		items []*memcache.Item
		slots []slot
	}
	var batches []*batch
	nodes := make([][2]*node, len(items))
	for k, it := range items {
		nodes[k] = c.copies(it.Key, &cps[k])
		if allOut(nodes[k]) {
			c.awaitProbes(ctx, nodes[k])
		}
		for i, n := range nodes[k] {
			switch {
			case n == nil:
				continue
			case !legalKey(it.Key):
				cps[k].Errs[i] = fmt.Errorf("memcached: set %s: %w", n.addr, memcache.ErrMalformedKey)
				continue
			case n.b.isOpen():
				cps[k].Errs[i] = outErr("set", n)
				continue
			}
			var b *batch
			for _, have := range batches {
				if have.n == n {
					b = have
					break
				}
			}
			if b == nil {
				b = &batch{n: n}
				batches = append(batches, b)
			}
			b.items = append(b.items, it)
			b.slots = append(b.slots, slot{k, i})
		}
	}
	send := func(b *batch) {
		var errs []error
		err := c.do(ctx, b.n, "set", true, func(*memcache.Client) (err error) {
			errs, err = b.n.pipes.sets(b.items)
			return err
		})
		for j, s := range b.slots {
			if err != nil {
				cps[s.item].Errs[s.copy] = err
			} else if errs[j] != nil {
				cps[s.item].Errs[s.copy] = fmt.Errorf("memcached: set %s: %w", b.n.addr, errs[j])
			}
		}
	}
	var wg sync.WaitGroup
	for i, b := range batches {
		if i == len(batches)-1 {
			send(b) // the last in this goroutine: one node costs no goroutine
			break
		}
		wg.Go(func() { send(b) })
	}
	wg.Wait()
	answered := false
	for k, it := range items {
		if until, ok := deadline(it.Expiration, now); ok {
			c.hintMissed(nodes[k], &cps[k], hint{op: hintSet, key: it.Key, value: it.Value, flags: it.Flags, until: until})
		}
		answered = answered || cps[k].Answered() > 0
	}
	if !answered && len(items) > 0 {
		return cps, fmt.Errorf("memcached: set: no copy of %d items written", len(items))
	}
	return cps, nil
}

// pipes are one node's raw connections for pipelined writes, bounded by
// the write timeout as gomemcache's are.
type pipes struct {
	addr    net.Addr
	timeout time.Duration
	idle    chan *pipe
}

// pipe is one raw connection with its buffers.
type pipe struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func newPipes(addr string, timeout time.Duration, maxIdle int) (*pipes, error) {
	var ss memcache.ServerList
	if err := ss.SetServers(addr); err != nil {
		return nil, fmt.Errorf("memcached: servers %q: %w", addr, err)
	}
	a, err := ss.PickServer("")
	if err != nil {
		return nil, err
	}
	return &pipes{addr: a, timeout: timeout, idle: make(chan *pipe, maxIdle)}, nil
}

// sets sends "set" for each of items (whose keys are legal) on one
// connection, all written before any answer is read, and returns each
// one's answer: nil when stored. err is a failure of the connection, in
// which case nothing is known of the items.
func (ps *pipes) sets(items []*memcache.Item) (answers []error, err error) {
	p, err := ps.get()
	if err != nil {
		return nil, err
	}
	answers, err = p.sets(items, time.Now().Add(ps.timeout))
	if err != nil {
		p.conn.Close()
		return nil, err
	}
	ps.put(p)
	return answers, nil
}

func (p *pipe) sets(items []*memcache.Item, deadline time.Time) ([]error, error) {
	if err := p.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	for _, it := range items {
		p.w.WriteString("set ")
		p.w.WriteString(it.Key)
		p.w.WriteString(" " + strconv.FormatUint(uint64(it.Flags), 10) + " " + strconv.FormatInt(int64(it.Expiration), 10) +
			" " + strconv.Itoa(len(it.Value)) + "\r\n")
		p.w.Write(it.Value)
		p.w.WriteString("\r\n")
	}
	if err := p.w.Flush(); err != nil {
		return nil, err
	}
	answers := make([]error, len(items))
	for i := range items {
		line, err := p.r.ReadSlice('\n')
		switch {
		case err != nil:
			return nil, err
		case bytes.Equal(line, []byte("STORED\r\n")):
		case bytes.HasPrefix(line, []byte("SERVER_ERROR ")):
			// memcached read the whole command (e.g. the item is too
			// large, or out of memory): the connection stays in step.
			answers[i] = errors.New(string(bytes.TrimSpace(line)))
		default:
			// ERROR, CLIENT_ERROR or anything else: the connection may be
			// out of step with the commands.
			return nil, fmt.Errorf("memcached: unexpected answer to set: %q", bytes.TrimSpace(line))
		}
	}
	return answers, nil
}

func (ps *pipes) get() (*pipe, error) {
	select {
	case p := <-ps.idle:
		return p, nil
	default:
	}
	conn, err := net.DialTimeout(ps.addr.Network(), ps.addr.String(), ps.timeout)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, &memcache.ConnectTimeoutError{Addr: ps.addr}
		}
		return nil, err
	}
	return &pipe{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}, nil
}

func (ps *pipes) put(p *pipe) {
	select {
	case ps.idle <- p:
	default:
		p.conn.Close()
	}
}

// close closes the idle connections.
func (ps *pipes) close() error {
	var errs []error
	for {
		select {
		case p := <-ps.idle:
			errs = append(errs, p.conn.Close())
		default:
			return errors.Join(errs...)
		}
	}
}

// legalKey is gomemcache's rule for a key it will send: at most 250 bytes,
// no spaces or control characters.
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
