package tokenvalidator

import (
	"context"
	"errors"
	"sync"
	"time"
)

// BudgetConfig sizes a [Budget]. Zero values are the documented defaults.
//
// The defaults keep a tenant inside Auth0's published Authentication API
// rate limits (https://auth0.com/docs/troubleshoot/customer-support/
// operational-policies/rate-limit-policy/rate-limit-configurations): a
// Free tenant's whole Authentication API allows 300 requests per minute
// (burst 300), a Self-Service, Essentials or Professional tenant's 25 per
// second, an Enterprise tenant's 100 per second — shared by every endpoint,
// logins and refreshes included — and /userinfo itself allows 5 requests
// per minute, with bursts of 10, per user ID. A call per second per
// instance is a fifth of the smallest tenant-wide limit, leaving room for
// logins and for a few instances; the per-user limit is kept by the
// validators' CacheTTL (a token costs one call a minute at most while its
// answer is cached — in memcached, once for a whole fleet). A budget is per
// process, so with N instances the tenant sees up to N times Rate: size
// Rate as your share of the tenant's limit divided by N.
type BudgetConfig struct {
	// Rate is the sustained number of calls per second. Default 1.
	Rate float64
	// Burst is how many calls may be made at once after a quiet spell.
	// Default 10 (Auth0's /userinfo burst).
	Burst int
	// Concurrency bounds the calls in flight at once. Default 8.
	Concurrency int
	// Wait bounds how long a validation waits for a free concurrency slot
	// before it is refused. Default 200ms. There is no other queue: a call
	// beyond the rate is refused at once.
	Wait time.Duration
}

// Budget caps the calls that validators make to one provider (issuer) to
// check tokens: a rate (token bucket) and a concurrency. A validation beyond
// the cap fails at once with a *claims.RetryError, which matches
// claims.ErrUnavailable and says when to retry (503 with Retry-After) —
// never an unbounded queue. Share one Budget among the [Introspection] and
// [UserInfo] validators of an issuer; each validator without one gets a
// default Budget of its own. Tokens refused before a call (malformed, too
// large) and tokens served from a cache cost nothing. A Budget is safe for
// concurrent use.
type Budget struct {
	cfg   BudgetConfig
	now   func() time.Time
	slots chan struct{} // one element per call in flight

	mu     sync.Mutex // guards tokens and last
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

// NewBudget checks cfg and returns a full budget. Of the options only
// WithClock matters: it drives the rate.
func NewBudget(cfg BudgetConfig, opts ...Option) (*Budget, error) {
	if cfg.Rate < 0 || cfg.Burst < 0 || cfg.Concurrency < 0 || cfg.Wait < 0 {
		return nil, errors.New("tokenvalidator: negative value in BudgetConfig")
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1
	}
	if cfg.Burst == 0 {
		cfg.Burst = 10
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 8
	}
	cfg.Wait = orDuration(cfg.Wait, 200*time.Millisecond)
	o := options{now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return &Budget{
		cfg: cfg, now: o.now, slots: make(chan struct{}, cfg.Concurrency),
		tokens: float64(cfg.Burst), last: o.now(),
	}, nil
}

var (
	errOverRate        = errors.New("outbound budget: call rate exhausted")
	errOverConcurrency = errors.New("outbound budget: too many calls in flight")
)

// take spends one call of the rate. When none is left it returns false and
// how long until one is.
func (b *Budget) take() (time.Duration, bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.After(b.last) {
		b.tokens = min(float64(b.cfg.Burst), b.tokens+now.Sub(b.last).Seconds()*b.cfg.Rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / b.cfg.Rate * float64(time.Second)), false
}

// refund gives back a call that take spent but that was never made.
func (b *Budget) refund() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(float64(b.cfg.Burst), b.tokens+1)
}

// enter takes a concurrency slot, waiting for one at most cfg.Wait. It
// returns errOverConcurrency when none freed up, or ctx's error.
func (b *Budget) enter(ctx context.Context) error {
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(b.cfg.Wait)
	defer timer.Stop()
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return errOverConcurrency
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave frees the slot enter took.
func (b *Budget) leave() { <-b.slots }
