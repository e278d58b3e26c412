// Package memcached is authgate's access to memcached, shared by the
// validated-token cache and the refresh-token store: gomemcache calls that
// respect a context's end, a circuit breaker, and memcached's expiration
// rules.
package memcached

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrBreakerOpen is returned, without asking memcached, while the breaker is
// open.
var ErrBreakerOpen = errors.New("memcached: circuit breaker open")

// Config configures a Client's circuit breaker.
type Config struct {
	// BreakerThreshold is how many consecutive failures open the breaker.
	// Default 5.
	BreakerThreshold int
	// BreakerCooldown is how long the breaker stays open before one call is
	// let through to probe. Default 5s.
	BreakerCooldown time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnBreakerChange, when set, is called on every opening and closing.
	OnBreakerChange func(open bool)
}

// Client wraps a *memcache.Client. gomemcache takes no context, so a call
// whose context has already ended is not made, and the bound on a call is
// the gomemcache client's Timeout. It is safe for concurrent use.
type Client struct {
	mc *memcache.Client
	b  *breaker
}

// New wraps mc.
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

// NewClient returns a gomemcache client for servers ("host:port"), with
// timeout for every network operation and maxIdleConns idle connections
// kept per server. Unlike memcache.New, it fails now on an address that does
// not resolve.
func NewClient(servers []string, timeout time.Duration, maxIdleConns int) (*memcache.Client, error) {
	if len(servers) == 0 {
		return nil, errors.New("memcached: no servers")
	}
	var ss memcache.ServerList
	if err := ss.SetServers(servers...); err != nil {
		return nil, fmt.Errorf("memcached: servers %v: %w", servers, err)
	}
	c := memcache.NewFromSelector(&ss)
	c.Timeout = timeout
	c.MaxIdleConns = maxIdleConns
	return c, nil
}

// BreakerOpen reports whether calls are currently refused.
func (c *Client) BreakerOpen() bool { return c.b.isOpen() }

// Get fetches key.
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

// Add stores item only if its key is absent; memcache.ErrNotStored otherwise.
func (c *Client) Add(ctx context.Context, item *memcache.Item) error {
	return c.do(ctx, "add", func() error { return c.mc.Add(item) })
}

// CompareAndSwap stores item if it is unchanged since it was read.
func (c *Client) CompareAndSwap(ctx context.Context, item *memcache.Item) error {
	return c.do(ctx, "cas", func() error { return c.mc.CompareAndSwap(item) })
}

// Delete removes key; memcache.ErrCacheMiss when it was absent.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.do(ctx, "delete", func() error { return c.mc.Delete(key) })
}

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

// isFailure tells memcached failing (network, timeout, server error) from
// answers that are just answers (a miss, a lost add or CAS race, a bad key).
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

// maxRelative is the largest expiration memcached reads as relative seconds
// (30 days); larger numbers are absolute Unix times.
const maxRelative = 30 * 24 * 60 * 60

// Expiration returns memcached's expiration for ttl: whole seconds rounded
// up, relative up to 30 days and an absolute Unix time beyond (a relative
// 31 days would expire at once). It reports false for a ttl ≤ 0, which must
// not be stored.
func Expiration(ttl time.Duration, now time.Time) (int32, bool) {
	if ttl <= 0 {
		return 0, false
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	if secs <= maxRelative {
		return int32(secs), true
	}
	return int32(min(now.Unix()+secs, math.MaxInt32)), true
}
