package tokenvalidator

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/authgate/authgate/claims"
)

// Validator checks a bearer token. It returns the token's Principal, or an
// error that matches claims.ErrInvalidToken (with a claims.Reason) or
// claims.ErrUnavailable. Implementations are safe for concurrent use.
type Validator interface {
	Validate(ctx context.Context, token string) (Result, error)
	// Policy describes what the validator accepts; caches bind their
	// entries to it.
	Policy() Policy
}

// Result is a successful validation.
type Result struct {
	Principal *claims.Principal
	// CacheUntil is the latest time this answer may be reused: the token's
	// expiry, or sooner where the provider's answer must be re-asked (see
	// each validator's CacheTTL). It is never after the token's expiry.
	CacheUntil time.Time
}

// Option configures a validator's collaborators.
type Option interface{ apply(*options) }

type options struct {
	httpClient *http.Client
	logger     *zap.Logger
	now        func() time.Time
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithHTTPClient sets the client for calls to the provider. Default: a
// client with the validator's fetch timeout. A client without a Timeout gets
// a copy with the validator's timeout, since JWKS fetches run without a
// context.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o *options) { o.httpClient = c })
}

// WithLogger sets the logger for rare events (key set changes, fetch
// failures). Default: zap.NewNop(). Tokens are never logged.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithClock sets the clock used for expiry and rate limits. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}

func buildOptions(timeout time.Duration, opts []Option) options {
	o := options{logger: zap.NewNop(), now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	switch {
	case o.httpClient == nil:
		o.httpClient = &http.Client{Timeout: timeout}
	case o.httpClient.Timeout == 0:
		c := *o.httpClient
		c.Timeout = timeout
		o.httpClient = &c
	}
	return o
}

// unavailable wraps err as a transient failure to check a token.
func unavailable(what string, err error) error {
	return fmt.Errorf("tokenvalidator: %s: %w: %w", what, claims.ErrUnavailable, err)
}

// invalid returns the error for a rejected token.
func invalid(reason claims.Reason, detail error) error {
	return fmt.Errorf("tokenvalidator: %w", claims.Invalid(reason, detail))
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
