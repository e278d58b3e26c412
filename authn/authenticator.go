package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/tokenvalidator"
)

// Config holds the Authenticator's cache settings. Zero values are the
// documented defaults.
type Config struct {
	// MaxTTL caps how long a validated token is cached in either tier; the
	// token's own expiry (or its validator's CacheUntil) caps it sooner.
	// Default 1h.
	MaxTTL time.Duration
	// MemoryTTL caps how long a result stays in this process's memory before
	// the shared tier is asked again. It is the bound on how long an
	// Invalidate made by another instance can go unnoticed here. Default 30s.
	MemoryTTL time.Duration
	// MemoryEntries bounds the in-process tier. Default 100,000.
	MemoryEntries int
	// NegativeTTL is how long an invalid token is remembered in memory, so
	// that a replayed bad token costs a map lookup. Default 10s.
	NegativeTTL time.Duration
	// NegativeEntries bounds the remembered invalid tokens, kept apart from
	// the valid ones so that a flood of garbage cannot evict them. Default
	// 10,000.
	NegativeEntries int
	// LocalJWTs verifies JWTs in this process without asking the shared
	// tier; opaque tokens still use it. An in-process miss then costs a
	// local verification (~50 µs of CPU) instead of a memcached round trip,
	// and a slow memcached cannot delay a JWT at all — at two costs:
	// Invalidate no longer reaches the other instances for JWTs (each
	// accepts an invalidated JWT until it expires), and the enricher runs
	// once per instance rather than once per token. Default false: the
	// shared tier first, for every token.
	LocalJWTs bool
	// ValidationTimeout bounds one shared validation (shared tier, provider,
	// enricher). It runs on a context of its own, so one caller giving up
	// does not fail the others waiting for it. Default 10s.
	ValidationTimeout time.Duration
}

// Enricher adds service-specific data to a newly validated Principal — for
// example the datasets its organization may see. The result is cached with
// the Principal in both tiers, so Enrich runs once per token, not per
// request. An error matching claims.ErrInvalidToken refuses the token; any
// other error is treated as an unavailable dependency (503, not cached).
type Enricher interface {
	Enrich(ctx context.Context, p *claims.Principal) (map[string][]string, error)
}

// EnricherFunc adapts a function to [Enricher].
type EnricherFunc func(ctx context.Context, p *claims.Principal) (map[string][]string, error)

// Enrich calls f.
func (f EnricherFunc) Enrich(ctx context.Context, p *claims.Principal) (map[string][]string, error) {
	return f(ctx, p)
}

// Option configures an Authenticator's collaborators.
type Option interface{ apply(*options) }

type options struct {
	shared   *cache.Memcache
	enricher Enricher
	logger   *zap.Logger
	reg      prometheus.Registerer
	now      func() time.Time
}

func defaultOptions(opts []Option) options {
	o := options{logger: zap.NewNop(), now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithMemcache adds the shared tier. Default: none (memory only).
func WithMemcache(m *cache.Memcache) Option {
	return optionFunc(func(o *options) { o.shared = m })
}

// WithEnricher adds an Enricher. Default: none.
func WithEnricher(e Enricher) Option {
	return optionFunc(func(o *options) { o.enricher = e })
}

// WithLogger sets the logger for rare events. Default: zap.NewNop().
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithRegisterer registers the Authenticator's metrics on reg. Default:
// metrics are kept but not registered.
func WithRegisterer(reg prometheus.Registerer) Option {
	return optionFunc(func(o *options) { o.reg = reg })
}

// WithClock sets the clock for cache expiry. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}

// errRevoked answers a token that was invalidated (logout, refresh).
var errRevoked = fmt.Errorf("authn: %w", claims.Invalid(claims.ReasonInactive, errors.New("the token was invalidated")))

// Authenticator turns a bearer token into a Principal, asking the identity
// provider as little as possible: the in-process tier first, then the shared
// memcached tier, and on a miss one validation per token however many
// requests wait for it. It is safe for concurrent use.
type Authenticator struct {
	cfg       Config
	validator tokenvalidator.Validator
	o         options
	memory    *cache.Memory[*claims.Principal]
	negative  *cache.Memory[error]
	flights   flights
	m         *instruments
}

// NewAuthenticator returns an Authenticator that validates with v.
func NewAuthenticator(v tokenvalidator.Validator, cfg Config, opts ...Option) (*Authenticator, error) {
	if v == nil {
		return nil, errors.New("authn: nil Validator")
	}
	cfg.MaxTTL = orDuration(cfg.MaxTTL, time.Hour)
	cfg.MemoryTTL = orDuration(cfg.MemoryTTL, 30*time.Second)
	cfg.NegativeTTL = orDuration(cfg.NegativeTTL, 10*time.Second)
	cfg.ValidationTimeout = orDuration(cfg.ValidationTimeout, 10*time.Second)
	if cfg.MemoryEntries == 0 {
		cfg.MemoryEntries = 100_000
	}
	if cfg.NegativeEntries == 0 {
		cfg.NegativeEntries = 10_000
	}
	if cfg.MaxTTL < 0 || cfg.MemoryTTL < 0 || cfg.NegativeTTL < 0 || cfg.ValidationTimeout < 0 ||
		cfg.MemoryEntries < 0 || cfg.NegativeEntries < 0 {
		return nil, errors.New("authn: negative duration or size in Config")
	}
	o := defaultOptions(opts)
	return &Authenticator{
		cfg:       cfg,
		validator: v,
		o:         o,
		memory:    cache.NewMemory[*claims.Principal](cache.MemoryConfig{MaxEntries: cfg.MemoryEntries}),
		negative:  cache.NewMemory[error](cache.MemoryConfig{MaxEntries: cfg.NegativeEntries}),
		m:         newInstruments(o.reg),
	}, nil
}

// Authenticate returns the Principal of token, or an error matching
// claims.ErrInvalidToken or claims.ErrUnavailable (or the context's error
// when ctx ends first). On an in-process hit it does not allocate.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*claims.Principal, error) {
	d := cache.DigestOf(token)
	now := a.o.now()
	if p, ok := a.memory.Get(d, now); ok {
		a.m.memoryHit.Inc()
		a.m.ok.Inc()
		return p, nil
	}
	a.m.memoryMiss.Inc()
	if err, ok := a.negative.Get(d, now); ok {
		a.m.negativeHit.Inc()
		a.m.invalid.Inc()
		return nil, err
	}
	return a.miss(ctx, token, d)
}

// miss leads or joins the one validation of a token that missed the
// in-process tier. It is a method of its own so that nothing on the hit
// path escapes to the heap.
func (a *Authenticator) miss(ctx context.Context, token string, d cache.Digest) (*claims.Principal, error) {
	f, leader := a.flights.join(d)
	if !leader {
		a.m.sharedWaits.Inc()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("authn: waiting for validation: %w", ctx.Err())
		}
	} else {
		// The leader's validation must not end with its caller: it keeps the
		// caller's values (trace ids) but not its cancellation.
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ValidationTimeout)
		defer a.flights.land(d, f)
		defer cancel()
		f.p, f.err = a.resolve(vctx, token, d)
	}
	a.m.outcome(f.err)
	return f.p, f.err
}

// resolve is the one validation of a token that missed the in-process tier.
func (a *Authenticator) resolve(ctx context.Context, token string, d cache.Digest) (*claims.Principal, error) {
	now := a.o.now()
	// A flight that finished just before this one started has filled memory.
	if p, ok := a.memory.Get(d, now); ok {
		return p, nil
	}
	if err, ok := a.negative.Get(d, now); ok {
		return nil, err
	}
	if a.sharedFor(token) {
		if p, err, found := a.fromShared(ctx, d, now); found {
			return p, err
		}
	}
	return a.validate(ctx, token, d, now)
}

// sharedFor reports whether token's validation is looked up in, and stored
// to, the shared tier.
func (a *Authenticator) sharedFor(token string) bool {
	return a.o.shared != nil && !(a.cfg.LocalJWTs && tokenvalidator.LooksLikeJWT(token))
}

// fromShared asks the memcached tier. found is false when validation must
// decide: a miss, an unusable entry, or memcached failing (which never fails
// the request).
func (a *Authenticator) fromShared(ctx context.Context, d cache.Digest, now time.Time) (p *claims.Principal, err error, found bool) {
	e, err := a.o.shared.Get(ctx, d)
	switch {
	case errors.Is(err, cache.ErrMiss):
		a.m.sharedMiss.Inc()
		return nil, nil, false
	case err != nil:
		a.m.sharedError.Inc()
		return nil, nil, false
	}
	p, err = decodeEntry(e.Value)
	switch {
	case err != nil:
		// Authenticated by our key yet undecodable: written by a different
		// version of authgate. Validation decides, and overwrites it.
		a.m.sharedRejected.Inc()
		a.o.logger.Warn("authn: undecodable shared cache entry", zap.Error(err))
		return nil, nil, false
	case p == nil:
		a.m.sharedRevoked.Inc()
		a.negative.Set(d, errRevoked, e.Expires)
		return nil, errRevoked, true
	case !p.ValidAt(now):
		a.m.sharedMiss.Inc()
		return nil, nil, false
	}
	a.m.sharedHit.Inc()
	a.memory.Set(d, p, earliest(e.Expires, now.Add(a.cfg.MemoryTTL)))
	return p, nil, true
}

func (a *Authenticator) validate(ctx context.Context, token string, d cache.Digest, now time.Time) (*claims.Principal, error) {
	start := time.Now()
	res, err := a.validator.Validate(ctx, token)
	a.m.observeValidation(token, time.Since(start))
	if err == nil && a.o.enricher != nil {
		err = a.enrich(ctx, res.Principal)
	}
	if err != nil {
		if errors.Is(err, claims.ErrInvalidToken) {
			a.negative.Set(d, err, now.Add(a.cfg.NegativeTTL))
		}
		return nil, err
	}
	p := res.Principal
	until := earliest(res.CacheUntil, now.Add(a.cfg.MaxTTL))
	if !until.After(now) {
		return p, nil // valid only within leeway: not worth caching
	}
	a.memory.Set(d, p, earliest(until, now.Add(a.cfg.MemoryTTL)))
	if a.sharedFor(token) {
		a.toShared(ctx, d, p, until)
	}
	return p, nil
}

func (a *Authenticator) enrich(ctx context.Context, p *claims.Principal) error {
	extra, err := a.o.enricher.Enrich(ctx, p)
	switch {
	case err == nil:
		p.Enrichment = extra
		return nil
	case errors.Is(err, claims.ErrInvalidToken):
		return err
	default:
		a.m.enrichErrors.Inc()
		a.o.logger.Warn("authn: enricher failed", zap.Error(err))
		return fmt.Errorf("authn: enricher: %w: %w", claims.ErrUnavailable, err)
	}
}

func (a *Authenticator) toShared(ctx context.Context, d cache.Digest, p *claims.Principal, until time.Time) {
	v, err := encodePrincipal(p)
	if err == nil {
		err = a.o.shared.Set(ctx, d, cache.Entry{Value: v, Expires: until})
	}
	if err != nil {
		a.m.sharedError.Inc()
	}
}

// Invalidate makes every instance refuse token from now on — for logout, or
// for the old access token after a refresh. It drops the token from this
// process's memory and, with a shared tier, replaces its entry there by a
// revocation mark that lives as long as the token does. Another instance
// that holds the token in its own memory keeps accepting it for at most
// Config.MemoryTTL; with memcached down, an instance that has not cached the
// token may accept it again until it expires.
func (a *Authenticator) Invalidate(ctx context.Context, token string) error {
	d := cache.DigestOf(token)
	now := a.o.now()
	until := now.Add(a.cfg.MaxTTL)
	if p, err := a.resolve(ctx, token, d); err == nil && !p.ExpiresAt.IsZero() {
		until = p.ExpiresAt
	}
	a.memory.Delete(d)
	if !until.After(now) {
		return nil
	}
	a.negative.Set(d, errRevoked, until)
	if a.o.shared == nil {
		return nil
	}
	if err := a.o.shared.Set(ctx, d, cache.Entry{Value: []byte{entryRevoked}, Expires: until}); err != nil {
		return fmt.Errorf("authn: invalidating in the shared tier: %w", err)
	}
	return nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
