package refresh

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/tokenhash"
)

// Config holds the refresh service's settings. TokenURL, ClientID,
// ClientSecret, Namespace, HashKey and EncryptionKeys are required; other
// zero values are documented defaults.
type Config struct {
	// TokenURL is the provider's token endpoint, e.g.
	// "https://tenant.auth0.com/oauth/token".
	TokenURL string
	// RevocationURL is the provider's RFC 7009 endpoint, e.g.
	// "https://tenant.auth0.com/oauth/revoke". Without it, logout and reuse
	// detection can only forget refresh tokens, not revoke them.
	RevocationURL string
	// ClientID and ClientSecret are the service's own (first-party) client.
	ClientID, ClientSecret string
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
	// (a browser firing twice) still gets the same new access token. After
	// it, presenting the old access token again is reuse: the whole family
	// is revoked. Default 30s.
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
	// Timeout bounds each call to the provider. The lock that makes a
	// refresh happen once is held for Timeout plus a margin, so it cannot
	// expire under a slow provider call. Default 10s.
	Timeout time.Duration
}

// Verifier checks an access token's signature, issuer and audience while
// accepting it past its expiry — the refresh endpoint's whole point.
// *tokenvalidator.JWKS implements it.
type Verifier interface {
	VerifyIgnoringExpiry(ctx context.Context, token string) (*claims.Principal, error)
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

// Errors the service returns; ErrUnavailable-wrapped errors (claims) mean
// the provider or the store could not be reached and nothing was lost.
var (
	// ErrLoginRequired means the client must log in again: no stored login
	// for this access token, the provider refused the refresh token, the
	// access token is too old, or the rotated token was reused.
	ErrLoginRequired = errors.New("refresh: login required")
	// ErrReuse is a rotated access token presented after the grace window;
	// it matches ErrLoginRequired.
	ErrReuse = fmt.Errorf("%w: a rotated token was presented again", ErrLoginRequired)
	// ErrBadCredentials is a login the provider refused.
	ErrBadCredentials = errors.New("refresh: wrong username or password")
)

// Option configures the service's collaborators.
type Option interface{ apply(*options) }

type options struct {
	cache      TokenCache
	httpClient *http.Client
	logger     *zap.Logger
	reg        prometheus.Registerer
	now        func() time.Time
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithTokenCache keeps a validated-token cache in step: a refreshed or
// logged-out access token is invalidated, a new one pre-warmed. Default: none.
func WithTokenCache(c TokenCache) Option { return optionFunc(func(o *options) { o.cache = c }) }

// WithHTTPClient sets the client for provider calls. Default: one with
// Config.Timeout.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o *options) { o.httpClient = c })
}

// WithLogger sets the logger. Default: zap.NewNop(). Tokens are never logged.
func WithLogger(l *zap.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// WithRegisterer registers the service's metrics on reg. Default: none.
func WithRegisterer(reg prometheus.Registerer) Option {
	return optionFunc(func(o *options) { o.reg = reg })
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
		o.httpClient = &http.Client{Timeout: cfg.Timeout}
	}
	return &Service{
		cfg: cfg, store: store, verifier: verifier, sealer: s,
		provider: newProvider(cfg, o.httpClient), o: o, m: newInstruments(o.reg),
	}, nil
}

func (cfg Config) check() error {
	for field, u := range map[string]string{"TokenURL": cfg.TokenURL, "RevocationURL": cfg.RevocationURL} {
		if u == "" && field == "RevocationURL" {
			continue
		}
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Host == "" {
			return fmt.Errorf("refresh: Config.%s must be an absolute URL", field)
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

// Credentials are what a user logs in with.
type Credentials struct {
	Username, Password string
	// Organization, when set, asks for a token for that organization (id
	// or name) — where the provider supports it with the password grant.
	Organization string
}

// Login performs the provider's password grant for a first-party app and
// keeps the refresh token. It returns ErrBadCredentials when the provider
// refuses the user.
func (s *Service) Login(ctx context.Context, c Credentials) (*Tokens, error) {
	tok, err := s.provider.password(ctx, c)
	return s.loggedIn(ctx, tok, err, ErrBadCredentials)
}

// ExchangeCode completes an authorization-code login (web apps): it trades
// the code (with the PKCE verifier, if one was used) and keeps the refresh
// token.
func (s *Service) ExchangeCode(ctx context.Context, code, redirectURI, codeVerifier string) (*Tokens, error) {
	tok, err := s.provider.exchange(ctx, code, redirectURI, codeVerifier)
	return s.loggedIn(ctx, tok, err, ErrLoginRequired)
}

// loggedIn finishes a login grant, err being the provider's answer: an
// invalid_grant becomes refused, a success is remembered in a new family.
func (s *Service) loggedIn(ctx context.Context, tok *oauth2.Token, err, refused error) (*Tokens, error) {
	switch {
	case errors.Is(err, errInvalidGrant):
		s.m.login("refused")
		return nil, refused
	case err != nil:
		s.m.login("unavailable")
		return nil, err
	}
	t, err := s.remember(ctx, tok)
	s.m.login(outcome(err))
	return t, err
}

// remember stores tok's refresh token under its access token, as the first
// login of a new family.
func (s *Service) remember(ctx context.Context, tok *oauth2.Token) (*Tokens, error) {
	if tok.RefreshToken == "" {
		s.o.logger.Warn("refresh: the provider issued no refresh token; ask for offline_access")
		return s.tokens(tok), nil
	}
	p, err := s.verifier.VerifyIgnoringExpiry(ctx, tok.AccessToken)
	if err != nil {
		// A token fresh from the provider that does not verify is a
		// configuration problem (audience, issuer), not the user's.
		s.o.logger.Error("refresh: a new access token does not verify", zap.Error(err))
		return nil, fmt.Errorf("refresh: new access token: %w: %w", claims.ErrUnavailable, err)
	}
	rec := &record{
		RefreshToken: tok.RefreshToken,
		Subject:      p.Subject,
		ClientID:     p.AuthorizedParty,
		FamilyID:     rand.Text(),
		CreatedAt:    s.o.now().Unix(),
	}
	if err := s.put(ctx, s.name(tok.AccessToken), rec, s.cfg.RecordTTL); err != nil {
		s.unstored(ctx, rec, err)
	}
	return s.tokens(tok), nil
}

// unstored handles a refresh token the store would not take: the access
// token still goes to the client — the login or refresh has happened at the
// provider, and a 503 would lose the refresh token all the same — but the
// session ends with the access token, and the orphaned refresh token is
// revoked rather than left valid with nobody holding it.
func (s *Service) unstored(ctx context.Context, rec *record, err error) {
	s.m.unstored.Inc()
	s.o.logger.Error("refresh: the store refused a new login; the client gets its access token but cannot refresh it",
		zap.String("family", rec.FamilyID), zap.Error(err))
	if err := s.provider.revoke(ctx, rec.RefreshToken); err != nil {
		s.o.logger.Warn("refresh: revoking the unstored refresh token failed", zap.String("family", rec.FamilyID), zap.Error(err))
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
// duplicates wait for it and get the same new token.
func (s *Service) Refresh(ctx context.Context, accessToken string) (*Tokens, error) {
	t, err := s.refresh(ctx, accessToken)
	s.m.refresh(err)
	return t, err
}

func (s *Service) refresh(ctx context.Context, accessToken string) (*Tokens, error) {
	p, err := s.verify(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	name := s.name(accessToken)
	wait := newBackoff(s.cfg.Timeout + time.Second)
	for {
		rec, err := s.get(ctx, name)
		if err != nil {
			return nil, err
		}
		if rec.Rotated != nil {
			return s.rotated(ctx, name, rec)
		}
		release, err := s.store.Lock(ctx, name+":lock", s.cfg.Timeout+2*time.Second)
		switch {
		case err == nil:
			return s.rotate(ctx, name, p, accessToken, release)
		case !errors.Is(err, ErrLocked):
			return nil, fmt.Errorf("refresh: store: %w: %w", claims.ErrUnavailable, err)
		}
		// Another request (maybe on another instance) is refreshing this
		// token: wait, then read the record it leaves behind.
		if err := wait.sleep(ctx); err != nil {
			return nil, fmt.Errorf("refresh: waiting for a concurrent refresh: %w: %w", claims.ErrUnavailable, err)
		}
	}
}

// verify checks the presented access token: signature, issuer and audience
// must hold even past expiry, and it must be recent enough.
func (s *Service) verify(ctx context.Context, accessToken string) (*claims.Principal, error) {
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

// rotate is the one refresh, under the lock on name.
func (s *Service) rotate(ctx context.Context, name string, p *claims.Principal, accessToken string, release func()) (*Tokens, error) {
	defer release()
	// Re-read under the lock: a refresh that finished between our first
	// read and the lock has rotated the record, and its result is ours too.
	rec, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if rec.Rotated != nil {
		return s.rotated(ctx, name, rec)
	}
	if rec.Subject != p.Subject || rec.ClientID != p.AuthorizedParty {
		s.o.logger.Warn("refresh: stored login does not match the access token", zap.String("family", rec.FamilyID))
		return nil, fmt.Errorf("%w: stored login does not match the access token", ErrLoginRequired)
	}
	s.m.providerCalls.Inc()
	tok, err := s.provider.refresh(ctx, rec.RefreshToken)
	if errors.Is(err, errInvalidGrant) {
		// Terminal at the provider. Only the lock holder gets here, after
		// re-reading an unrotated record, so this is never a lost race.
		_ = s.store.Delete(ctx, name)
		return nil, fmt.Errorf("%w: %w", ErrLoginRequired, err)
	}
	if err != nil {
		return nil, err // unavailable: the record stays for the next try
	}
	next := s.name(tok.AccessToken)
	nextRec := &record{RefreshToken: tok.RefreshToken, Subject: rec.Subject, ClientID: rec.ClientID, FamilyID: rec.FamilyID, CreatedAt: s.o.now().Unix()}
	t := s.tokens(tok)
	if err := s.put(ctx, next, nextRec, s.cfg.RecordTTL); err != nil {
		// The provider has rotated: a 503 now would send the client back
		// with the old token, which the provider would take for reuse.
		s.unstored(ctx, nextRec, err)
		return t, nil
	}
	// The old record keeps no refresh token: it points to its successor and
	// lives as long as the old access token could still be presented, so a
	// replay after the grace window is recognized as reuse.
	rotatedRec := &record{Subject: rec.Subject, ClientID: rec.ClientID, FamilyID: rec.FamilyID, CreatedAt: rec.CreatedAt,
		Rotated: &rotation{At: s.o.now().Unix(), Next: next, Tokens: *t}}
	ttl := max(p.IssuedAt.Add(s.cfg.MaxAccessTokenAge).Sub(s.o.now()), s.cfg.GraceWindow)
	if err := s.put(ctx, name, rotatedRec, ttl); err != nil {
		s.o.logger.Warn("refresh: could not mark the old login rotated", zap.String("family", rec.FamilyID), zap.Error(err))
	}
	if s.o.cache != nil {
		_ = s.o.cache.Invalidate(ctx, accessToken)
		_, _ = s.o.cache.Authenticate(ctx, tok.AccessToken) // pre-warm
	}
	return t, nil
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
	s.endFamily(ctx, name, rec)
	return nil, ErrReuse
}

// Logout ends the login of accessToken (expired or not): its refresh token
// is revoked at the provider and forgotten, and the access token is
// invalidated in the token cache. Logging out twice is not an error.
func (s *Service) Logout(ctx context.Context, accessToken string) error {
	if _, err := s.verifier.VerifyIgnoringExpiry(ctx, accessToken); err != nil {
		if errors.Is(err, claims.ErrInvalidToken) {
			return fmt.Errorf("%w: %w", ErrLoginRequired, err)
		}
		return err
	}
	name := s.name(accessToken)
	rec, err := s.get(ctx, name)
	switch {
	case err == nil:
		s.endFamily(ctx, name, rec)
	case !errors.Is(err, ErrLoginRequired):
		return err
	}
	if s.o.cache != nil {
		if err := s.o.cache.Invalidate(ctx, accessToken); err != nil {
			s.o.logger.Warn("refresh: invalidating a logged-out token", zap.Error(err))
		}
	}
	s.m.logouts.Inc()
	return nil
}

// maxChain bounds the walk along a family's rotations.
const maxChain = 64

// endFamily follows rotations from rec to the family's current login,
// revokes its refresh token at the provider, deletes every record on the
// way, and invalidates the access tokens the rotations handed out.
func (s *Service) endFamily(ctx context.Context, name string, rec *record) {
	for range maxChain {
		if rec.Rotated == nil {
			if err := s.provider.revoke(ctx, rec.RefreshToken); err != nil {
				s.o.logger.Warn("refresh: revoking at the provider failed; the refresh token is forgotten here",
					zap.String("family", rec.FamilyID), zap.Error(err))
			}
			_ = s.store.Delete(ctx, name)
			return
		}
		if s.o.cache != nil {
			_ = s.o.cache.Invalidate(ctx, rec.Rotated.Tokens.AccessToken)
		}
		_ = s.store.Delete(ctx, name)
		next, err := s.get(ctx, rec.Rotated.Next)
		if err != nil {
			return
		}
		name, rec = rec.Rotated.Next, next
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
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: no stored login for this access token", ErrLoginRequired)
	}
	if err != nil {
		return nil, fmt.Errorf("refresh: store: %w: %w", claims.ErrUnavailable, err)
	}
	plain, err := s.sealer.open(sealed, name)
	var rec record
	if err == nil {
		err = json.Unmarshal(plain, &rec)
	}
	if err != nil || rec.Version != recordVersion {
		s.m.rejected.Inc()
		s.o.logger.Warn("refresh: stored record rejected (tampered, moved or unknown key)")
		return nil, fmt.Errorf("%w: stored login unreadable", ErrLoginRequired)
	}
	return &rec, nil
}

func (s *Service) put(ctx context.Context, name string, rec *record, ttl time.Duration) error {
	rec.Version = recordVersion
	plain, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.store.Set(ctx, name, s.sealer.seal(plain, name), ttl); err != nil {
		return fmt.Errorf("refresh: store: %w: %w", claims.ErrUnavailable, err)
	}
	return nil
}

// recordVersion is the version of the record layout inside the seal.
const recordVersion = 1

// record is one login as stored (sealed) under its access token's name.
type record struct {
	Version      int    `json:"v"`
	RefreshToken string `json:"rt,omitempty"`
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

func outcome(err error) string {
	if err != nil {
		return "unavailable"
	}
	return "ok"
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
