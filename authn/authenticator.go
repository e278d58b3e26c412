package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/tracing"
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
	// Invalidate or a revocation (RevokeSubject, RevokeGrant,
	// RevokeOrganization) made by another instance can go unnoticed here:
	// shorten it to shorten that window, at the cost of more shared-tier
	// lookups. Default 30s.
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
	// RevokedEntries bounds the tokens this instance remembers as
	// invalidated, kept apart from both so that neither valid tokens nor
	// garbage can evict a logout, and, apart again, the revocations by
	// subject, grant or organization it made. Default 100,000.
	RevokedEntries int
	// ClockSkew is the most that the clocks of the service's instances and
	// its provider may disagree. A revocation outlives the last moment its
	// token could be accepted anywhere (exp plus the validator's leeway) by
	// this much. Default 1m.
	ClockSkew time.Duration
	// RevocationTTL is the longest lifetime of the provider's access
	// tokens. Set it to the provider's access token lifetime. An Invalidate
	// lasts this long for a token whose expiry is unknown (a userinfo answer
	// says nothing of it, or the provider could not be asked when it was
	// invalidated), and a revocation by subject, grant or organization of
	// time T lasts until T + RevocationTTL + the validator's leeway +
	// ClockSkew: no token issued before T is accepted after that. Default
	// 24h, Auth0's default.
	RevocationTTL time.Duration
	// LocalJWTs verifies JWTs in this process without asking the shared
	// tier; opaque tokens still use it. An in-process miss then costs a
	// local verification (~50 µs of CPU) instead of a memcached round trip,
	// and a slow memcached cannot delay a JWT at all — at two costs:
	// Invalidate and the revocations by subject, grant or organization no
	// longer reach the other instances for JWTs (each accepts such a JWT
	// until it expires; the instance that revoked refuses it), and the
	// enricher runs once per instance rather than once per token. Default
	// false: the shared tier first, for every token.
	LocalJWTs bool
	// LeaseWait bounds how long an instance waits for another instance's
	// validation of the same opaque token (one instance of the fleet asks
	// the provider; the others read its answer from the shared tier) before
	// it asks the provider itself. Default 1s.
	LeaseWait time.Duration
	// ValidationTimeout bounds the part of one shared validation that asks
	// the provider or the enricher. That part runs on a context of its own,
	// so that no caller giving up — the one that started it included —
	// fails the others waiting for it. (The rest — the shared tier, bounded
	// by the cluster's timeouts, and a signature check with a key already
	// held — runs in the request that started the validation when that
	// request's context has no deadline; with one, everything runs apart,
	// so that the request leaves at its deadline even while memcached
	// hangs.) Default 10s.
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
	shared       *cache.Memcache
	enricher     Enricher
	enricherName string
	logger       *zap.Logger
	reg          prometheus.Registerer
	httpClient   *http.Client
	now          func() time.Time
	grants       ProviderGrants
	tp           trace.TracerProvider // nil: no spans
	tracer       trace.Tracer         // tp's, or nil
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
//
// Its results are shared by every instance through memcached, and entries
// are bound to name: give the enricher a name that changes whenever it would
// answer differently for the same token (a new version, another data
// source), say "datasets-v2", so that no instance serves what another
// version computed.
func WithEnricher(name string, e Enricher) Option {
	return optionFunc(func(o *options) { o.enricher, o.enricherName = e, name })
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

// WithHTTPClient sets the client Setup's validators, refresh services and
// Auth0Grants call the provider with (a tracing transport, a proxy). Every
// call is still bounded by their timeouts. Default: clients of their own.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o *options) { o.httpClient = c })
}

// WithTracerProvider makes OpenTelemetry spans with tp, never on the
// in-process hit path and never with a token in them: an
// "authgate.validate" span around each validation of a token that missed
// the in-process tier, a child of the span of the request that started it
// (even though the validation runs on a context of its own), with the
// token's kind (jwt or opaque), the last cache tier asked (memory, or
// memcached when the shared tier is), the outcome (ok, invalid,
// unavailable), the refusal's reason, and the issuer of an accepted token.
// Setup also passes tp to what it builds: its discovery, the validators
// (key-set fetches, provider calls), the memcached cluster (each call) and
// the refresh services (each refresh, each call to the token endpoint).
// A client given with WithHTTPClient that traces already (otelhttp's
// transport) makes a second span per provider call. Default: none (no
// spans, no work).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tp, o.tracer = tp, tracing.Tracer(tp) })
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
//
// Everything it shares through memcached — Principals and revocation marks
// — is bound to its policy: the validator's [tokenvalidator.Policy]
// (issuers, audiences, required type, algorithms, claim mapping, where
// opaque tokens are checked) and the enricher's name. Entries are named and
// MAC'd under a fingerprint of it, so two services with different policies
// sharing one memcached, secret and namespace never read each other's
// entries, and the issuer and audience of every entry read back are checked
// against the policy again. A deploy that changes the policy (an audience
// added, a new enricher name) therefore starts with a cold shared tier.
type Authenticator struct {
	cfg       Config
	validator tokenvalidator.Validator
	policy    tokenvalidator.Policy
	binding   [sha256.Size]byte // what shared entries are bound to
	o         options
	memory    *cache.Memory[*claims.Principal]
	negative  *cache.Memory[error]
	revoked   *cache.Memory[struct{}]
	marks     *cache.Memory[int64] // revocations this instance made: T in Unix nanoseconds
	anyMarks  atomic.Bool          // marks has ever held one: until then land skips it
	flights   flights
	workers   workers
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
	cfg.ClockSkew = orDuration(cfg.ClockSkew, time.Minute)
	cfg.RevocationTTL = orDuration(cfg.RevocationTTL, 24*time.Hour)
	cfg.ValidationTimeout = orDuration(cfg.ValidationTimeout, 10*time.Second)
	cfg.LeaseWait = orDuration(cfg.LeaseWait, time.Second)
	cfg.MemoryEntries = orInt(cfg.MemoryEntries, 100_000)
	cfg.NegativeEntries = orInt(cfg.NegativeEntries, 10_000)
	cfg.RevokedEntries = orInt(cfg.RevokedEntries, 100_000)
	if cfg.MaxTTL < 0 || cfg.MemoryTTL < 0 || cfg.NegativeTTL < 0 || cfg.ClockSkew < 0 || cfg.RevocationTTL < 0 || cfg.LeaseWait < 0 ||
		cfg.ValidationTimeout < 0 || cfg.MemoryEntries < 0 || cfg.NegativeEntries < 0 || cfg.RevokedEntries < 0 {
		return nil, errors.New("authn: negative duration or size in Config")
	}
	o := defaultOptions(opts)
	if o.enricher != nil && o.enricherName == "" {
		return nil, errors.New("authn: WithEnricher needs a name (shared cache entries are bound to it)")
	}
	policy := v.Policy()
	return &Authenticator{
		cfg:       cfg,
		validator: v,
		policy:    policy,
		binding:   bind(policy, o.enricherName),
		o:         o,
		memory:    cache.NewMemory[*claims.Principal](cache.MemoryConfig{MaxEntries: cfg.MemoryEntries}),
		negative:  cache.NewMemory[error](cache.MemoryConfig{MaxEntries: cfg.NegativeEntries}),
		revoked:   cache.NewMemory[struct{}](cache.MemoryConfig{MaxEntries: cfg.RevokedEntries}),
		marks:     cache.NewMemory[int64](cache.MemoryConfig{MaxEntries: cfg.RevokedEntries}),
		workers:   workers{flights: make(chan func())},
		m:         newInstruments(o.reg),
	}, nil
}

// bind returns what shared entries are bound to: the policy's fingerprint
// and the enricher's name, under this package's entry format.
func bind(p tokenvalidator.Policy, enricherName string) [sha256.Size]byte {
	fp := p.Fingerprint()
	h := sha256.New()
	h.Write([]byte("authgate authn shared entries v1\x00"))
	h.Write(fp[:])
	h.Write([]byte(enricherName))
	return [sha256.Size]byte(h.Sum(nil))
}

// sharedDigest is the digest under which token d's entries are kept in the
// shared tier: d bound to this Authenticator's policy.
func (a *Authenticator) sharedDigest(d cache.Digest) cache.Digest {
	var buf [2 * sha256.Size]byte
	copy(buf[:], a.binding[:])
	copy(buf[sha256.Size:], d[:])
	return sha256.Sum256(buf[:])
}

// SharedKeyName returns the memcached key under which token's validation
// is kept in the shared tier ("" without one): for tools that look at
// memcached directly, as cache.Memcache.KeyName. Nothing is read or
// written.
func (a *Authenticator) SharedKeyName(token string) string {
	if a.o.shared == nil {
		return ""
	}
	return a.o.shared.KeyName(a.sharedDigest(cache.DigestOf(token)))
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
// in-process tier, and waits for its verdict or for ctx to end, whichever
// comes first. It is a method of its own so that nothing on the hit path
// escapes to the heap.
func (a *Authenticator) miss(ctx context.Context, token string, d cache.Digest) (*claims.Principal, error) {
	f, leader := a.flights.join(d)
	if leader {
		a.lead(ctx, token, d, f)
	} else {
		a.m.sharedWaits.Inc()
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("authn: waiting for validation: %w", ctx.Err())
	}
	a.m.outcome(f.err)
	return f.p, f.err
}

// lead runs the flight f. A caller without a deadline runs it in its own
// goroutine as far as it needs neither the provider nor the enricher —
// what this process remembers, the shared tier (whose calls the cluster's
// timeouts bound) and a validation without I/O (see
// tokenvalidator.LocalValidator) — so that a shared-tier hit or a local
// signature check costs no goroutine handoff; from there on a worker runs
// it, so that the caller can leave at its own deadline. A caller with a
// deadline hands the whole flight to a worker at once, to leave on time
// even while memcached hangs. The validation keeps the caller's values
// (trace ids) but not its cancellation: it must not end with its caller.
func (a *Authenticator) lead(ctx context.Context, token string, d cache.Digest, f *flight) {
	qctx := context.WithoutCancel(ctx)
	if a.o.tracer != nil {
		qctx = a.startValidation(ctx, qctx, token)
	}
	if _, ok := ctx.Deadline(); ok {
		a.handOff(qctx, token, d, f, true)
		return
	}
	v, decided := verdict{err: errAbandoned}, true
	defer func() {
		if decided {
			a.finish(qctx, d, f, v, recover())
		}
	}()
	v, decided = a.quick(qctx, token, d)
	if !decided {
		a.handOff(qctx, token, d, f, false)
	}
}

// handOff runs the rest of flight f on a worker, within ValidationTimeout:
// the quick part too when withQuick, then the validation.
func (a *Authenticator) handOff(ctx context.Context, token string, d cache.Digest, f *flight, withQuick bool) {
	vctx, cancel := context.WithTimeout(ctx, a.cfg.ValidationTimeout)
	a.workers.run(func() {
		defer cancel()
		a.fly(vctx, token, d, f, withQuick)
	})
}

// fly is the part of a flight that runs on a worker; it ends by landing
// the flight.
func (a *Authenticator) fly(ctx context.Context, token string, d cache.Digest, f *flight, withQuick bool) {
	v, decided := verdict{err: errAbandoned}, false
	defer func() { a.finish(ctx, d, f, v, recover()) }()
	if withQuick {
		if v, decided = a.quick(ctx, token, d); decided {
			return
		}
	}
	v = a.validate(ctx, token, d)
}

// finish lands flight f with v, ending its span. A panic (say, in an
// enricher or a validator) must not take the process down, nor reach the
// caller: it is logged, and the waiters are told to retry.
func (a *Authenticator) finish(ctx context.Context, d cache.Digest, f *flight, v verdict, panicked any) {
	if panicked != nil {
		a.o.logger.Error("authn: validation panicked", zap.Any("panic", panicked), zap.Stack("stack"))
		v = verdict{err: errAbandoned}
	}
	if a.o.tracer != nil {
		endValidation(trace.SpanFromContext(ctx), v)
	}
	a.land(d, f, v)
}

// verdict is what a flight found: a Principal and until when this process
// may keep it, or an error.
type verdict struct {
	p           *claims.Principal
	memoryUntil time.Time // zero: not to be kept
	err         error
}

// quick asks, in turn, what this process remembers, the shared tier and,
// when it can answer without I/O and there is no enricher, the validator.
// decided is false when the validation must ask the provider or the
// enricher.
func (a *Authenticator) quick(ctx context.Context, token string, d cache.Digest) (v verdict, decided bool) {
	now := a.o.now()
	// A flight that landed just before this one started has filled memory.
	if p, ok := a.memory.Get(d, now); ok {
		return verdict{p: p}, true
	}
	if _, ok := a.revoked.Get(d, now); ok {
		return verdict{err: errRevoked}, true
	}
	if err, ok := a.negative.Get(d, now); ok {
		return verdict{err: err}, true
	}
	if a.sharedFor(token) {
		if v, found := a.fromShared(ctx, token, d, now); found {
			return v, true
		}
	}
	lv, ok := a.validator.(tokenvalidator.LocalValidator)
	if !ok || a.o.enricher != nil {
		return v, false
	}
	start := time.Now()
	res, err := lv.ValidateLocal(ctx, token)
	if errors.Is(err, tokenvalidator.ErrNotLocal) {
		return v, false
	}
	a.m.observeValidation(token, time.Since(start))
	return a.judge(ctx, token, d, now, res, err), true
}

// land ends f with v: unless the token was invalidated while it flew, or
// this instance has since revoked its subject, grant or organization, the
// Principal goes into memory; then the waiters are released. The checks
// and the write happen under the lock Invalidate and the revocations take,
// so no validation that was in flight when a token was revoked can put it
// back.
func (a *Authenticator) land(d cache.Digest, f *flight, v verdict) {
	a.flights.mu.Lock()
	switch {
	case f.revoked, v.p != nil && a.revokedHere(v.p, a.o.now()):
		v = verdict{err: errRevoked}
	case v.p != nil && !v.memoryUntil.IsZero():
		a.memory.Set(d, v.p, v.memoryUntil)
	}
	delete(a.flights.m, d)
	a.flights.mu.Unlock()
	f.p, f.err = v.p, v.err
	close(f.done)
}

// sharedFor reports whether token's validation is looked up in, and stored
// to, the shared tier.
func (a *Authenticator) sharedFor(token string) bool {
	return a.o.shared != nil && !(a.cfg.LocalJWTs && tokenvalidator.LooksLikeJWT(token))
}

// fromShared asks the memcached tier, both copies of the token's key: a
// revocation mark on either stands (a node that was out when the mark was
// written may lack it). A Principal found there is then checked against
// the marks of its subject, grant and organization, fetched in the same
// round trip when the token is a JWT whose claims name them, else in a
// second. found is false when validation must decide: a miss, an unusable
// entry, or memcached failing (which never fails the request).
func (a *Authenticator) fromShared(ctx context.Context, token string, d cache.Digest, now time.Time) (v verdict, found bool) {
	var ds [1 + numMarkKinds]cache.Digest
	ds[0] = a.sharedDigest(d)
	sub, client, org, peeked := peekClaims(token)
	var guess markSet
	n := 1
	if peeked {
		guess = marksFor(sub, client, org)
		n += copy(ds[1:], guess.digests())
	}
	ls, err := a.o.shared.GetMulti(ctx, ds[:n])
	if err == nil {
		err = ls[0].Err
	}
	if err != nil {
		a.m.sharedError.Inc()
		return v, false
	}
	var hit *claims.Principal
	var until time.Time
	for _, e := range ls[0].Entries {
		p, err := decodeEntry(e.Value)
		switch {
		case err != nil:
			// Authenticated by our key yet undecodable: written by a
			// different version of authgate. Validation decides.
			a.m.sharedRejected.Inc()
			a.o.logger.Warn("authn: undecodable shared cache entry", zap.Error(err))
		case p == nil:
			a.m.sharedRevoked.Inc()
			a.revoked.Set(d, struct{}{}, e.Expires)
			return verdict{err: errRevoked}, true
		case !a.policy.Admits(p):
			// Bound to our policy, yet for another issuer or audience:
			// the binding failed somewhere. Never serve it.
			a.m.sharedRejected.Inc()
			a.o.logger.Error("authn: shared cache entry of another issuer or audience refused")
		case hit == nil && p.ValidAt(now):
			hit, until = p, e.Expires
		}
	}
	if hit == nil {
		a.m.sharedMiss.Inc()
		return v, false
	}
	var mv markVerdict
	if peeked && sub == hit.Subject && client == hit.AuthorizedParty && org == hit.OrgID {
		mv = judge(hit, ls[1:])
	} else {
		mv = a.sharedMarks(ctx, hit)
	}
	switch {
	case mv.revoked:
		a.m.sharedRevoked.Inc()
		return a.refuse(d, hit, mv.until), true
	case mv.unknown:
		// Both nodes of a mark out: what memcached cannot say, it cannot
		// refuse (the marks this instance made are checked on landing).
		a.m.sharedError.Inc()
	}
	a.m.sharedHit.Inc()
	return verdict{p: hit, memoryUntil: earliest(until, now.Add(a.cfg.MemoryTTL))}, true
}

// validate asks the validator, which may call the provider, and the
// enricher.
func (a *Authenticator) validate(ctx context.Context, token string, d cache.Digest) verdict {
	now := a.o.now()
	if a.sharedFor(token) && !tokenvalidator.LooksLikeJWT(token) {
		// An opaque token costs a provider call: one instance asks, the
		// others wait for its answer in the shared tier.
		release, v, found := a.elect(ctx, token, d)
		if found {
			return v
		}
		if release != nil {
			defer release(context.WithoutCancel(ctx))
		}
	}
	start := time.Now()
	res, err := a.validator.Validate(ctx, token)
	a.m.observeValidation(token, time.Since(start))
	if err == nil && a.o.enricher != nil {
		err = a.enrich(ctx, res.Principal)
	}
	return a.judge(ctx, token, d, now, res, err)
}

// judge turns a validation's answer into the flight's verdict: an invalid
// token is remembered, a valid one checked against the shared tier's
// revocation marks and stored there.
func (a *Authenticator) judge(ctx context.Context, token string, d cache.Digest, now time.Time, res tokenvalidator.Result, err error) verdict {
	if err != nil {
		if errors.Is(err, claims.ErrInvalidToken) {
			a.negative.Set(d, err, now.Add(a.cfg.NegativeTTL))
		}
		return verdict{err: err}
	}
	p := res.Principal
	if a.sharedFor(token) {
		// Revocations made by other instances; this instance's own are
		// checked on landing.
		switch mv := a.sharedMarks(ctx, p); {
		case mv.revoked:
			return a.refuse(d, p, mv.until)
		case mv.unknown:
			a.m.sharedError.Inc()
		}
	}
	until := earliest(res.CacheUntil, now.Add(a.cfg.MaxTTL))
	if !until.After(now) {
		return verdict{p: p} // valid only within leeway: not worth caching
	}
	if a.sharedFor(token) {
		a.toShared(ctx, d, p, until)
	}
	return verdict{p: p, memoryUntil: earliest(until, now.Add(a.cfg.MemoryTTL))}
}

// elect takes the shared lease on an opaque token's validation, so that one
// instance of the fleet asks the provider; release ends it. When another
// instance holds it, elect waits for that instance's answer in the shared
// tier, for at most Config.LeaseWait, and returns it (found); if it does not
// come — the holder is slow or gone — or memcached cannot be asked, the
// caller asks the provider itself: the lease saves provider calls, nothing
// rests on it.
func (a *Authenticator) elect(ctx context.Context, token string, d cache.Digest) (release func(context.Context), v verdict, found bool) {
	release, err := a.o.shared.Lease(ctx, a.sharedDigest(d), a.cfg.LeaseWait+time.Second)
	switch {
	case err == nil:
		// The previous holder may have answered and let go between this
		// instance's miss and its lease: look once more.
		if v, found := a.fromShared(ctx, token, d, a.o.now()); found {
			release(ctx)
			a.m.lease("answered")
			return nil, v, true
		}
		a.m.lease("held")
		return release, v, false
	case !errors.Is(err, cache.ErrLeased):
		a.m.lease("unavailable")
		return nil, v, false
	}
	deadline := time.Now().Add(a.cfg.LeaseWait)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		wait := min(delay, time.Until(deadline))
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, verdict{err: fmt.Errorf("authn: waiting for another instance's validation: %w: %w", claims.ErrUnavailable, ctx.Err())}, true
		}
		if v, found := a.fromShared(ctx, token, d, a.o.now()); found {
			a.m.lease("answered")
			return nil, v, true
		}
	}
	a.m.lease("timed_out")
	return nil, v, false
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

// toShared adds p to the shared tier. It never replaces what is there: if
// another instance has invalidated the token meanwhile, its mark stays.
func (a *Authenticator) toShared(ctx context.Context, d cache.Digest, p *claims.Principal, until time.Time) {
	v, err := encodePrincipal(p)
	if err == nil {
		err = a.o.shared.Add(ctx, a.sharedDigest(d), cache.Entry{Value: v, Expires: until})
	}
	switch {
	case errors.Is(err, cache.ErrNotStored):
		a.m.sharedKept.Inc()
	case err != nil:
		a.m.sharedError.Inc()
	}
}

// Invalidate makes every instance refuse token from now on — for logout, or
// for the old access token after a refresh — until the last moment any
// instance could otherwise accept it (its exp, plus the validator's leeway,
// plus Config.ClockSkew; Config.RevocationTTL when its expiry is unknown).
//
// On this instance it takes effect at once, and it wins over a validation of
// the same token already in flight: nothing that validation computed is kept.
// With a shared tier it writes a revocation mark there, which replaces the
// token's entry and which no validation can replace, so every instance that
// asks memcached refuses the token. An instance that holds the token in its
// own memory keeps accepting it for at most Config.MemoryTTL. With memcached
// down, Invalidate returns an error, and an instance that has not cached the
// token may accept it again until it expires. Invalidating a token that no
// instance would accept anyway does nothing.
func (a *Authenticator) Invalidate(ctx context.Context, token string) error {
	d := cache.DigestOf(token)
	now := a.o.now()
	until, needed := a.revocationEnd(ctx, token, d, now)
	a.flights.mu.Lock()
	if f := a.flights.m[d]; f != nil {
		f.revoked = true
	}
	if needed {
		a.revoked.Set(d, struct{}{}, until)
	}
	a.memory.Delete(d)
	a.flights.mu.Unlock()
	if !needed || a.o.shared == nil {
		return nil
	}
	if err := a.o.shared.SetReplicated(ctx, a.sharedDigest(d), cache.Entry{Value: []byte{entryRevoked}, Expires: until}); err != nil {
		return fmt.Errorf("authn: invalidating in the shared tier: %w", err)
	}
	return nil
}

// revocationEnd returns until when token must stay refused, and false when
// no instance under this policy would accept it anyway. It looks for the
// token's expiry in memory, then in the shared tier, then asks the validator
// (without enriching or caching anything).
func (a *Authenticator) revocationEnd(ctx context.Context, token string, d cache.Digest, now time.Time) (time.Time, bool) {
	p, ok := a.memory.Get(d, now)
	if !ok && a.sharedFor(token) {
		if v, found := a.fromShared(ctx, token, d, now); found && v.p != nil {
			p, ok = v.p, true
		}
	}
	if !ok {
		res, err := a.validator.Validate(ctx, token)
		switch {
		case errors.Is(err, claims.ErrInvalidToken):
			return time.Time{}, false
		case err != nil:
			return now.Add(a.cfg.RevocationTTL), true
		}
		p = res.Principal
	}
	if p.ExpiresAt.IsZero() {
		return now.Add(a.cfg.RevocationTTL), true
	}
	until := p.ExpiresAt.Add(a.policy.Leeway + a.cfg.ClockSkew)
	return until, until.After(now)
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

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
