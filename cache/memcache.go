package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/internal/tracing"
)

// ErrMiss is [Memcache.Get]'s answer when there is no usable entry: none
// was stored, it expired, or it was refused (it did not parse or did not
// authenticate).
var ErrMiss = errors.New("cache: miss")

// ErrNotStored is [Memcache.Add]'s answer when the key already holds an
// entry, which it leaves alone.
var ErrNotStored = errors.New("cache: not stored, the key holds an entry")

// MemcacheConfig configures a [Memcache]. Namespace, HashKey and MACKeys are
// required.
type MemcacheConfig struct {
	// Namespace separates environments and services sharing one memcached,
	// e.g. "prod/venue-api": 1 to 64 printable ASCII characters, no space.
	// It is part of every key name. Required.
	Namespace string
	// HashKey keys the HMAC that turns a digest into a key name, so that
	// memcached's keys reveal nothing about the tokens and differ per
	// service secret. At least 32 bytes, the same on every instance;
	// changing it orphans every entry. Required.
	HashKey []byte
	// MACKeys authenticate entries: the first signs new entries, and an
	// entry signed with any of them is accepted, so that a key can rotate:
	// deploy [new, old], then, once entries under old have expired, [new].
	// Ids must differ. Required, at least one.
	MACKeys []MACKey
}

// MACKey is a key authenticating cache entries. Its ID is stored in each
// entry it signs.
type MACKey struct {
	// ID names the key in the entries it signs; ids must differ.
	ID byte
	// Secret is the HMAC-SHA256 key, at least 32 bytes.
	Secret []byte
}

// Entry is a cached value and when it stops being valid. Memcache keeps the
// expiry in whole seconds, rounded down.
type Entry struct {
	// Value is the cached bytes, opaque to this package. An Entry returned
	// by Get has its own Value.
	Value []byte
	// Expires is when the entry stops being valid.
	Expires time.Time
}

// Option configures a [Memcache]'s collaborators.
type Option interface{ apply(*options) }

type options struct {
	logger *zap.Logger
	reg    prometheus.Registerer
	now    func() time.Time
	tracer trace.Tracer // nil: no spans
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sets the logger for rare events: a refused entry, the circuit
// breaker opening or closing. Default zap.NewNop(); nil means the default.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithRegisterer registers the tier's metrics on reg; tiers on one
// registry share them. Default: none (the metrics count, unregistered).
func WithRegisterer(reg prometheus.Registerer) Option {
	return optionFunc(func(o *options) { o.reg = reg })
}

// WithTracerProvider makes [NewCluster] trace its calls with tp: one
// OpenTelemetry span per call to a node, "authgate.memcached.<op>" (get,
// set, add, cas, delete), a child of the span in the call's context (a
// call whose context holds none, such as a background probe, is not
// traced), with the operation, the node's address, for a get whether it
// found its keys, and the error. Key names are never shown. A [Memcache]
// is traced by its Cluster. Default: none (no spans, no work).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tracer = tracing.Tracer(tp) })
}

// WithClock sets the clock entries' expiry is measured with. Default time.Now; nil means the default.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) {
		if now != nil {
			o.now = now
		}
	})
}

// Memcache is the shared tier: entries in memcached, named by a keyed hash
// of the token's digest under a namespace and authenticated with an HMAC,
// so that memcached is trusted only to forget. An entry that does not
// parse, does not authenticate or has expired is a miss, counted and
// logged. It is safe for concurrent use.
//
// Entries written with Set and Add have one copy, on their key's node (on
// the gutter, briefly, while that node is out); entries written with
// SetReplicated and SetReplicatedIf have two, on two nodes, and GetCopies
// and GetMulti read both.
type Memcache struct {
	c         *Cluster
	codec     *codec
	namespace string
	logger    *zap.Logger
	now       func() time.Time
	rejected  [numReasons]prometheus.Counter // by reason; accepted unused
}

// NewMemcache returns the shared tier on cluster, after checking cfg.
// Several tiers (other namespaces, other services) may share a cluster.
func NewMemcache(cluster *Cluster, cfg MemcacheConfig, opts ...Option) (*Memcache, error) {
	if cluster == nil {
		return nil, errors.New("cache: NewMemcache needs a Cluster")
	}
	codec, err := newCodec(cfg)
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	return &Memcache{
		c:         cluster,
		codec:     codec,
		namespace: cfg.Namespace,
		logger:    o.logger,
		now:       o.now,
		rejected:  newRejectedCounters(o.reg),
	}, nil
}

func buildOptions(opts []Option) options {
	o := options{logger: zap.NewNop(), now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// KeyName returns the memcached key under which the entry for d is stored:
// "ag1:" + namespace + ":" + base64url(HMAC-SHA256(HashKey, d)), at most
// 112 bytes. It is for tests and tools that look at memcached directly.
func (c *Memcache) KeyName(d Digest) string {
	var buf [maxKeyName]byte
	return string(c.codec.appendKeyName(buf[:0], d))
}

// Get returns the entry stored for d. It returns [ErrMiss] when there is
// none, it has expired, or it was refused; any other error means memcached
// could not be asked (the key's node and its gutter are out, or ctx has
// ended), which callers should also treat as a miss.
func (c *Memcache) Get(ctx context.Context, d Digest) (Entry, error) {
	var buf [maxKeyName]byte
	name := c.codec.appendKeyName(buf[:0], d)
	key := string(name)
	it, err := c.c.Get(ctx, key)
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return Entry{}, ErrMiss
	case err != nil:
		return Entry{}, fmt.Errorf("cache: %w", err)
	}
	return c.open(name, key, it.Value)
}

// GetCopies returns the usable entries stored for d on its two nodes (one
// in a cluster of one node): what SetReplicated wrote, and what Set or Add
// wrote on either. The entry of d's own node comes first. It returns
// [ErrMiss] when neither node holds a usable entry, and another error when
// neither could be asked.
func (c *Memcache) GetCopies(ctx context.Context, d Digest) ([]Entry, error) {
	ls, err := c.GetMulti(ctx, []Digest{d})
	switch {
	case err != nil:
		return nil, err
	case len(ls[0].Entries) == 0:
		return nil, ErrMiss
	}
	return ls[0].Entries, nil
}

// Lookup is what [Memcache.GetMulti] found for one digest.
type Lookup struct {
	// Entries are the usable entries on the digest's two nodes, its own
	// node's first; none for a miss.
	Entries []Entry
	// Err is set when neither node could be asked: whether an entry is
	// there is unknown.
	Err error
}

// GetMulti is GetCopies for several digests in one round trip per node:
// the keys are grouped by node, each node is sent one gets of all the keys
// it holds a copy of, and the nodes are asked at once. It returns one
// Lookup per digest, in order, and an error only when no node could be
// asked at all.
func (c *Memcache) GetMulti(ctx context.Context, ds []Digest) ([]Lookup, error) {
	// Every key name has the same length: ds[i]'s is names[i*n : (i+1)*n].
	n := len(c.codec.prefix) + encodedNameLen
	names := make([]byte, 0, len(ds)*n)
	for _, d := range ds {
		names = c.codec.appendKeyName(names, d)
	}
	all := string(names) // one copy for every key
	keys := make([]string, len(ds))
	for i := range ds {
		keys[i] = all[i*n : (i+1)*n]
	}
	cps, err := c.c.GetMulti(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	out := make([]Lookup, len(ds))
	for i, cp := range cps {
		if cp.Answered() == 0 {
			out[i].Err = fmt.Errorf("cache: no copy could be read: %w", errors.Join(cp.Errs[0], cp.Errs[1]))
			continue
		}
		name := names[i*n : (i+1)*n]
		for _, it := range cp.Items {
			if it == nil {
				continue
			}
			if e, err := c.open(name, keys[i], it.Value); err == nil {
				out[i].Entries = append(out[i].Entries, e)
			}
		}
	}
	return out, nil
}

// open checks a value read under name (key, as a string).
func (c *Memcache) open(name []byte, key string, v []byte) (Entry, error) {
	e, r := c.codec.open(name, v, c.now())
	if r != accepted {
		c.refused(key, r)
		return Entry{}, ErrMiss
	}
	return e, nil
}

// Set stores e for d until e.Expires, in whole seconds rounded down,
// replacing any entry d holds, on d's node (or, while it is out, on the
// gutter for a short while). An entry that has expired by then is not
// stored, and that is not an error.
func (c *Memcache) Set(ctx context.Context, d Digest, e Entry) error {
	return c.store(ctx, d, e, func(ctx context.Context, it *memcache.Item) error { return c.c.Set(ctx, it) })
}

// Add is Set for a key that holds no entry: when one is there (even one this
// tier would refuse), it is left alone and Add returns [ErrNotStored]. A
// value that must never replace another — a validated token must not replace
// the mark that revoked it — is written with Add.
func (c *Memcache) Add(ctx context.Context, d Digest, e Entry) error {
	err := c.store(ctx, d, e, func(ctx context.Context, it *memcache.Item) error { return c.c.Add(ctx, it) })
	if errors.Is(err, memcache.ErrNotStored) {
		return ErrNotStored
	}
	return err
}

// SetReplicated is Set on both of d's nodes, for what must survive the loss
// of one: it succeeds when one copy was written, and a node that missed its
// copy gets it when it rejoins. Read it back with GetCopies.
func (c *Memcache) SetReplicated(ctx context.Context, d Digest, e Entry) error {
	return c.store(ctx, d, e, func(ctx context.Context, it *memcache.Item) error {
		_, err := c.c.SetReplicated(ctx, it)
		return err
	})
}

// SetReplicatedIf is SetReplicated that never goes back over a newer
// entry: on each of d's nodes, e replaces what the node holds only when
// that does not open (absent, expired, or not authenticated by this tier)
// or when replace(current) says so — a compare-and-swap per copy, read
// again if another writer got there first. A revocation mark that must
// only ever move forward is written with it. replace must be quick and
// safe for concurrent use; the entry it is given is valid only during the
// call.
func (c *Memcache) SetReplicatedIf(ctx context.Context, d Digest, e Entry, replace func(current Entry) bool) error {
	return c.store(ctx, d, e, func(ctx context.Context, it *memcache.Item) error {
		name := []byte(it.Key)
		_, err := c.c.SetReplicatedIf(ctx, it, func(cur *memcache.Item) bool {
			old, r := c.codec.open(name, cur.Value, c.now())
			return r != accepted || replace(old)
		})
		return err
	})
}

func (c *Memcache) store(ctx context.Context, d Digest, e Entry, write func(context.Context, *memcache.Item) error) error {
	ttl := time.Unix(e.Expires.Unix(), 0).Sub(c.now())
	// memcached's own clock is the real one, whatever clock c has: an
	// expiration past 30 days is an absolute time and must count from it.
	exp, ok := memcached.Expiration(ttl, time.Now())
	if !ok {
		return nil
	}
	var buf [maxKeyName]byte
	name := c.codec.appendKeyName(buf[:0], d)
	v := c.codec.seal(name, e, c.codec.signID)
	err := write(ctx, &memcache.Item{Key: string(name), Value: v, Expiration: exp})
	switch {
	case errors.Is(err, memcache.ErrNotStored):
		return err
	case err != nil:
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// Delete removes the entry for d from d's node; an absent entry is not an
// error.
func (c *Memcache) Delete(ctx context.Context, d Digest) error {
	if err := c.c.Delete(ctx, c.KeyName(d)); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// ErrLeased is [Memcache.Lease]'s answer when another holder has the lease.
var ErrLeased = errors.New("cache: leased by another holder")

// Lease takes the lease on d for ttl — one holder at a time, across every
// instance — and returns its release, which removes it only while it is
// still this holder's. It returns [ErrLeased] when another holder has it,
// and another error when memcached could not be asked. A lease has one
// copy: it is a hint that saves work, never a lock that correctness rests
// on.
func (c *Memcache) Lease(ctx context.Context, d Digest, ttl time.Duration) (release func(context.Context), err error) {
	var buf [maxKeyName + len(leaseSuffix)]byte
	key := string(append(c.codec.appendKeyName(buf[:0], d), leaseSuffix...))
	l, err := c.c.Lease(ctx, key, ttl)
	switch {
	case errors.Is(err, memcached.ErrLocked):
		return nil, ErrLeased
	case err != nil:
		return nil, fmt.Errorf("cache: %w", err)
	}
	return func(ctx context.Context) { _ = l.Unlock(ctx) }, nil
}

// leaseSuffix names a lease beside the entry it guards.
const leaseSuffix = ":lease"

// refused counts and logs an entry read under name and refused for r. An
// expired entry is routine (memcached rounds lifetimes up to whole seconds
// and instances' clocks differ), so it is logged at Debug; anything else
// means someone wrote memcached without the MAC key, or the keys are
// misconfigured, and is logged at Warn.
func (c *Memcache) refused(name string, r reason) {
	c.rejected[r].Inc()
	level := zapcore.WarnLevel
	if r == rejectExpired {
		level = zapcore.DebugLevel
	}
	if ce := c.logger.Check(level, "cache: memcached entry refused"); ce != nil {
		shown := min(len(name), len(c.codec.prefix)+logNameLen)
		ce.Write(zap.String("reason", r.String()), zap.String("key", name[:shown]))
	}
}

func newRejectedCounters(reg prometheus.Registerer) [numReasons]prometheus.Counter {
	var counters [numReasons]prometheus.Counter
	rejected := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_cache_rejected_entries_total",
		Help: "Entries read from memcached and refused, by reason: malformed, unknown_key, bad_mac, expired.",
	}, []string{"reason"}))
	for r := accepted + 1; r < numReasons; r++ {
		counters[r] = rejected.WithLabelValues(r.String())
	}
	return counters
}
