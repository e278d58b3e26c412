package connections

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/claims"
)

// TokenSource returns a source of access tokens for acting as subject at
// partyName. Every instance sharing the Cache and Store shares the current
// access token; it is refreshed RefreshBefore its expiry by one instance
// at a time, and a rotated refresh token is stored before the new access
// token is handed out. When the party refuses the grant (invalid_grant:
// the user revoked it there), the connection is marked disconnected after
// that one call, and Token returns a *ReconnectError — as it does when
// there is no connection. Other failures match claims.ErrUnavailable.
//
// ctx bounds every Token call (the oauth2.TokenSource interface has no
// context of its own): make a TokenSource per request, as with
// oauth2.Config.TokenSource. oauth2.NewClient(ctx, ts) gives an
// *http.Client that sends the token.
func (s *Service) TokenSource(ctx context.Context, subject, partyName string) oauth2.TokenSource {
	return &tokenSource{s: s, ctx: ctx, subject: subject, party: partyName}
}

type tokenSource struct {
	s              *Service
	ctx            context.Context
	subject, party string
}

func (ts *tokenSource) Token() (*oauth2.Token, error) {
	return ts.s.token(ts.ctx, ts.subject, ts.party)
}

// cached is an access token as cached (sealed) for every instance.
type cached struct {
	AccessToken string
	TokenType   string
	Expiry      int64 // Unix milliseconds
}

// encode lays c out as expiry (8 bytes) | len(type) (1 byte) | type |
// access token: the hot path opens it on every call, and JSON would cost
// more than the rest of it together.
func (c cached) encode() []byte {
	b := make([]byte, 0, 9+len(c.TokenType)+len(c.AccessToken))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Expiry))
	b = append(b, byte(len(c.TokenType)))
	return append(append(b, c.TokenType...), c.AccessToken...)
}

func decodeCached(b []byte) (cached, bool) {
	if len(b) < 9 || len(b) < 9+int(b[8]) {
		return cached{}, false
	}
	n := 9 + int(b[8])
	return cached{Expiry: int64(binary.BigEndian.Uint64(b)), TokenType: string(b[9:n]), AccessToken: string(b[n:])}, true
}

// minUsable is how long an access token must still live to be handed out.
const minUsable = 10 * time.Second

// fresh reports whether an access token expiring at exp (Unix ms) needs no
// refresh yet; usable, whether it may still be handed out.
func (s *Service) fresh(exp int64) bool {
	return s.o.now().Before(time.UnixMilli(exp).Add(-s.cfg.RefreshBefore))
}

func (s *Service) usable(exp int64) bool {
	return s.o.now().Before(time.UnixMilli(exp).Add(-min(minUsable, s.cfg.RefreshBefore)))
}

func (s *Service) token(ctx context.Context, subject, partyName string) (*oauth2.Token, error) {
	if _, err := s.party(partyName); err != nil {
		return nil, err
	}
	if c := s.cachedToken(ctx, subject, partyName); c != nil && s.fresh(c.Expiry) {
		return oauthToken(c.AccessToken, c.TokenType, c.Expiry), nil
	}
	return s.flight.do(ctx, subject+"\x00"+partyName, 2*s.cfg.Timeout+2*time.Second, func(ctx context.Context) (*oauth2.Token, error) {
		return s.slowToken(ctx, subject, partyName)
	})
}

// cachedToken returns the shared access token, or nil when it is absent,
// unreadable or the cache is down.
func (s *Service) cachedToken(ctx context.Context, subject, partyName string) *cached {
	sealed, err := s.cache.Get(ctx, s.keys.name("token", subject, partyName))
	if err != nil {
		return nil
	}
	plain, err := s.keys.box.Open(sealed, tokenAD(subject, partyName))
	c, ok := decodeCached(plain)
	if err != nil || !ok || len(c.TokenType) > 32 {
		s.m.rejected.Inc()
		return nil
	}
	return &c
}

// cacheToken shares g's access token with every instance until it expires.
func (s *Service) cacheToken(ctx context.Context, subject, partyName string, g *grant) {
	ttl := time.UnixMilli(g.Expiry).Sub(s.o.now())
	if g.AccessToken == "" || ttl <= 0 {
		return
	}
	if len(g.TokenType) > 32 {
		return
	}
	sealed := s.keys.box.Seal(cached{g.AccessToken, g.TokenType, g.Expiry}.encode(), tokenAD(subject, partyName))
	if err := s.cache.Set(ctx, s.keys.name("token", subject, partyName), sealed, ttl); err != nil {
		s.o.logger.Debug("connections: could not cache an access token", zap.Error(err))
	}
}

// slowToken runs when the cache has no fresh token: the store's token if it
// is fresh, else a refresh under the connection's lock. While another
// instance holds the lock, a still-usable token is handed out; otherwise
// it waits for the other's result.
func (s *Service) slowToken(ctx context.Context, subject, partyName string) (*oauth2.Token, error) {
	_, g, err := s.load(ctx, subject, partyName)
	if err != nil {
		return nil, err
	}
	if g.Status != StatusConnected {
		return nil, &ReconnectError{Party: partyName, Reason: g.Reason}
	}
	if s.fresh(g.Expiry) {
		s.cacheToken(ctx, subject, partyName, g)
		return g.token(), nil
	}
	wait := newBackoff(s.cfg.Timeout + time.Second)
	for {
		release, err := s.lock(ctx, subject, partyName)
		switch {
		case err == nil:
			return s.refreshLocked(ctx, subject, partyName, release)
		case s.usable(g.Expiry):
			// Someone else refreshes, or the lock cannot be had: the
			// current token still serves.
			return g.token(), nil
		case !errors.Is(err, ErrLocked):
			return nil, err
		}
		if err := wait.sleep(ctx); err != nil {
			return nil, fmt.Errorf("connections: waiting for a concurrent refresh: %w: %w", claims.ErrUnavailable, err)
		}
		if c := s.cachedToken(ctx, subject, partyName); c != nil && s.usable(c.Expiry) {
			return oauthToken(c.AccessToken, c.TokenType, c.Expiry), nil
		}
	}
}

// refreshLocked is the one refresh of a connection, under its lock.
func (s *Service) refreshLocked(ctx context.Context, subject, partyName string, release func()) (*oauth2.Token, error) {
	defer release()
	p, _ := s.party(partyName)
	// Re-read under the lock: a refresh that finished since our first
	// read, or a disconnection, decides.
	rec, g, err := s.load(ctx, subject, partyName)
	switch {
	case err != nil:
		return nil, err
	case g.Status != StatusConnected:
		return nil, &ReconnectError{Party: partyName, Reason: g.Reason}
	case s.fresh(g.Expiry):
		s.cacheToken(ctx, subject, partyName, g)
		return g.token(), nil
	}
	tok, err := p.provider.refresh(ctx, g.RefreshToken)
	now := s.o.now()
	switch {
	case errors.Is(err, errInvalidGrant):
		s.m.refreshes.WithLabelValues("invalid_grant").Inc()
		s.o.logger.Info("connections: the party refused a grant; the connection is marked disconnected", zap.String("party", partyName))
		dead := &grant{Status: StatusDisconnected, Reason: reasonRefused, Scope: g.Scope, ConnectedAt: g.ConnectedAt}
		if err := s.put(ctx, subject, partyName, rec.Version+1, dead); err != nil {
			s.o.logger.Warn("connections: could not mark a connection disconnected", zap.Error(err))
		}
		_ = s.cache.Delete(ctx, s.keys.name("token", subject, partyName))
		return nil, &ReconnectError{Party: partyName, Reason: reasonRefused}
	case err != nil:
		s.m.refreshes.WithLabelValues("unavailable").Inc()
		if s.usable(g.Expiry) {
			s.o.logger.Warn("connections: refresh failed; the current access token still serves", zap.String("party", partyName), zap.Error(err))
			return g.token(), nil
		}
		return nil, err
	}
	s.m.refreshes.WithLabelValues("ok").Inc()
	next := &grant{Status: StatusConnected, RefreshToken: tok.RefreshToken, Scope: g.Scope, ConnectedAt: g.ConnectedAt}
	next.setAccess(tok, now)
	// The rotated refresh token is stored before the new access token is
	// used: the party has already retired the old one.
	if err := s.put(ctx, subject, partyName, rec.Version+1, next); err != nil {
		s.o.logger.Error("connections: a refreshed grant could not be stored; its refresh token is lost", zap.String("party", partyName), zap.Error(err))
		if errors.Is(err, ErrConflict) {
			err = fmt.Errorf("connections: store: %w: %w", claims.ErrUnavailable, err)
		}
		return nil, err
	}
	return next.token(), nil
}

func (g *grant) token() *oauth2.Token {
	return oauthToken(g.AccessToken, g.TokenType, g.Expiry)
}

func oauthToken(access, typ string, expiry int64) *oauth2.Token {
	if typ == "" {
		typ = "Bearer"
	}
	return &oauth2.Token{AccessToken: access, TokenType: typ, Expiry: time.UnixMilli(expiry)}
}

// lockTTL is how long a connection's lock is held at most: a refresh is
// one call to the party and two to the store.
func (s *Service) lockTTL() time.Duration { return s.cfg.Timeout + 2*time.Second }

// lock takes subject's connection lock: in the Store when it is a Locker,
// else in the Cache with add.
func (s *Service) lock(ctx context.Context, subject, partyName string) (func(), error) {
	if l, ok := s.store.(Locker); ok {
		release, err := l.Lock(ctx, subject, partyName, s.lockTTL())
		switch {
		case errors.Is(err, ErrNotFound):
			// Nothing to lock: whoever goes on finds no connection.
			return func() {}, nil
		case err != nil && !errors.Is(err, ErrLocked):
			err = storeErr(err)
		}
		return release, err
	}
	name := s.keys.name("lock", subject, partyName)
	id := []byte(rand.Text())
	err := s.cache.Add(ctx, name, id, s.lockTTL())
	if errors.Is(err, ErrNotStored) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("connections: cache lock: %w: %w", claims.ErrUnavailable, err)
	}
	return func() {
		// The caller's context may be done by now; releasing is cleanup.
		ctx := context.WithoutCancel(ctx)
		if v, err := s.cache.Get(ctx, name); err == nil && string(v) == string(id) {
			_ = s.cache.Delete(ctx, name)
		}
	}, nil
}

// withLock runs fn under subject's connection lock, waiting up to Timeout
// for a refresh in progress to finish.
func (s *Service) withLock(ctx context.Context, subject, partyName string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.lockTTL())
	defer cancel()
	wait := newBackoff(s.cfg.Timeout)
	for {
		release, err := s.lock(ctx, subject, partyName)
		if err == nil {
			defer release()
			return fn(ctx)
		}
		if !errors.Is(err, ErrLocked) {
			return err
		}
		if err := wait.sleep(ctx); err != nil {
			return fmt.Errorf("connections: waiting for a concurrent refresh: %w: %w", claims.ErrUnavailable, err)
		}
	}
}

// flight runs one slow path per connection in this process: concurrent
// callers wait for its result, each giving up on its own context, while
// the work runs on a context of its own, so one caller's cancel does not
// fail the others.
type flight struct {
	mu    sync.Mutex // guards calls
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

func (f *flight) do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (*oauth2.Token, error)) (*oauth2.Token, error) {
	f.mu.Lock()
	c, ok := f.calls[key]
	if !ok {
		if f.calls == nil {
			f.calls = map[string]*flightCall{}
		}
		c = &flightCall{done: make(chan struct{})}
		f.calls[key] = c
		go func() {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			defer cancel()
			c.tok, c.err = fn(wctx)
			f.mu.Lock()
			delete(f.calls, key)
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		if c.err != nil {
			return nil, c.err
		}
		t := *c.tok // each caller its own copy
		return &t, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("connections: %w: %w", claims.ErrUnavailable, ctx.Err())
	}
}

// backoff paces a wait for another instance: sleeps that double from 5 ms
// up to 100 ms, until a deadline.
type backoff struct {
	deadline time.Time
	delay    time.Duration
}

func newBackoff(limit time.Duration) *backoff {
	return &backoff{deadline: time.Now().Add(limit), delay: 5 * time.Millisecond}
}

func (b *backoff) sleep(ctx context.Context) error {
	remaining := time.Until(b.deadline)
	if remaining <= 0 {
		return errors.New("gave up waiting")
	}
	t := time.NewTimer(min(b.delay, remaining))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.delay = min(2*b.delay, 100*time.Millisecond)
	return nil
}
