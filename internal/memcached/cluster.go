package memcached

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"go.opentelemetry.io/otel/trace"
)

// ClusterConfig configures a [Cluster]. The zero value is ready to use;
// the callbacks, when set, are called in the goroutine that caused the
// event, must be quick, and must not call the Cluster.
type ClusterConfig struct {
	// ReadTimeout bounds each get (and the probe of a node that is out):
	// the dial, the write and the read. Default 50ms.
	ReadTimeout time.Duration
	// WriteTimeout bounds each set, add, compare-and-swap and delete.
	// Default 100ms.
	WriteTimeout time.Duration
	// MaxIdleConns is how many idle connections are kept per node, for
	// reads and for writes each; set it above the peak concurrency, or
	// calls dial. Default 64.
	MaxIdleConns int
	// BreakerThreshold is how many consecutive failures take a node out.
	// A timeout takes it out at once. Default 5.
	BreakerThreshold int
	// BreakerCooldown is how often a node that is out is probed, in the
	// background. The first probe is at once, unless the node rejoined
	// less than a cooldown before. Default 2s.
	BreakerCooldown time.Duration
	// GutterTTL caps the lifetime of what is written to a gutter node
	// while a key's own node is out. Default 20s.
	GutterTTL time.Duration
	// MaxHints is how many replicated writes are kept, per node that is
	// out, to replay when it rejoins; past it the oldest are dropped and
	// the node is emptied (flush_all) before it rejoins. Default 10,000.
	MaxHints int

	// OnNodeDown is called when a node is taken out, with the error that
	// did it. Default: nil.
	OnNodeDown func(addr string, cause error)
	// OnNodeUp is called when a node rejoins, with the number of missed
	// writes replayed to it (those expired meanwhile are skipped), just
	// before it serves again. Default: nil.
	OnNodeUp func(addr string, replayed int)
	// OnFailure is called on every failed call to a node (not on answers
	// such as a miss, nor on calls refused because the node is out), with
	// the operation: get, set, add, cas, delete, version (a probe) or
	// flush_all. Default: nil.
	OnFailure func(addr, op string, err error)
	// OnHintsLost is called when a node's replay queue overflows, once per
	// outage. Default: nil.
	OnHintsLost func(addr string)
	// Tracer makes a span of each call to a node, a child of the span in
	// the call's context; a call whose context holds none (a background
	// probe or replay) is not traced. Default: nil, no spans.
	Tracer trace.Tracer
}

// Cluster is memcached on several nodes: keys placed on a ketama
// continuum, a circuit breaker per node, a gutter for the keys of a node
// that is out, and replicated calls for what must survive the loss of a
// node. See the package documentation. It is safe for concurrent use;
// [Cluster.Close] ends its background probes.
type Cluster struct {
	cfg   ClusterConfig
	nodes []*node
	cont  *continuum
	done  chan struct{} // closed by Close

	mu     sync.Mutex     // guards closed and the Add of wg
	closed bool           // Close has been called: start no probe
	wg     sync.WaitGroup // the probes running
}

// node is one memcached server of a Cluster.
type node struct {
	addr        string
	read, write *memcache.Client
	multi       *conns // the multi-key reads (GetMulti), on the read timeout
	pipes       *conns // pipelined writes, on the write timeout
	b           *breaker

	mu       sync.Mutex    // guards hints, lost, rejoined and probing, and b's closing (see rejoin)
	hints    []hint        // replicated writes that missed the node, oldest first
	lost     bool          // hints were dropped since the node went out
	rejoined time.Time     // when the node last rejoined; zero if never out
	probing  chan struct{} // closed when the probe in flight ends; nil when none is
}

// NewCluster returns a Cluster on nodes. It fails on an empty list, a
// repeated address, a negative weight, or an address that does not
// resolve (addresses are resolved once, here). It connects to nothing.
func NewCluster(nodes []Node, cfg ClusterConfig) (*Cluster, error) {
	if len(nodes) == 0 {
		return nil, errors.New("memcached: no nodes given")
	}
	cfg.ReadTimeout = orDefault(cfg.ReadTimeout, 50*time.Millisecond)
	cfg.WriteTimeout = orDefault(cfg.WriteTimeout, 100*time.Millisecond)
	cfg.BreakerCooldown = orDefault(cfg.BreakerCooldown, 2*time.Second)
	cfg.GutterTTL = orDefault(cfg.GutterTTL, 20*time.Second)
	cfg.MaxIdleConns = orDefault(cfg.MaxIdleConns, 64)
	cfg.BreakerThreshold = orDefault(cfg.BreakerThreshold, 5)
	cfg.MaxHints = orDefault(cfg.MaxHints, 10_000)

	c := &Cluster{cfg: cfg, done: make(chan struct{})}
	seen := make(map[string]bool, len(nodes))
	weighted := make([]Node, len(nodes))
	for i, nd := range nodes {
		switch {
		case seen[nd.Addr]:
			return nil, fmt.Errorf("memcached: node %q listed twice", nd.Addr)
		case nd.Weight < 0:
			return nil, fmt.Errorf("memcached: node %q: negative weight", nd.Addr)
		}
		seen[nd.Addr] = true
		weighted[i] = Node{Addr: nd.Addr, Weight: max(nd.Weight, 1)}
		read, err := NewClient([]string{nd.Addr}, cfg.ReadTimeout, cfg.MaxIdleConns)
		if err != nil {
			return nil, err
		}
		write, err := NewClient([]string{nd.Addr}, cfg.WriteTimeout, cfg.MaxIdleConns)
		if err != nil {
			return nil, err
		}
		multi, err := newConns(nd.Addr, cfg.ReadTimeout, cfg.MaxIdleConns)
		if err != nil {
			return nil, err
		}
		pipes, err := newConns(nd.Addr, cfg.WriteTimeout, cfg.MaxIdleConns)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, &node{
			addr:  nd.Addr,
			read:  read,
			write: write,
			multi: multi,
			pipes: pipes,
			b:     &breaker{threshold: int32(min(cfg.BreakerThreshold, 1<<31-1))},
		})
	}
	cont, err := newContinuum(weighted)
	if err != nil {
		return nil, err
	}
	c.cont = cont
	return c, nil
}

func orDefault[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Close ends the background probes of nodes that are out, waits for them,
// and closes idle connections. The Cluster must not be used afterwards.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
	c.mu.Unlock()
	c.wg.Wait()
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.read.Close(), n.write.Close(), n.multi.close(), n.pipes.close())
	}
	return errors.Join(errs...)
}

// Placement returns the addresses of key's node and of the next distinct
// node on the continuum, which hold the two copies of a replicated key and
// where, if it is up, the key's single copy goes while its node is out.
// secondary is "" in a cluster of one node. It ignores the nodes' health.
func (c *Cluster) Placement(key string) (primary, secondary string) {
	a, b := c.pair(key)
	if b != nil {
		secondary = b.addr
	}
	return a.addr, secondary
}

// NodeStatus is one node's state, as [Cluster.Status] reports it.
type NodeStatus struct {
	// Addr is the node's address, as given to NewCluster.
	Addr string
	// Up is false while the node is out: taken out by failures and not
	// yet rejoined.
	Up bool
	// Hints is how many replicated writes wait to be replayed to it.
	Hints int
	// HintsLost is true when some were dropped: the node will be emptied
	// before it rejoins.
	HintsLost bool
}

// Status returns every node's state, in the order given to NewCluster.
func (c *Cluster) Status() []NodeStatus {
	st := make([]NodeStatus, len(c.nodes))
	for i, n := range c.nodes {
		n.mu.Lock()
		st[i] = NodeStatus{Addr: n.addr, Up: !n.b.isOpen(), Hints: len(n.hints), HintsLost: n.lost}
		n.mu.Unlock()
	}
	return st
}

// Get fetches key from its node, or from the gutter while its node is
// out; memcache.ErrCacheMiss when it is absent there.
func (c *Cluster) Get(ctx context.Context, key string) (*memcache.Item, error) {
	n, _, err := c.route("get", key)
	if err != nil {
		return nil, err
	}
	var it *memcache.Item
	err = c.do(ctx, n, "get", false, func(mc *memcache.Client) (err error) {
		it, err = mc.Get(key)
		return err
	})
	return it, err
}

// Set stores item on its key's node, or on the gutter (for at most
// ClusterConfig.GutterTTL) while that node is out.
func (c *Cluster) Set(ctx context.Context, item *memcache.Item) error {
	return c.store(ctx, "set", item, (*memcache.Client).Set)
}

// Add stores item only if its key is absent, on its node or on the gutter
// as Set does; memcache.ErrNotStored when the key is present.
func (c *Cluster) Add(ctx context.Context, item *memcache.Item) error {
	return c.store(ctx, "add", item, (*memcache.Client).Add)
}

// Delete removes key from its node, or from the gutter while its node is
// out (the node keeps its copy, if it has one); memcache.ErrCacheMiss when
// it was absent there, so that a caller can tell who removed a single-use
// item.
func (c *Cluster) Delete(ctx context.Context, key string) error {
	n, _, err := c.route("delete", key)
	if err != nil {
		return err
	}
	return c.do(ctx, n, "delete", true, func(mc *memcache.Client) error { return mc.Delete(key) })
}

func (c *Cluster) store(ctx context.Context, op string, item *memcache.Item, call func(*memcache.Client, *memcache.Item) error) error {
	n, gutter, err := c.route(op, item.Key)
	if err != nil {
		return err
	}
	if gutter {
		capped := *item
		capped.Expiration = capExpiration(item.Expiration, c.cfg.GutterTTL, time.Now())
		item = &capped
	}
	return c.do(ctx, n, op, true, func(mc *memcache.Client) error { return call(mc, item) })
}

// route returns the node that serves key's single copy: its own, or while
// that is out the next node on the continuum that is up (gutter true).
func (c *Cluster) route(op, key string) (n *node, gutter bool, err error) {
	if len(c.nodes) == 1 {
		n = c.nodes[0]
		if n.b.isOpen() {
			return nil, false, outErr(op, n)
		}
		return n, false, nil
	}
	i := c.cont.search(keyHash(key))
	home := c.cont.nodes[i]
	if n = c.nodes[home]; !n.b.isOpen() {
		return n, false, nil
	}
	g := c.cont.next(i, home, func(j int32) bool { return !c.nodes[j].b.isOpen() })
	if g < 0 {
		return nil, false, outErr(op, n)
	}
	return c.nodes[g], true, nil
}

// pair returns key's node and the next distinct node on the continuum (nil
// in a cluster of one node), whatever their health.
func (c *Cluster) pair(key string) (a, b *node) {
	if len(c.nodes) == 1 {
		return c.nodes[0], nil
	}
	i := c.cont.search(keyHash(key))
	home := c.cont.nodes[i]
	return c.nodes[home], c.nodes[c.cont.next(i, home, nil)]
}

// do runs call on n's read or write client unless ctx has ended, and feeds
// the outcome to n's breaker. Errors name the operation and the node. The
// call is traced (see ClusterConfig.Tracer); a get of several keys passes
// found, which call sets to the number of keys it found.
func (c *Cluster) do(ctx context.Context, n *node, op string, write bool, call func(*memcache.Client) error, found ...*int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcached: %s: %w", op, err)
	}
	mc := n.read
	if write {
		mc = n.write
	}
	span := c.startCall(ctx, n, op)
	err := call(mc)
	if span != nil {
		endCall(span, op, err, found)
	}
	c.observe(n, op, err)
	if err != nil {
		return fmt.Errorf("memcached: %s %s: %w", op, n.addr, err)
	}
	return nil
}

// observe tells n's breaker how a call went, takes n out when it should
// be, and reports failures.
func (c *Cluster) observe(n *node, op string, err error) {
	if !isFailure(err) {
		n.b.record(false)
		return
	}
	if c.cfg.OnFailure != nil {
		c.cfg.OnFailure(n.addr, op, err)
	}
	var opened bool
	if isTimeout(err) {
		opened = n.b.trip()
	} else {
		opened = n.b.record(true)
	}
	if opened {
		c.nodeDown(n, err)
	}
}

// isTimeout tells a call that ran out of time (the node hangs, or is
// unreachable) from other failures.
func isTimeout(err error) bool {
	var ne net.Error
	var ce *memcache.ConnectTimeoutError
	return errors.As(err, &ce) || errors.As(err, &ne) && ne.Timeout()
}

// outErr is a call's error when the node it needs is out.
func outErr(op string, n *node) error {
	return fmt.Errorf("memcached: %s %s: %w", op, n.addr, ErrBreakerOpen)
}

func ignoreMiss(err error) error {
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return err
}

// deadline returns when an item stored now with memcached expiration exp
// expires: the zero time for never, ok false for at once.
func deadline(exp int32, now time.Time) (until time.Time, ok bool) {
	switch {
	case exp == 0:
		return time.Time{}, true
	case exp < 0:
		return time.Time{}, false
	case exp <= maxRelative:
		return now.Add(time.Duration(exp) * time.Second), true
	}
	until = time.Unix(int64(exp), 0)
	return until, until.After(now)
}

// capExpiration returns exp, or the expiration of an item living ttl if
// exp would outlive it.
func capExpiration(exp int32, ttl time.Duration, now time.Time) int32 {
	until, ok := deadline(exp, now)
	if !ok || !until.IsZero() && until.Sub(now) <= ttl {
		return exp
	}
	capped, _ := Expiration(ttl, now)
	return capped
}
