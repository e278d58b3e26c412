package memcached

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrBreakerOpen is returned, without asking memcached, while the circuit
// breaker is open.
var ErrBreakerOpen = errors.New("memcached: circuit breaker open")

// Config configures a [Client]'s circuit breaker. The zero value is ready
// to use.
type Config struct {
	// BreakerThreshold is how many consecutive failures open the breaker.
	// Default 5.
	BreakerThreshold int
	// BreakerCooldown is how long the breaker stays open before one call is
	// let through as a probe. Default 5s.
	BreakerCooldown time.Duration
	// Now is the clock the cooldown is measured with. Default time.Now.
	Now func() time.Time
	// OnBreakerChange, when set, is called on every opening (true) and
	// closing (false), in the goroutine of the call that caused it, for
	// metrics and logs. It must not call the Client. Default: nil.
	OnBreakerChange func(open bool)
}

// Client wraps a *memcache.Client with a context check, a circuit breaker
// and errors that name the operation. It is safe for concurrent use.
type Client struct {
	mc *memcache.Client
	b  *breaker
}

// New wraps mc. Several Clients may wrap the same mc; each has its own
// breaker.
func New(mc *memcache.Client, cfg Config) *Client {
	if cfg.BreakerThreshold <= 0 {
		cfg.BreakerThreshold = 5
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{mc: mc, b: newBreaker(cfg)}
}

// NewClient returns a gomemcache client for servers ("host:port" or a Unix
// socket path) with timeout bounding each dial, read and write, and
// maxIdleConns idle connections kept per server (gomemcache keeps only 2 by
// default, so under more concurrency than that most calls would dial).
// Unlike memcache.New it fails now, with an error, on an address that does
// not resolve. A timeout or maxIdleConns ≤ 0 leaves gomemcache's default
// (500 ms, 2).
func NewClient(servers []string, timeout time.Duration, maxIdleConns int) (*memcache.Client, error) {
	if len(servers) == 0 {
		return nil, errors.New("memcached: no servers given")
	}
	var ss memcache.ServerList
	if err := ss.SetServers(servers...); err != nil {
		return nil, fmt.Errorf("memcached: servers %q: %w", servers, err)
	}
	c := memcache.NewFromSelector(&ss)
	c.Timeout = max(timeout, 0)
	c.MaxIdleConns = max(maxIdleConns, 0)
	return c, nil
}

// BreakerOpen reports whether the circuit breaker is open (or half-open,
// with its probe in flight), that is whether calls are being refused.
func (c *Client) BreakerOpen() bool { return c.b.isOpen() }

// Get fetches key; memcache.ErrCacheMiss when it is absent.
func (c *Client) Get(ctx context.Context, key string) (*memcache.Item, error) {
	var it *memcache.Item
	err := c.do(ctx, "get", func() (err error) {
		it, err = c.mc.Get(key)
		return err
	})
	return it, err
}

// Set stores item unconditionally.
func (c *Client) Set(ctx context.Context, item *memcache.Item) error {
	return c.do(ctx, "set", func() error { return c.mc.Set(item) })
}

// Add stores item only if its key is absent; memcache.ErrNotStored
// otherwise.
func (c *Client) Add(ctx context.Context, item *memcache.Item) error {
	return c.do(ctx, "add", func() error { return c.mc.Add(item) })
}

// CompareAndSwap stores item, which must come from Get, only if it has not
// changed since; memcache.ErrCASConflict when it has, and
// memcache.ErrCacheMiss when it has gone.
func (c *Client) CompareAndSwap(ctx context.Context, item *memcache.Item) error {
	return c.do(ctx, "cas", func() error { return c.mc.CompareAndSwap(item) })
}

// Delete removes key; memcache.ErrCacheMiss when it was absent.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.do(ctx, "delete", func() error { return c.mc.Delete(key) })
}

// do runs call unless ctx has ended or the breaker refuses it, and tells the
// breaker how it went.
func (c *Client) do(ctx context.Context, op string, call func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcached: %s: %w", op, err)
	}
	probe, ok := c.b.allow()
	if !ok {
		return fmt.Errorf("memcached: %s: %w", op, ErrBreakerOpen)
	}
	err := call()
	c.b.record(probe, isFailure(err))
	if err != nil {
		return fmt.Errorf("memcached: %s: %w", op, err)
	}
	return nil
}

// isFailure tells memcached failing (network errors, timeouts, server
// errors, no server) from answers that are just answers: a miss, a lost add
// or compare-and-swap race, a key gomemcache refused to send.
func isFailure(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, memcache.ErrCacheMiss),
		errors.Is(err, memcache.ErrNotStored),
		errors.Is(err, memcache.ErrCASConflict),
		errors.Is(err, memcache.ErrMalformedKey):
		return false
	}
	return true
}

// maxRelative is the largest expiration, in seconds, that memcached reads
// as relative to now (30 days); a larger number is an absolute Unix time.
const maxRelative = 30 * 24 * 60 * 60

// Expiration returns the memcached expiration for an item that should live
// ttl from now: whole seconds rounded up, relative up to 30 days and the
// absolute Unix time beyond (memcached would read a relative 31 days as a
// time in 1970 and expire the item at once). now must be memcached's clock,
// that is the real time. gomemcache's expiration is an int32, so an
// absolute time past January 2038 is cut to its largest value. Expiration
// reports false for a ttl ≤ 0: such an item must not be stored, since 0
// would mean "never expires".
func Expiration(ttl time.Duration, now time.Time) (int32, bool) {
	if ttl <= 0 {
		return 0, false
	}
	secs := int64(ttl / time.Second)
	if ttl%time.Second != 0 {
		secs++ // round up; ttl+time.Second-1 could overflow
	}
	if secs <= maxRelative {
		return int32(secs), true
	}
	return int32(min(now.Unix()+secs, math.MaxInt32)), true
}
