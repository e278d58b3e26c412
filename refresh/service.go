package refresh

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/tokenhash"
	"github.com/authgate/authgate/internal/tracing"
)

// Config holds the refresh service's settings. TokenURL, ClientID,
// ClientSecret, Namespace, HashKey and EncryptionKeys are required; other
// zero values are documented defaults.
type Config struct {
	// TokenURL is the provider's token endpoint, e.g.
	// "https://tenant.auth0.com/oauth/token". Required unless Endpoints is
	// set.
	TokenURL string
	// Endpoints, used when TokenURL is empty, finds the token and
	// revocation endpoints when the service first needs them — authn.Setup
	// passes OpenID discovery, so that a service can start while its
	// provider is down. Until it succeeds, every call that needs the
	// provider is ErrProviderUnavailable (503), and the next one asks again.
	Endpoints func(context.Context) (Endpoints, error)
	// RevocationURL is the provider's RFC 7009 endpoint, e.g.
	// "https://tenant.auth0.com/oauth/revoke". Without it, logout and reuse
	// detection can only forget refresh tokens, not revoke them.
	RevocationURL string
	// ClientID and ClientSecret are the service's own (first-party) client.
	ClientID, ClientSecret string
	// Issuer, when set, is the issuer whose token endpoint TokenURL is: the
	// service then refreshes and ends only sessions of that issuer, so that
	// services for several issuers can share one Store (authn.Setup builds
	// one per issuer with a client). Default: not checked.
	Issuer string
	// Audience is asked for at login, so that the access tokens are JWTs
	// for this API (Auth0 issues opaque tokens without one).
	Audience string
	// Scopes are asked for at login. Default "openid offline_access": the
	// provider issues a refresh token only with offline_access.
	Scopes []string
	// Namespace separates environments and services that share a store,
	// e.g. "prod/venue-api".
	Namespace string
	// HashKey (at least 32 bytes) keys the hash that names a record after
	// its access token. Changing it orphans every stored login.
	HashKey []byte
	// EncryptionKeys seal records at rest: the first seals new records, all
	// open old ones.
	EncryptionKeys []Key
	// GraceWindow is how long after a rotation a repeat of the same refresh
	// (a browser firing twice, a client retrying after it disconnected)
	// still gets the same new access token. After it, presenting the old
	// access token again is reuse: the whole family is revoked. Default 30s.
	GraceWindow time.Duration
	// MaxAccessTokenAge refuses a refresh with an access token issued longer
	// ago than this: the user must log in again. Default 7 days.
	MaxAccessTokenAge time.Duration
	// RecordTTL is how long a login is kept without being refreshed; set it
	// to the provider's refresh-token lifetime. Default 30 days.
	RecordTTL time.Duration
	// Realm names the protection space in WWW-Authenticate challenges.
	// Default "api".
	Realm string
	// Timeout bounds each call to the provider — token endpoint and
	// revocation — through the call's context, whatever HTTP client
	// WithHTTPClient passes. The lock that makes a refresh happen once
	// lives for Timeout + 5s: the provider call, then 2s for the store
	// writes, cut off by a deadline, then 3s to spare, so the lock cannot
	// expire under the work it guards. A call cut off may still have run
	// at the provider: set the provider's refresh-token reuse interval (see
	// the package documentation). Default 10s.
	Timeout time.Duration
}

// Verifier checks JWT access tokens: *tokenvalidator.JWKS and
// *tokenvalidator.Issuers implement it. Opaque access tokens are not given
// to it: a new one is checked through the TokenCache (WithTokenCache), and
// one a client presents is bound to its session by the keyed hash that
// names the session's record.
type Verifier interface {
	// VerifyIgnoringExpiry checks a token a client presents (to refresh or
	// log out): signature, issuer and audience must hold, even past its
	// expiry — the refresh endpoint's whole point.
	VerifyIgnoringExpiry(ctx context.Context, token string) (*claims.Principal, error)
	// VerifyIssued checks a token just received from the provider's token
	// endpoint: its kid may be new (the provider has just rotated its keys),
	// which warrants an immediate key-set fetch.
	VerifyIssued(ctx context.Context, token string) (*claims.Principal, error)
}

// TokenCache is the validated-token cache the service keeps in step:
// *authn.Authenticator implements it.
type TokenCache interface {
	Invalidate(ctx context.Context, token string) error
	Authenticate(ctx context.Context, token string) (*claims.Principal, error)
}

// Tokens is what a client receives: never a refresh token.
type Tokens struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// Option configures the service's collaborators.
type Option interface{ apply(*options) }

type options struct {
	cache      TokenCache
	httpClient *http.Client
	logger     *zap.Logger
	reg        prometheus.Registerer
	now        func() time.Time
	tracer     trace.Tracer // nil: no spans
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithTokenCache keeps a validated-token cache in step: a refreshed or
// logged-out access token is invalidated, a new one pre-warmed. When c is
// also a [RevocationChecker] (authn's Authenticator is), a refresh
// presenting an access token that a revocation of its subject, grant or
// organization refuses ends the session instead (ErrLoginRequired): a
// session left behind by a revocation cannot mint tokens issued after it.
// Default: none.
func WithTokenCache(c TokenCache) Option { return optionFunc(func(o *options) { o.cache = c }) }

// WithHTTPClient sets the client for provider calls, for example one with
// a tracing transport. Config.Timeout bounds every call through its
// context whether or not the client has a Timeout of its own. Default: an
// http.Client on http.DefaultTransport.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o *options) { o.httpClient = c })
}

// WithLogger sets the logger. Default: zap.NewNop(). Tokens are never logged.
func WithLogger(l *zap.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// WithRegisterer registers the service's metrics on reg. Default: none.
func WithRegisterer(reg prometheus.Registerer) Option {
	return optionFunc(func(o *options) { o.reg = reg })
}

// WithTracerProvider makes OpenTelemetry spans with tp: an
// "authgate.refresh" span around each Refresh, with its outcome (the
// label of authgate_refresh_requests_total) and whether it waited for a
// concurrent refresh of the same token, and a client span of each call to
// the provider (token endpoint, revocation) with its method, URL without
// the query, and status code — children of the span in the call's
// context. No token, secret or password is ever put in a span. Default:
// none (no spans, no work).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tracer = tracing.Tracer(tp) })
}

// WithClock sets the clock for token ages and grace windows. Default: time.Now.
func WithClock(now func() time.Time) Option { return optionFunc(func(o *options) { o.now = now }) }

// Service keeps refresh tokens on the server: Login stores the refresh token
// under the access token it came with, Refresh trades an access token for a
// new one exactly once across every instance, Logout ends the login. It is
// safe for concurrent use.
type Service struct {
	cfg      Config
	store    Store
	verifier Verifier
	sealer   *sealer
	provider *provider
	o        options
	m        *instruments
}

// New returns a Service over store that checks access tokens with verifier.
func New(store Store, verifier Verifier, cfg Config, opts ...Option) (*Service, error) {
	if store == nil || verifier == nil {
		return nil, errors.New("refresh: New needs a Store and a Verifier")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s, err := newSealer(cfg.EncryptionKeys)
	if err != nil {
		return nil, err
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"openid", "offline_access"}
	}
	if cfg.Realm == "" {
		cfg.Realm = "api"
	}
	cfg.GraceWindow = orDuration(cfg.GraceWindow, 30*time.Second)
	cfg.MaxAccessTokenAge = orDuration(cfg.MaxAccessTokenAge, 7*24*time.Hour)
	cfg.RecordTTL = orDuration(cfg.RecordTTL, 30*24*time.Hour)
	cfg.Timeout = orDuration(cfg.Timeout, 10*time.Second)
	o := options{logger: zap.NewNop(), now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.httpClient == nil {
		o.httpClient = &http.Client{}
	}
	o.httpClient = tracing.Client(o.httpClient, o.tracer)
	return &Service{
		cfg: cfg, store: store, verifier: verifier, sealer: s,
		provider: newProvider(cfg, o.httpClient), o: o, m: newInstruments(o.reg),
	}, nil
}

func (cfg Config) check() error {
	switch {
	case cfg.TokenURL == "" && cfg.Endpoints == nil:
		return errors.New("refresh: Config needs TokenURL or Endpoints")
	case cfg.TokenURL != "":
		if err := checkEndpoints(Endpoints{TokenURL: cfg.TokenURL, RevocationURL: cfg.RevocationURL}); err != nil {
			return err
		}
	}
	switch {
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return errors.New("refresh: Config needs ClientID and ClientSecret")
	case cfg.Namespace == "":
		return errors.New("refresh: Config.Namespace is required")
	case len(cfg.HashKey) < 32:
		return errors.New("refresh: Config.HashKey must be at least 32 bytes")
	case cfg.GraceWindow < 0 || cfg.MaxAccessTokenAge < 0 || cfg.RecordTTL < 0 || cfg.Timeout < 0:
		return errors.New("refresh: negative duration in Config")
	}
	return nil
}

// checkEndpoints makes sure the endpoints are absolute URLs (the revocation
// endpoint may be absent).
func checkEndpoints(e Endpoints) error {
	for field, u := range map[string]string{"TokenURL": e.TokenURL, "RevocationURL": e.RevocationURL} {
		if u == "" && field == "RevocationURL" {
			continue
		}
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Host == "" {
			return fmt.Errorf("refresh: %s %q is not an absolute URL", field, u)
		}
	}
	return nil
}

// Credentials are what a user logs in with.
type Credentials struct {
	Username, Password string
	// Organization, when set, asks for a token for that organization (id
	// or name) — where the provider supports it with the password grant.
	Organization string
}

const (
	// storeWindow is how long the store work after a provider call may
	// take: writing the new login and marking the old one rotated.
	storeWindow = 2 * time.Second
	// lockMargin is how much longer a refresh lock lives than the work it
	// guards, which a deadline cuts off: memcached expires an item up to a
	// second early, and a store operation begun just before the deadline
	// may still be running.
	lockMargin = 3 * time.Second
)

// lockTTL is how long a refresh lock lives: the provider call, the store
// writes, and the margin.
func (s *Service) lockTTL() time.Duration { return s.cfg.Timeout + storeWindow + lockMargin }

// detach returns a context for work that must finish once the provider has
// been asked, whether or not the caller is still there: it keeps ctx's
// values, not its cancellation or deadline, and ends after d.
func detach(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Login performs the provider's password grant for a first-party app and
// keeps the refresh token. Once the grant is sent it runs to the end even if
// ctx ends, so that no refresh token is issued and then lost. Its errors
// are those [Service.WriteError] answers: ErrBadCredentials when the
// provider refuses the user's password, ErrDenied, ErrInvalidRequest,
// ErrMisconfigured, ErrRateLimited, ErrProviderUnavailable.
func (s *Service) Login(ctx context.Context, c Credentials) (*Tokens, error) {
	var t *Tokens
	err := fmt.Errorf("%w: username and password are required", ErrInvalidRequest)
	if c.Username != "" && c.Password != "" {
		t, err = s.grant(ctx, callPassword, func(ctx context.Context) (*oauth2.Token, error) {
			return s.provider.password(ctx, c)
		})
	}
	s.finish(ctx, opLogin, err)
	return t, err
}

// ExchangeCode completes an authorization-code login (web apps): it trades
// the code (with the PKCE verifier, if one was used) and keeps the refresh
// token. Like Login it runs to the end once sent. A code the provider
// refuses (used, expired, another redirect URI or verifier) is
// ErrLoginRequired; [Service.WriteError] answers every error as the
// handlers do.
func (s *Service) ExchangeCode(ctx context.Context, code, redirectURI, codeVerifier string) (*Tokens, error) {
	var t *Tokens
	err := fmt.Errorf("%w: no authorization code", ErrInvalidRequest)
	if code != "" {
		t, err = s.grant(ctx, callCode, func(ctx context.Context) (*oauth2.Token, error) {
			return s.provider.exchange(ctx, code, redirectURI, codeVerifier)
		})
	}
	s.finish(ctx, opCodeExchange, err)
	return t, err
}

// grant asks the provider for a login grant and remembers its answer as a
// new family, on a context of its own: a caller that leaves once the
// provider has been asked changes nothing.
func (s *Service) grant(ctx context.Context, c call, ask func(context.Context) (*oauth2.Token, error)) (*Tokens, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("refresh: %w", err) // gone before anything was asked
	}
	ctx, cancel := detach(ctx, s.cfg.Timeout+storeWindow)
	defer cancel()
	tok, err := ask(ctx)
	s.m.call(c, err)
	if err != nil {
		return nil, err
	}
	return s.remember(ctx, tok)
}

// finish counts a request's outcome and logs the cause of a failure that
// is the service's or a dependency's, never a token.
func (s *Service) finish(ctx context.Context, o op, err error) {
	out := outcomeOf(ctx, err)
	s.m.requests[o][out].Inc()
	switch out {
	case outcomeProviderUnavailable, outcomeStoreUnavailable, outcomeRateLimited:
		s.o.logger.Warn("refresh: "+opNames[o]+" could not be served", zap.String("outcome", outcomeNames[out]), zap.Error(err))
	case outcomeMisconfigured:
		s.o.logger.Error("refresh: the provider refused the service's "+opNames[o]+"; check its configuration", zap.Error(err))
	}
}

// remember stores tok's refresh token under its access token, as the first
// login of a new family.
func (s *Service) remember(ctx context.Context, tok *oauth2.Token) (*Tokens, error) {
	p, err := s.verifyNew(ctx, tok.AccessToken)
	if err != nil {
		if tok.RefreshToken != "" {
			// Nobody will hold this refresh token: revoke it.
			s.revokeOrphan(ctx, tok.RefreshToken, "")
		}
		if errors.Is(err, claims.ErrInvalidToken) {
			// A token fresh from the provider that does not verify is the
			// service's configuration (audience, issuer), not the user's.
			return nil, fmt.Errorf("%w: a new access token does not verify: %w", ErrMisconfigured, err)
		}
		return nil, fmt.Errorf("refresh: verifying a new access token: %w", err)
	}
	if tok.RefreshToken == "" {
		s.o.logger.Warn("refresh: the provider issued no refresh token: the login ends with its access token " +
			"(ask for offline_access; OpenID providers may also want prompt=consent, or a setting to issue one)")
		return s.tokens(tok), nil
	}
	rec := &record{
		RefreshToken: tok.RefreshToken,
		Issuer:       p.Issuer,
		Subject:      p.Subject,
		ClientID:     p.AuthorizedParty,
		FamilyID:     rand.Text(),
		CreatedAt:    s.o.now().Unix(),
	}
	name := s.name(tok.AccessToken)
	err = s.track(ctx, rec, name)
	if err == nil {
		err = s.put(ctx, name, rec, s.cfg.RecordTTL)
	}
	if err != nil {
		s.unstored(ctx, rec, err)
	}
	return s.tokens(tok), nil
}

// verifyNew checks an access token the provider has just issued: a JWT by
// the Verifier, an opaque one through the token cache (which asks the
// provider's introspection or userinfo endpoint).
func (s *Service) verifyNew(ctx context.Context, accessToken string) (*claims.Principal, error) {
	if isJWT(accessToken) {
		return s.verifier.VerifyIssued(ctx, accessToken)
	}
	if s.o.cache == nil {
		return nil, fmt.Errorf("%w: the provider issued an opaque access token, which needs WithTokenCache to be checked", ErrMisconfigured)
	}
	return s.o.cache.Authenticate(ctx, accessToken)
}

// isJWT reports whether token has a compact JWS's three segments; anything
// else is treated as an opaque token.
func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

// unstored handles a refresh token the store would not take: the access
// token still goes to the client — the login or refresh has happened at the
// provider, and a 503 would lose the refresh token all the same — but the
// session ends with the access token, and the orphaned refresh token is
// revoked rather than left valid with nobody holding it.
func (s *Service) unstored(ctx context.Context, rec *record, err error) {
	s.m.unstored.Inc()
	s.o.logger.Error("refresh: the store refused a new login; the client gets its access token but cannot refresh it",
		zap.String("family", rec.FamilyID), zap.Error(err))
	s.revokeOrphan(ctx, rec.RefreshToken, rec.FamilyID)
}

// revokeOrphan revokes a refresh token no record will hold, on a context of
// its own: ctx may be spent by the work that failed.
func (s *Service) revokeOrphan(ctx context.Context, refreshToken, family string) {
	ctx, cancel := detach(ctx, s.cfg.Timeout)
	defer cancel()
	err := s.provider.revoke(ctx, refreshToken)
	s.m.call(callRevoke, err)
	if err != nil {
		s.o.logger.Warn("refresh: revoking an orphaned refresh token failed", zap.String("family", family), zap.Error(err))
	}
}

func (s *Service) tokens(tok *oauth2.Token) *Tokens {
	expiresIn := tok.ExpiresIn
	if expiresIn == 0 && !tok.Expiry.IsZero() {
		expiresIn = int64(time.Until(tok.Expiry).Seconds())
	}
	return &Tokens{AccessToken: tok.AccessToken, TokenType: "Bearer", ExpiresIn: expiresIn}
}

// Refresh trades accessToken — which may be expired, but must verify and be
// younger than MaxAccessTokenAge — for a new access token. Across every
// instance sharing the store, one call reaches the provider; concurrent
// duplicates wait for it (until ctx ends) and get the same new token. Once
// the lock is taken the refresh runs to the end on a context of its own, so
// a client that leaves and retries within GraceWindow gets the new token.
func (s *Service) Refresh(ctx context.Context, accessToken string) (*Tokens, error) {
	var span trace.Span
	if s.o.tracer != nil {
		ctx, span = s.startRefresh(ctx)
	}
	t, err := s.refresh(ctx, accessToken)
	s.finish(ctx, opRefresh, err)
	if span != nil {
		endRefresh(ctx, span, err)
	}
	return t, err
}

func (s *Service) refresh(ctx context.Context, accessToken string) (*Tokens, error) {
	p, err := s.verify(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	name := s.name(accessToken)
	if err := s.checkRevocation(ctx, name, p); err != nil {
		return nil, err
	}
	// The lock comes first and the record is read under it, once: a read
	// before the lock would have to be repeated under it, since a refresh
	// that finished in between rotates the record.
	wait := newBackoff(s.lockTTL())
	for {
		taken := time.Now()
		h, err := s.lock(ctx, name, rand.Text())
		switch {
		case err == nil:
			return s.rotate(ctx, taken, name, h, p, accessToken)
		case !errors.Is(err, ErrLocked):
			return nil, storeError(err)
		}
		// Another request (maybe on another instance) is refreshing this
		// token, or has just refreshed it: a rotated record answers at
		// once; otherwise wait, then try again.
		s.traceWait(ctx)
		rec, err := s.get(ctx, name)
		switch {
		case err != nil:
			return nil, err
		case rec.Rotated != nil:
			return s.rotated(ctx, name, rec)
		}
		if err := wait.sleep(ctx); err != nil {
			return nil, fmt.Errorf("%w: waiting for a concurrent refresh of the same token: %w", ErrProviderUnavailable, err)
		}
	}
}

func lockName(name string) string { return name + ":lock" }

// held is the refresh lock on a login, taken by lock.
type held struct {
	rec    *record                         // the login, read under the lock
	err    error                           // or why it could not be (get's errors)
	unlock func(ctx context.Context) error // releases the lock
	// setThenUnlock, when the Store has it, stores entries then releases
	// the lock in the same round trip where it can (see lockedRead);
	// released says saveAll has used it.
	setThenUnlock func(ctx context.Context, entries []entry) ([]error, error)
	released      bool
}

// lock takes the refresh lock on the login under name for owner, then
// reads the login: in one call when the Store is a lockReader, which saves
// round trips; otherwise with Lock, then Get. It returns ErrLocked when
// another request holds the lock.
func (s *Service) lock(ctx context.Context, name, owner string) (*held, error) {
	if lr, ok := s.store.(lockReader); ok {
		r, err := lr.lockGet(ctx, lockName(name), owner, s.lockTTL(), name)
		if err != nil {
			return nil, err
		}
		h := &held{unlock: r.unlock, setThenUnlock: r.setThenUnlock}
		h.rec, h.err = s.opened(name, r.value, r.err)
		return h, nil
	}
	if err := s.store.Lock(ctx, lockName(name), owner, s.lockTTL()); err != nil {
		return nil, err
	}
	h := &held{unlock: func(ctx context.Context) error { return s.store.Unlock(ctx, lockName(name), owner) }}
	h.rec, h.err = s.get(ctx, name)
	return h, nil
}

// checkRevocation refuses a refresh of p, whose login is under name, when
// the token cache says a revocation refuses p — and ends that login.
func (s *Service) checkRevocation(ctx context.Context, name string, p *claims.Principal) error {
	rc, ok := s.o.cache.(RevocationChecker)
	if !ok {
		return nil
	}
	err := rc.CheckRevocation(ctx, p)
	if !errors.Is(err, claims.ErrInvalidToken) {
		return nil // a checker that cannot tell does not stop a refresh
	}
	ctx, cancel := detach(ctx, s.cfg.Timeout+storeWindow)
	defer cancel()
	if rec, gerr := s.get(ctx, name); gerr == nil {
		if eerr := s.endFamily(ctx, name, rec); eerr != nil {
			s.o.logger.Warn("refresh: ending a revoked session", zap.String("family", rec.FamilyID), zap.Error(eerr))
		} else {
			s.forget(ctx, rec.Subject, rec.FamilyID)
		}
	}
	return fmt.Errorf("%w: the session was revoked: %w", ErrLoginRequired, err)
}

// verify checks the presented access token: signature, issuer and audience
// must hold even past expiry, and it must be recent enough. An opaque token
// cannot be checked past its expiry; it is bound to its session by the
// record found under its keyed hash, and nil is returned for it (the
// record's age is checked instead, in rotateLocked).
func (s *Service) verify(ctx context.Context, accessToken string) (*claims.Principal, error) {
	if !isJWT(accessToken) {
		return nil, nil
	}
	p, err := s.verifier.VerifyIgnoringExpiry(ctx, accessToken)
	switch {
	case errors.Is(err, claims.ErrInvalidToken):
		return nil, fmt.Errorf("%w: %w", ErrLoginRequired, err)
	case err != nil:
		return nil, err
	case p.IssuedAt.IsZero() || s.o.now().Sub(p.IssuedAt) > s.cfg.MaxAccessTokenAge:
		return nil, fmt.Errorf("%w: the access token is too old to refresh", ErrLoginRequired)
	}
	return p, nil
}

// rotate is the one refresh of the login under name, whose lock h was
// taken at taken. From here it runs to the end whatever the caller does:
// the lock's work on a context whose deadline leaves the lock lockMargin
// to spare, then the release and the cache updates on one of their own.
func (s *Service) rotate(ctx context.Context, taken time.Time, name string, h *held, p *claims.Principal, accessToken string) (*Tokens, error) {
	locked, cancel := context.WithDeadline(context.WithoutCancel(ctx), taken.Add(s.cfg.Timeout+storeWindow))
	rec, next, err := s.rotateLocked(locked, name, h, p)
	cancel()
	after, cancel := detach(ctx, s.cfg.Timeout+storeWindow)
	defer cancel()
	if !h.released {
		if err := h.unlock(after); err != nil {
			s.o.logger.Warn("refresh: releasing a refresh lock failed; it expires with its TTL", zap.Error(err))
		}
	}
	switch {
	case err != nil:
		return nil, err
	case next == nil:
		// A refresh that finished before we took the lock rotated the
		// record: its result is ours too (a duplicate within the grace
		// window), or this is reuse.
		return s.rotated(after, name, rec)
	case next.storeErr != nil:
		s.unstored(after, next.rec, next.storeErr)
	}
	s.invalidate(after, accessToken)
	if s.o.cache != nil {
		_, _ = s.o.cache.Authenticate(after, next.tokens.AccessToken) // pre-warm
	}
	return next.tokens, nil
}

// successor is what a rotation produced.
type successor struct {
	tokens   *Tokens
	rec      *record // the new login
	storeErr error   // why rec is stored nowhere, if it is not
}

// rotateLocked, under the lock h on name: take the record h read (a
// refresh that finished before the lock was taken has rotated it: then it
// returns the record and no successor), ask the provider, then write the new login,
// move the family's head and mark the old login rotated, at once. The new
// login must be stored before the answer, and the rotation before the lock
// is released: both are, since rotate answers and releases after this
// returns; the writes do not depend on one another, so they need not wait
// for one another.
func (s *Service) rotateLocked(ctx context.Context, name string, h *held, p *claims.Principal) (*record, *successor, error) {
	rec, err := h.rec, h.err
	if err != nil || rec.Rotated != nil {
		return rec, nil, err
	}
	if err := s.matches(rec, p); err != nil {
		return nil, nil, err
	}
	tok, err := s.provider.refresh(ctx, rec.RefreshToken)
	s.m.call(callRefresh, err)
	if errors.Is(err, ErrLoginRequired) {
		// Terminal at the provider. Only the lock holder gets here, after
		// re-reading an unrotated record, so this is never a lost race.
		_ = s.store.Delete(ctx, name)
		s.forget(ctx, rec.Subject, rec.FamilyID)
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, err // the record stays for the next try
	}
	next := &successor{
		tokens: s.tokens(tok),
		rec: &record{RefreshToken: tok.RefreshToken, Issuer: rec.Issuer, Subject: rec.Subject, ClientID: rec.ClientID,
			FamilyID: rec.FamilyID, CreatedAt: s.o.now().Unix()},
	}
	nextName := s.name(tok.AccessToken)
	// The old record keeps no refresh token: it points to its successor and
	// lives as long as the old access token could still be presented, so a
	// replay after the grace window is recognized as reuse. It is marked
	// even if the new login could not be stored: the provider has rotated,
	// so the refresh token it held is spent either way, and a duplicate
	// within the grace window gets the access token the first caller got.
	rotatedRec := &record{Issuer: rec.Issuer, Subject: rec.Subject, ClientID: rec.ClientID, FamilyID: rec.FamilyID, CreatedAt: rec.CreatedAt,
		Rotated: &rotation{At: s.o.now().Unix(), Next: nextName, Tokens: *next.tokens}}
	ttl := max(issuedAt(rec, p).Add(s.cfg.MaxAccessTokenAge).Sub(s.o.now()), s.cfg.GraceWindow)
	next.rec.Version, rotatedRec.Version = recordVersion, recordVersion
	// The subject's index is read beside the writes: moved decides from it
	// whether to list the family again. The lock is released with the
	// writes where the Store can (MemcacheStore), else by rotate.
	var idx subjectIndex
	var idxErr error
	var wg sync.WaitGroup
	wg.Go(func() { idxErr = s.load(ctx, s.indexName(rec.Subject), &idx) })
	errs := s.saveAll(ctx, h, []saving{
		{nextName, next.rec, s.cfg.RecordTTL},
		{name, rotatedRec, ttl},
		{s.headName(rec.FamilyID), &familyHead{Version: indexVersion, Subject: rec.Subject, Current: nextName}, s.cfg.RecordTTL},
	})
	wg.Wait()
	// The provider has rotated: an error now would send the client back
	// with the old token, which the provider would take for reuse; the
	// caller hands out the new one and revokes its refresh token.
	next.storeErr = errs[0]
	if errs[1] != nil {
		s.o.logger.Warn("refresh: could not mark the old login rotated", zap.String("family", rec.FamilyID), zap.Error(errs[1]))
	}
	if errs[2] != nil {
		s.o.logger.Warn("refresh: could not move a family's head; ending its sessions walks from the previous login", zap.String("family", rec.FamilyID), zap.Error(errs[2]))
	}
	s.moved(ctx, next.rec, &idx, idxErr)
	return rec, next, nil
}

// matches checks that the login stored under a presented token's name is
// that token's: of its subject and client (a JWT), of this service's issuer,
// and young enough to refresh (an opaque token, whose own age is unknown).
func (s *Service) matches(rec *record, p *claims.Principal) error {
	var mismatch string
	switch {
	case s.cfg.Issuer != "" && rec.Issuer != s.cfg.Issuer:
		return fmt.Errorf("%w: the session belongs to another issuer's refresh service", ErrLoginRequired)
	case p == nil && s.o.now().Sub(time.Unix(rec.CreatedAt, 0)) > s.cfg.MaxAccessTokenAge:
		return fmt.Errorf("%w: the access token is too old to refresh", ErrLoginRequired)
	case p == nil:
		return nil
	case rec.Subject != p.Subject || rec.ClientID != p.AuthorizedParty:
		mismatch = "subject or client"
	case rec.Issuer != "" && rec.Issuer != p.Issuer:
		mismatch = "issuer"
	default:
		return nil
	}
	s.o.logger.Warn("refresh: stored login does not match the access token", zap.String("family", rec.FamilyID), zap.String("field", mismatch))
	return fmt.Errorf("%w: stored login does not match the access token", ErrLoginRequired)
}

// issuedAt is when the access token of rec's login was issued: its iat, or,
// for an opaque token, when the login was stored.
func issuedAt(rec *record, p *claims.Principal) time.Time {
	if p != nil && !p.IssuedAt.IsZero() {
		return p.IssuedAt
	}
	return time.Unix(rec.CreatedAt, 0)
}

// rotated answers a token whose login was already rotated: the same new
// token within the grace window, reuse after it.
func (s *Service) rotated(ctx context.Context, name string, rec *record) (*Tokens, error) {
	if s.o.now().Sub(time.Unix(rec.Rotated.At, 0)) <= s.cfg.GraceWindow {
		s.m.duplicates.Inc()
		t := rec.Rotated.Tokens
		return &t, nil
	}
	s.o.logger.Warn("refresh: rotated token reused after the grace window; revoking its family",
		zap.String("family", rec.FamilyID), zap.String("client", rec.ClientID))
	ctx, cancel := detach(ctx, s.cfg.Timeout+storeWindow)
	defer cancel()
	if err := s.endFamily(ctx, name, rec); err != nil {
		s.o.logger.Warn("refresh: ending a reused family", zap.String("family", rec.FamilyID), zap.Error(err))
	} else {
		s.forget(ctx, rec.Subject, rec.FamilyID)
	}
	return nil, ErrReuse
}

// Logout ends the login of accessToken (expired or not): the access token
// is invalidated in the token cache, the family's refresh token is revoked
// at the provider and every record of the family is deleted. Once the
// access token has verified it runs to the end even if ctx ends. Logging
// out twice is not an error. A revocation the provider refuses or does not
// answer is logged and counted, and not an error: the refresh token never
// left the server, and with its records deleted nobody holds it. A store
// that fails is ErrStoreUnavailable, and a retry finishes the logout.
func (s *Service) Logout(ctx context.Context, accessToken string) error {
	err := s.logout(ctx, accessToken)
	s.finish(ctx, opLogout, err)
	return err
}

func (s *Service) logout(ctx context.Context, accessToken string) error {
	// An opaque token is bound to its session by the record found under its
	// keyed hash: only a JWT has more to check.
	if isJWT(accessToken) {
		if _, err := s.verifier.VerifyIgnoringExpiry(ctx, accessToken); err != nil {
			if errors.Is(err, claims.ErrInvalidToken) {
				return fmt.Errorf("%w: %w", ErrLoginRequired, err)
			}
			return err
		}
	}
	ctx, cancel := detach(ctx, s.cfg.Timeout+storeWindow)
	defer cancel()
	s.invalidate(ctx, accessToken)
	name := s.name(accessToken)
	rec, err := s.get(ctx, name)
	switch {
	case errors.Is(err, ErrLoginRequired):
		return nil // logged out already, or never logged in here
	case err != nil:
		return err
	}
	if err := s.endFamily(ctx, name, rec); err != nil {
		return err
	}
	s.forget(ctx, rec.Subject, rec.FamilyID)
	return nil
}

// maxChain bounds the walk along a family's rotations.
const maxChain = 64

// endFamily follows rotations from rec to the family's current login,
// invalidating the access tokens the rotations handed out, revokes its
// refresh token at the provider, then deletes the records newest first: a
// failure leaves the chain from name on, for a retry to walk again.
func (s *Service) endFamily(ctx context.Context, name string, rec *record) error {
	names := []string{name}
	for rec != nil && rec.Rotated != nil && len(names) < maxChain {
		s.invalidate(ctx, rec.Rotated.Tokens.AccessToken)
		next, err := s.get(ctx, rec.Rotated.Next)
		switch {
		case errors.Is(err, ErrLoginRequired):
			next = nil // the chain ends here
		case err != nil:
			return err
		default:
			names = append(names, rec.Rotated.Next)
		}
		rec = next
	}
	if rec != nil && rec.Rotated == nil {
		err := s.provider.revoke(ctx, rec.RefreshToken)
		s.m.call(callRevoke, err)
		if err != nil {
			s.o.logger.Warn("refresh: revoking at the provider failed; the refresh token is forgotten here",
				zap.String("family", rec.FamilyID), zap.Error(err))
		}
	}
	for i := len(names) - 1; i >= 0; i-- {
		if err := s.store.Delete(ctx, names[i]); err != nil {
			return storeError(err)
		}
	}
	return nil
}

// invalidate drops an access token from the token cache, if there is one.
func (s *Service) invalidate(ctx context.Context, accessToken string) {
	if s.o.cache == nil {
		return
	}
	if err := s.o.cache.Invalidate(ctx, accessToken); err != nil {
		s.o.logger.Warn("refresh: invalidating an old access token in the token cache", zap.Error(err))
	}
}

// name is the store key of the login an access token belongs to: a keyed
// hash, so the store never sees the token.
func (s *Service) name(accessToken string) string {
	d := tokenhash.Sum(accessToken)
	mac := hmac.New(sha256.New, s.cfg.HashKey)
	mac.Write(d[:])
	return "agr1:" + s.cfg.Namespace + ":" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// get reads and opens the record under name. A missing record, or one that
// does not open (tampered, moved, sealed with a retired key), means the
// login is gone: ErrLoginRequired.
func (s *Service) get(ctx context.Context, name string) (*record, error) {
	sealed, err := s.store.Get(ctx, name)
	return s.opened(name, sealed, err)
}

// opened is get's answer for what a read of name returned: sealed, or err.
func (s *Service) opened(name string, sealed []byte, err error) (*record, error) {
	var rec record
	switch err := s.open(name, sealed, err, &rec); {
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("%w: no stored login for this access token", ErrLoginRequired)
	case errors.Is(err, errUnreadable):
		return nil, fmt.Errorf("%w: stored login unreadable", ErrLoginRequired)
	case err != nil:
		return nil, err
	case rec.Version != recordVersion:
		s.m.rejected.Inc()
		s.o.logger.Warn("refresh: stored record of an unknown version rejected")
		return nil, fmt.Errorf("%w: stored login unreadable", ErrLoginRequired)
	}
	return &rec, nil
}

func (s *Service) put(ctx context.Context, name string, rec *record, ttl time.Duration) error {
	rec.Version = recordVersion
	return s.save(ctx, name, rec, ttl)
}

// recordVersion is the version of the record layout inside the seal.
const recordVersion = 1

// record is one login as stored (sealed) under its access token's name.
type record struct {
	Version      int    `json:"v"`
	RefreshToken string `json:"rt,omitempty"`
	Issuer       string `json:"iss,omitempty"`
	Subject      string `json:"sub"`
	ClientID     string `json:"client"`
	FamilyID     string `json:"family"`
	CreatedAt    int64  `json:"created"`
	// Rotated is set once the login was refreshed: it then holds no refresh
	// token, only where the login went and what the refresh answered.
	Rotated *rotation `json:"rotated,omitempty"`
}

type rotation struct {
	At     int64  `json:"at"`
	Next   string `json:"next"`
	Tokens Tokens `json:"tokens"`
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
