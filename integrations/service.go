package integrations

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/authgate/authgate/claims"
)

// Revoker revokes one client's tokens for one user everywhere: authn's
// Gate and Revoker implement it (RevokeGrant refuses the partner's tokens
// on every instance and deletes the user's grant at the provider, which
// revokes the partner's refresh tokens).
type Revoker interface {
	RevokeGrant(ctx context.Context, subject, clientID string, before time.Time) error
}

// Config holds a Service's settings; zero values are the documented
// defaults.
type Config struct {
	// CacheTTL is how long an instance trusts that an integration is
	// enabled before it asks the store again: how long a Disable made on
	// another instance can go unnoticed by its integration checks (the
	// partner's tokens are refused at once all the same, by the
	// revocation). Default 30s.
	CacheTTL time.Duration
	// NegativeTTL is how long an instance trusts that an integration is
	// not enabled: how long an Enable made on another instance can go
	// unnoticed there. Default 2s.
	NegativeTTL time.Duration
	// CacheEntries bounds the answers an instance keeps. Default 10,000.
	CacheEntries int
}

// Option configures a Service's collaborators.
type Option interface{ apply(*Service) }

type optionFunc func(*Service)

func (f optionFunc) apply(s *Service) { f(s) }

// WithClock sets the clock for EnabledAt and the cache. Default time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(s *Service) { s.now = now })
}

// ErrBadIntegration is the error of an Enable or Disable with no subject
// or client id, or one of more than 255 bytes.
var ErrBadIntegration = errors.New("integrations: a subject and a client id of at most 255 bytes are required")

// Service records which partner apps users have enabled, answers whether
// one is (for middleware.RequireIntegration), and revokes a partner's
// access when its integration is disabled. It is safe for concurrent use.
type Service struct {
	store   Store
	revoker Revoker
	cfg     Config
	now     func() time.Time

	mu    sync.Mutex // guards cache and epoch
	cache map[key]answer
	epoch uint64 // bumped by every Enable and Disable: an answer read before one is not kept
}

// answer is a cached IntegrationEnabled.
type answer struct {
	enabled bool
	until   time.Time
}

// New returns a Service over store that revokes disabled partners with
// revoker.
func New(store Store, revoker Revoker, cfg Config, opts ...Option) (*Service, error) {
	if store == nil || revoker == nil {
		return nil, errors.New("integrations: New needs a Store and a Revoker")
	}
	if cfg.CacheTTL < 0 || cfg.NegativeTTL < 0 || cfg.CacheEntries < 0 {
		return nil, errors.New("integrations: negative duration or size in Config")
	}
	cfg.CacheTTL = orDefault(cfg.CacheTTL, 30*time.Second)
	cfg.NegativeTTL = orDefault(cfg.NegativeTTL, 2*time.Second)
	cfg.CacheEntries = orDefault(cfg.CacheEntries, 10_000)
	s := &Service{store: store, revoker: revoker, cfg: cfg, now: time.Now, cache: map[key]answer{}}
	for _, o := range opts {
		o.apply(s)
	}
	return s, nil
}

func orDefault[T time.Duration | int](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func check(subject, clientID string) error {
	if subject == "" || clientID == "" || len(subject) > 255 || len(clientID) > 255 {
		return ErrBadIntegration
	}
	return nil
}

// Enable records that subject lets clientID act for them in orgID ("" for
// none): from now on the partner's delegated calls for the user pass
// RequireIntegration — at once on this instance, within NegativeTTL on
// the others. Enabling twice is not an error. A partner whose access was
// revoked by an earlier Disable needs new tokens (the user's consent
// again): those issued before it stay refused.
func (s *Service) Enable(ctx context.Context, subject, clientID, orgID string) (Integration, error) {
	if err := check(subject, clientID); err != nil {
		return Integration{}, err
	}
	in := Integration{Subject: subject, ClientID: clientID, OrgID: orgID, EnabledAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.store.Enable(ctx, in); err != nil {
		return Integration{}, unavailable(err)
	}
	s.forget(key{subject, clientID, orgID})
	return in, nil
}

// Disable ends subject's integration of clientID in orgID and revokes the
// partner's access for the user (Revoker.RevokeGrant): its tokens for the
// user issued until now are refused on every instance, whatever the
// caches hold, and the user's grant to it is deleted at the provider,
// which revokes its refresh tokens. The grant is the user's, not the
// organization's: disabling for one organization ends the partner's
// tokens for the user in every organization (an integration kept for
// another organization stays enabled, and the partner needs the user's
// consent again). Disabling what is not enabled revokes all the same, so
// a Disable that failed can be retried.
func (s *Service) Disable(ctx context.Context, subject, clientID, orgID string) error {
	if err := check(subject, clientID); err != nil {
		return err
	}
	if _, err := s.store.Disable(ctx, subject, clientID, orgID); err != nil {
		return unavailable(err)
	}
	s.forget(key{subject, clientID, orgID})
	if err := s.revoker.RevokeGrant(ctx, subject, clientID, time.Time{}); err != nil {
		return fmt.Errorf("integrations: revoking the partner's access: %w", unavailable(err))
	}
	return nil
}

// List returns subject's integrations.
func (s *Service) List(ctx context.Context, subject string) ([]Integration, error) {
	out, err := s.store.List(ctx, subject)
	if err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// IntegrationEnabled reports whether subject has enabled clientID for
// orgID, from this instance's cache (CacheTTL for yes, NegativeTTL for no)
// or the store. It implements middleware.IntegrationChecker.
func (s *Service) IntegrationEnabled(ctx context.Context, subject, clientID, orgID string) (bool, error) {
	k := key{subject, clientID, orgID}
	now := s.now()
	s.mu.Lock()
	a, ok := s.cache[k]
	epoch := s.epoch
	s.mu.Unlock()
	if ok && now.Before(a.until) {
		return a.enabled, nil
	}
	enabled, err := s.store.Enabled(ctx, subject, clientID, orgID)
	if err != nil {
		return false, unavailable(err)
	}
	ttl := s.cfg.NegativeTTL
	if enabled {
		ttl = s.cfg.CacheTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch == epoch { // no Enable or Disable since the read: it may be kept
		if len(s.cache) >= s.cfg.CacheEntries {
			s.evict(now)
		}
		s.cache[k] = answer{enabled: enabled, until: now.Add(ttl)}
	}
	return enabled, nil
}

// forget drops k's cached answer, and keeps out any answer read before.
func (s *Service) forget(k key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	delete(s.cache, k)
}

// evict makes room: the expired answers go, and if none had, an arbitrary
// eighth of the others. s.mu is held.
func (s *Service) evict(now time.Time) {
	n := len(s.cache)
	for k, a := range s.cache {
		if !now.Before(a.until) {
			delete(s.cache, k)
		}
	}
	for k := range s.cache {
		if len(s.cache) > n-max(n/8, 1) {
			delete(s.cache, k)
			continue
		}
		break
	}
}

// unavailable marks a store or revocation failure as a dependency's, so
// that the middleware answers 503.
func unavailable(err error) error {
	if errors.Is(err, claims.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", claims.ErrUnavailable, err)
}
