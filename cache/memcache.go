package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/metrics"
)

// ErrMiss is [Memcache.Get]'s answer when there is no usable entry: none
// was stored, it expired, or it was refused (it did not parse or did not
// authenticate).
var ErrMiss = errors.New("cache: miss")

// ErrNotStored is [Memcache.Add]'s answer when the key already holds an
// entry, which it leaves alone.
var ErrNotStored = errors.New("cache: not stored, the key holds an entry")

// MemcacheConfig configures a [Memcache]. Namespace, HashKey and MACKeys are
// required; the breaker settings default as in [memcached.Config].
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
	// BreakerThreshold is how many consecutive memcached failures open the
	// circuit breaker. Default 5.
	BreakerThreshold int
	// BreakerCooldown is how long the breaker stays open before one call
	// probes memcached again. Default 5s.
	BreakerCooldown time.Duration
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

// WithClock sets the clock entries' expiry and the circuit breaker's
// cooldown are measured with. Default time.Now; nil means the default.
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
// logged. A memcached that fails opens a circuit breaker, during which
// calls fail at once. It is safe for concurrent use.
type Memcache struct {
	c         *memcached.Client
	codec     *codec
	namespace string
	logger    *zap.Logger
	now       func() time.Time
	metrics   memcacheMetrics
}

// memcacheMetrics are a Memcache's collectors, created with all their
// labels.
type memcacheMetrics struct {
	rejected                  [numReasons]prometheus.Counter // by reason; accepted unused
	getErrs, setErrs, delErrs prometheus.Counter
	breakerOpen               prometheus.Gauge
}

// NewMemcacheClient returns a gomemcache client for servers ("host:port")
// with the shared tier's defaults: a 100 ms timeout for each dial, read and
// write — a slow memcached must cost a request less than validating its
// token — and 64 idle connections per server, since gomemcache keeps only
// 2 by default and under more concurrency than that most calls would dial.
// It fails on an address that does not resolve. The client can be shared
// with other users of the same memcached, such as refresh.NewMemcacheStore.
func NewMemcacheClient(servers []string) (*memcache.Client, error) {
	return memcached.NewClient(servers, 100*time.Millisecond, 64)
}

// NewMemcache returns the shared tier on client, after checking cfg.
func NewMemcache(client *memcache.Client, cfg MemcacheConfig, opts ...Option) (*Memcache, error) {
	if client == nil {
		return nil, errors.New("cache: NewMemcache needs a memcache client")
	}
	codec, err := newCodec(cfg)
	if err != nil {
		return nil, err
	}
	o := options{logger: zap.NewNop(), now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	c := &Memcache{
		codec:     codec,
		namespace: cfg.Namespace,
		logger:    o.logger,
		now:       o.now,
		metrics:   newMemcacheMetrics(o.reg),
	}
	c.c = memcached.New(client, memcached.Config{
		BreakerThreshold: cfg.BreakerThreshold,
		BreakerCooldown:  cfg.BreakerCooldown,
		Now:              o.now,
		OnBreakerChange:  c.breakerChanged,
	})
	return c, nil
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
// could not be asked (it is down or slow, the circuit breaker is open, or
// ctx has ended), which callers should also treat as a miss.
func (c *Memcache) Get(ctx context.Context, d Digest) (Entry, error) {
	var buf [maxKeyName]byte
	name := c.codec.appendKeyName(buf[:0], d)
	key := string(name)
	it, err := c.c.Get(ctx, key)
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return Entry{}, ErrMiss
	case err != nil:
		return Entry{}, c.failed(ctx, c.metrics.getErrs, err)
	}
	e, r := c.codec.open(name, it.Value, c.now())
	if r != accepted {
		c.refused(key, r)
		return Entry{}, ErrMiss
	}
	return e, nil
}

// Set stores e for d until e.Expires, in whole seconds rounded down,
// replacing any entry d holds. An entry that has expired by then is not
// stored, and that is not an error.
func (c *Memcache) Set(ctx context.Context, d Digest, e Entry) error {
	return c.store(ctx, d, e, c.c.Set)
}

// Add is Set for a key that holds no entry: when one is there (even one this
// tier would refuse), it is left alone and Add returns [ErrNotStored]. A
// value that must never replace another — a validated token must not replace
// the mark that revoked it — is written with Add.
func (c *Memcache) Add(ctx context.Context, d Digest, e Entry) error {
	err := c.store(ctx, d, e, c.c.Add)
	if errors.Is(err, memcache.ErrNotStored) {
		return ErrNotStored
	}
	return err
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
		return c.failed(ctx, c.metrics.setErrs, err)
	}
	return nil
}

// Delete removes the entry for d; an absent entry is not an error.
func (c *Memcache) Delete(ctx context.Context, d Digest) error {
	err := c.c.Delete(ctx, c.KeyName(d))
	if err == nil || errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return c.failed(ctx, c.metrics.delErrs, err)
}

// failed counts a failed call, unless it was refused by the open breaker
// (the gauge tells that) or by ctx's end (the caller's doing), and wraps
// its error.
func (c *Memcache) failed(ctx context.Context, errs prometheus.Counter, err error) error {
	if !errors.Is(err, memcached.ErrBreakerOpen) && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
		errs.Inc()
	}
	return fmt.Errorf("cache: %w", err)
}

// refused counts and logs an entry read under name and refused for r. An
// expired entry is routine (memcached rounds lifetimes up to whole seconds
// and instances' clocks differ), so it is logged at Debug; anything else
// means someone wrote memcached without the MAC key, or the keys are
// misconfigured, and is logged at Warn.
func (c *Memcache) refused(name string, r reason) {
	c.metrics.rejected[r].Inc()
	level := zapcore.WarnLevel
	if r == rejectExpired {
		level = zapcore.DebugLevel
	}
	if ce := c.logger.Check(level, "cache: memcached entry refused"); ce != nil {
		shown := min(len(name), len(c.codec.prefix)+logNameLen)
		ce.Write(zap.String("reason", r.String()), zap.String("key", name[:shown]))
	}
}

// breakerChanged keeps the gauge and the logs in step with the breaker.
// The gauge goes up and down rather than being set, so that tiers sharing a
// registry add up: it is the number of them whose breaker is open.
func (c *Memcache) breakerChanged(open bool) {
	if open {
		c.metrics.breakerOpen.Inc()
		c.logger.Warn("cache: memcached failing; circuit breaker open, tokens are validated without it",
			zap.String("namespace", c.namespace))
		return
	}
	c.metrics.breakerOpen.Dec()
	c.logger.Info("cache: memcached answering again; circuit breaker closed",
		zap.String("namespace", c.namespace))
}

func newMemcacheMetrics(reg prometheus.Registerer) memcacheMetrics {
	var m memcacheMetrics
	rejected := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_cache_rejected_entries_total",
		Help: "Entries read from memcached and refused, by reason: malformed, unknown_key, bad_mac, expired.",
	}, []string{"reason"}))
	for r := accepted + 1; r < numReasons; r++ {
		m.rejected[r] = rejected.WithLabelValues(r.String())
	}
	errs := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_cache_memcache_errors_total",
		Help: "Calls to memcached that failed, by operation: get, set (add included), delete. Calls refused by the open circuit breaker are not counted.",
	}, []string{"op"}))
	m.getErrs, m.setErrs, m.delErrs = errs.WithLabelValues("get"), errs.WithLabelValues("set"), errs.WithLabelValues("delete")
	m.breakerOpen = metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "authgate_cache_memcache_breaker_open",
		Help: "1 while the memcached circuit breaker is open (with tiers sharing a registry, how many are open).",
	}))
	return m
}
