package memcached

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// SetAndUnlock stores items as SetReplicated stores each one, then
// releases the lock as Unlock does, in one round trip per node where it
// can. Each node that is up gets the sets of every item it holds a copy
// of, written together on one connection (pipelined: gomemcache sends one
// command per round trip), and the nodes are asked at once; a copy that
// missed a node that was out, or failed, is replayed to it when it
// rejoins, as with SetReplicated. When every copy of every item goes to
// one of the lock's nodes (always, in a cluster of one or two nodes), each
// copy of the lock that LockAndGet read is released with a
// compare-and-swap written on its node's connection after that node's
// sets, which memcached runs in order: whoever takes the lock next holds
// every copy of it (or finds the node of the others out), so it sees
// every write. Otherwise, and for a copy whose release failed or was not
// read, the release follows the writes. It returns one Copies per item,
// in the order of items, an error when no copy of any item was written,
// and the release's error.
func (l *Lock) SetAndUnlock(ctx context.Context, items []*memcache.Item) ([]Copies, error, error) {
	cps, err := l.c.setMulti(ctx, items, l)
	return cps, err, l.unlock(ctx, [2]bool{l.nodes[0] != nil && !l.released[0], l.nodes[1] != nil && !l.released[1]})
}

// setMulti is SetAndUnlock's writes, with l's copies released in the
// same pipelines where SetAndUnlock says, and marked in l.released.
func (c *Cluster) setMulti(ctx context.Context, items []*memcache.Item, l *Lock) ([]Copies, error) {
	now := time.Now()
	cps := make([]Copies, len(items))
	var batches []*batch[*memcache.Item]
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
			batches = addToBatch(batches, n, it, slot{k, i}, len(items))
		}
	}
	// release[i]: the lock's copy i is released in its node's pipeline.
	var release [2]bool
	if l.replicated && colocated(nodes, l.nodes) {
		for i, n := range l.nodes {
			release[i] = n != nil && l.read[i] != nil && !n.b.isOpen()
		}
	}
	send := func(b *batch[*memcache.Item]) {
		ops := make([]op, len(b.elems), len(b.elems)+1)
		for j, it := range b.elems {
			ops[j] = op{item: it}
		}
		lockCopy := -1
		for i := range release {
			if release[i] && l.nodes[i] == b.n {
				lockCopy = i
				ops = append(ops, op{item: l.read[i], expire: true})
			}
		}
		var errs []error
		err := c.do(ctx, b.n, "set", true, func(*memcache.Client) (err error) {
			errs, err = b.n.pipes.run(ops)
			return err
		})
		for j, s := range b.slots {
			if err != nil {
				cps[s.elem].Errs[s.copy] = err
			} else if errs[j] != nil {
				cps[s.elem].Errs[s.copy] = fmt.Errorf("memcached: set %s: %w", b.n.addr, errs[j])
			}
		}
		if lockCopy >= 0 {
			l.released[lockCopy] = err == nil && errs[len(ops)-1] == nil
		}
	}
	// A lock copy whose node gets no set (it holds no item) is released
	// after the writes, by SetAndUnlock.
	l.released = [2]bool{}
	sendAll(batches, send)
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

// colocated reports whether every copy of every item goes to one of the
// lock's nodes.
func colocated(items [][2]*node, lock [2]*node) bool {
	for _, pair := range items {
		for _, n := range pair {
			if n != nil && n != lock[0] && n != lock[1] {
				return false
			}
		}
	}
	return true
}

// op is one command of a pipeline: a set of item or, with expire, a
// compare-and-swap that expires item as read (its CAS id) — a lock's
// release, which leaves alone a copy changed since.
type op struct {
	item   *memcache.Item
	expire bool
}

// run sends ops (whose keys are legal) on one connection, all written
// before any answer is read, and returns each one's answer: nil when
// stored, or for an expire also when the item had changed or gone. err is
// a failure of the connection, in which case nothing is known of the ops.
func (cs *conns) run(ops []op) (answers []error, err error) {
	err = cs.exchange(func(c *rawConn) (err error) {
		answers, err = c.run(ops)
		return err
	})
	return answers, err
}

func (p *rawConn) run(ops []op) ([]error, error) {
	for _, o := range ops {
		it := o.item
		if o.expire {
			p.w.WriteString("cas " + it.Key + " 0 -1 0 " + strconv.FormatUint(it.CasID, 10) + "\r\n\r\n")
			continue
		}
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
	answers := make([]error, len(ops))
	for i, o := range ops {
		line, err := p.r.ReadSlice('\n')
		switch {
		case err != nil:
			return nil, err
		case bytes.Equal(line, []byte("STORED\r\n")):
		case o.expire && (bytes.Equal(line, []byte("EXISTS\r\n")) || bytes.Equal(line, []byte("NOT_FOUND\r\n"))):
			// Changed or gone since it was read: not ours to remove.
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
