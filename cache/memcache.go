package cache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/authgate/authgate/internal/memcached"
	"github.com/authgate/authgate/internal/metrics"
)

// ErrMiss is Memcache.Get's answer for an absent, expired or rejected entry.
var ErrMiss = errors.New("cache: miss")

// MemcacheConfig configures the shared tier. Namespace, HashKey and MACKeys
// are required.
type MemcacheConfig struct {
	// Namespace separates environments and services sharing one memcached,
	// e.g. "prod/venue-api": 1-64 printable ASCII characters, no spaces.
	Namespace string
	// HashKey (at least 32 bytes) keys the HMAC that turns a digest into a
	// key name, so memcached's keys reveal nothing about the tokens and
	// differ per service secret. Changing it orphans every entry.
	HashKey []byte
	// MACKeys authenticate entries: the first signs new ones, all are
	// accepted when reading, so keys can rotate.
	MACKeys []MACKey
	// BreakerThreshold and BreakerCooldown tune the circuit breaker
	// (defaults: 5 consecutive failures, 5s).
	BreakerThreshold int
	BreakerCooldown  time.Duration
}

// MACKey is a key authenticating cache entries.
type MACKey struct {
	ID     byte
	Secret []byte // at least 32 bytes
}

// Entry is a cached value and when it stops being valid.
type Entry struct {
	Value   []byte
	Expires time.Time
}

// Option configures the shared tier's collaborators.
type Option interface{ apply(*options) }

type options struct {
	logger *zap.Logger
	reg    prometheus.Registerer
	now    func() time.Time
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sets the logger for rare events (breaker, rejected entries).
// Default: zap.NewNop().
func WithLogger(l *zap.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// WithRegisterer registers the tier's metrics on reg. Default: none.
func WithRegisterer(reg prometheus.Registerer) Option {
	return optionFunc(func(o *options) { o.reg = reg })
}

// WithClock sets the clock for expiry and the breaker. Default: time.Now.
func WithClock(now func() time.Time) Option { return optionFunc(func(o *options) { o.now = now }) }

// Entry layout: version | MAC key id | expires (Unix seconds, big-endian) |
// payload | HMAC-SHA256 over key name and everything before it.
const (
	entryVersion = 1
	headerLen    = 1 + 1 + 8
	macLen       = sha256.Size
)

// The reasons an entry read from memcached is refused.
const (
	rejectMalformed  = "malformed"
	rejectUnknownKey = "unknown_key"
	rejectBadMAC     = "bad_mac"
	rejectExpired    = "expired"
)

// Memcache is the shared tier: entries in memcached, named by a keyed hash
// of the token's digest and authenticated with a MAC, so that memcached is
// only trusted to forget. An entry that fails the MAC, does not parse or has
// expired is a miss, counted and logged. It is safe for concurrent use.
type Memcache struct {
	c       *memcached.Client
	prefix  string
	namer   *hmacPool
	signKey MACKey
	macs    map[byte]*hmacPool // by key id
	o       options

	rejected    map[string]prometheus.Counter
	errors      *prometheus.CounterVec
	breakerOpen prometheus.Gauge
}

// NewMemcacheClient returns a gomemcache client for servers with the
// defaults the shared tier wants: a 100 ms timeout — well under a provider
// round trip, so a slow memcached costs little — and 64 idle connections
// per server, since gomemcache keeps only 2 by default and every request
// beyond them would dial.
func NewMemcacheClient(servers []string) (*memcache.Client, error) {
	return memcached.NewClient(servers, 100*time.Millisecond, 64)
}

// NewMemcache returns the shared tier on client.
func NewMemcache(client *memcache.Client, cfg MemcacheConfig, opts ...Option) (*Memcache, error) {
	if err := checkNamespace(cfg.Namespace); err != nil {
		return nil, err
	}
	if len(cfg.HashKey) < 32 {
		return nil, errors.New("cache: MemcacheConfig.HashKey must be at least 32 bytes")
	}
	if len(cfg.MACKeys) == 0 {
		return nil, errors.New("cache: MemcacheConfig.MACKeys needs at least one key")
	}
	c := &Memcache{
		prefix:  "ag1:" + cfg.Namespace + ":",
		namer:   newHMACPool(cfg.HashKey),
		signKey: cfg.MACKeys[0],
		macs:    make(map[byte]*hmacPool, len(cfg.MACKeys)),
		o:       options{logger: zap.NewNop(), now: time.Now},
	}
	for _, k := range cfg.MACKeys {
		if len(k.Secret) < 32 {
			return nil, fmt.Errorf("cache: MAC key %d must be at least 32 bytes", k.ID)
		}
		if _, dup := c.macs[k.ID]; dup {
			return nil, fmt.Errorf("cache: MAC key id %d given twice", k.ID)
		}
		c.macs[k.ID] = newHMACPool(k.Secret)
	}
	for _, opt := range opts {
		opt.apply(&c.o)
	}
	c.registerMetrics()
	c.c = memcached.New(client, memcached.Config{
		BreakerThreshold: cfg.BreakerThreshold,
		BreakerCooldown:  cfg.BreakerCooldown,
		Now:              c.o.now,
		OnBreakerChange:  c.breakerChanged,
	})
	return c, nil
}

func checkNamespace(ns string) error {
	if len(ns) == 0 || len(ns) > 64 {
		return errors.New("cache: MemcacheConfig.Namespace must be 1 to 64 characters")
	}
	for i := 0; i < len(ns); i++ {
		if ns[i] <= ' ' || ns[i] > '~' {
			return fmt.Errorf("cache: MemcacheConfig.Namespace %q has a space, control or non-ASCII character", ns)
		}
	}
	return nil
}

// KeyName returns the memcached key of digest d:
// "ag1:" + namespace + ":" + base64url(HMAC-SHA256(HashKey, d)), at most 112
// bytes.
func (c *Memcache) KeyName(d Digest) string {
	sum := c.namer.sum(d[:], "", nil)
	return c.prefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Get returns the entry stored for d, or ErrMiss when there is none, it
// expired, or it does not authenticate. Other errors mean memcached could
// not be asked (down, slow, breaker open); callers treat them as a miss.
func (c *Memcache) Get(ctx context.Context, d Digest) (Entry, error) {
	name := c.KeyName(d)
	it, err := c.c.Get(ctx, name)
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return Entry{}, ErrMiss
	case err != nil:
		c.failed("get", err)
		return Entry{}, fmt.Errorf("cache: %w", err)
	}
	e, reason := c.open(name, it.Value)
	if reason != "" {
		c.rejected[reason].Inc()
		if reason != rejectExpired {
			c.o.logger.Warn("cache: memcached entry rejected", zap.String("reason", reason), zap.String("key", name[:min(len(name), len(c.prefix)+8)]))
		}
		return Entry{}, ErrMiss
	}
	return e, nil
}

// open checks an entry read under name and returns it, or why it is refused.
func (c *Memcache) open(name string, v []byte) (Entry, string) {
	if len(v) < headerLen+macLen || v[0] != entryVersion {
		return Entry{}, rejectMalformed
	}
	mac, ok := c.macs[v[1]]
	if !ok {
		return Entry{}, rejectUnknownKey
	}
	body, tag := v[:len(v)-macLen], v[len(v)-macLen:]
	want := mac.sum(nil, name, body)
	if !hmac.Equal(tag, want[:]) {
		return Entry{}, rejectBadMAC
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(v[2:headerLen])), 0)
	if !c.o.now().Before(expires) {
		return Entry{}, rejectExpired
	}
	return Entry{Value: body[headerLen:], Expires: expires}, ""
}

// seal returns the stored form of e under name.
func (c *Memcache) seal(name string, e Entry) []byte {
	v := make([]byte, headerLen, headerLen+len(e.Value)+macLen)
	v[0], v[1] = entryVersion, c.signKey.ID
	binary.BigEndian.PutUint64(v[2:headerLen], uint64(e.Expires.Unix()))
	v = append(v, e.Value...)
	tag := c.macs[c.signKey.ID].sum(nil, name, v)
	return append(v, tag[:]...)
}

// Set stores e for d until e.Expires (nothing when that has passed).
func (c *Memcache) Set(ctx context.Context, d Digest, e Entry) error {
	exp, ok := memcached.Expiration(e.Expires.Sub(c.o.now()), time.Now())
	if !ok {
		return nil
	}
	name := c.KeyName(d)
	if err := c.c.Set(ctx, &memcache.Item{Key: name, Value: c.seal(name, e), Expiration: exp}); err != nil {
		c.failed("set", err)
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// Delete removes the entry for d; an absent entry is not an error.
func (c *Memcache) Delete(ctx context.Context, d Digest) error {
	err := c.c.Delete(ctx, c.KeyName(d))
	if err == nil || errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	c.failed("delete", err)
	return fmt.Errorf("cache: %w", err)
}

func (c *Memcache) failed(op string, err error) {
	if !errors.Is(err, memcached.ErrBreakerOpen) && !errors.Is(err, context.Canceled) {
		c.errors.WithLabelValues(op).Inc()
	}
}

func (c *Memcache) breakerChanged(open bool) {
	if open {
		c.breakerOpen.Set(1)
		c.o.logger.Warn("cache: memcached failing; circuit breaker open, requests are validated without it")
		return
	}
	c.breakerOpen.Set(0)
	c.o.logger.Info("cache: memcached answering again; circuit breaker closed")
}

func (c *Memcache) registerMetrics() {
	rejected := metrics.Register(c.o.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_cache_rejected_entries_total",
		Help: "Entries read from memcached and refused, by reason (malformed, unknown_key, bad_mac, expired).",
	}, []string{"reason"}))
	c.rejected = map[string]prometheus.Counter{}
	for _, r := range []string{rejectMalformed, rejectUnknownKey, rejectBadMAC, rejectExpired} {
		c.rejected[r] = rejected.WithLabelValues(r)
	}
	c.errors = metrics.Register(c.o.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authgate_cache_memcache_errors_total",
		Help: "memcached calls that failed, by operation (get, set, delete).",
	}, []string{"op"}))
	for _, op := range []string{"get", "set", "delete"} {
		c.errors.WithLabelValues(op)
	}
	c.breakerOpen = metrics.Register(c.o.reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "authgate_cache_memcache_breaker_open",
		Help: "1 while the memcached circuit breaker is open.",
	}))
}
