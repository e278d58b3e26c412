package tokenvalidator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/tracing"
)

// DefaultMaxTokenBytes is every validator's default MaxTokenBytes. A token
// longer than its validator's maximum is refused before any other check,
// and without a call to the provider, by every validator of this package
// ([JWKS], [Issuers], [Introspection], [UserInfo], [Auto]) in the same way:
// claims.ReasonTooLarge, an invalid token (401 invalid_token).
const DefaultMaxTokenBytes = 16 << 10

// Validator checks a bearer token. It returns the token's Principal, or an
// error that matches claims.ErrInvalidToken (with a claims.Reason) or
// claims.ErrUnavailable. Implementations are safe for concurrent use.
type Validator interface {
	Validate(ctx context.Context, token string) (Result, error)
	// Policy describes what the validator accepts; caches bind their
	// entries to it.
	Policy() Policy
}

// LocalValidator is a Validator that can also answer without any I/O when
// it needs nothing from the provider, so that a caller may run such a
// validation in its own goroutine and hand only the others to a worker.
// [JWKS], [Issuers] and [Auto] (when the validator a token goes to is one)
// implement it.
type LocalValidator interface {
	Validator
	// ValidateLocal returns what Validate would, without I/O, or
	// ErrNotLocal when the answer needs a call to the provider.
	ValidateLocal(ctx context.Context, token string) (Result, error)
}

// ErrNotLocal is ValidateLocal's answer when the token cannot be judged
// without a call to the provider: call Validate. It is neither an invalid
// token nor an unavailable provider.
var ErrNotLocal = errors.New("tokenvalidator: the token cannot be validated without the provider")

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
	reg        prometheus.Registerer
	tracer     trace.Tracer // nil: no spans
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

// WithClock sets the clock used for expiry, rate limits and backoffs.
// Default: time.Now. (The JWKS's background refresh waits on real timers,
// but fetches only when this clock says a fetch is due.)
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}

// WithRegisterer registers the validator's metrics on reg. Default: metrics
// are kept but not registered. Validators sharing a registry count into the
// same series; labels come from small fixed sets and never carry a token,
// a kid or a subject. The series:
//
//   - authgate_tokenvalidator_jwks_fetches_total{trigger, outcome}: key-set
//     fetches by what asked for them (start, refresh, unknown_kid, issued)
//     and how they ended (ok, error, no_usable_key).
//   - authgate_tokenvalidator_jwks_age_seconds: seconds since the key set
//     was last fetched successfully — the stalest of the key sets on the
//     registry; +Inf while one has never been fetched.
//   - authgate_tokenvalidator_unknown_kid_total{outcome}: tokens whose kid
//     was not in the key set, by answer: found (a fetch brought the key),
//     retry (503: a rotation this instance may not have seen yet),
//     unavailable (503: the key set cannot be fetched), refused (401).
//   - authgate_tokenvalidator_provider_calls_total{endpoint, outcome}:
//     introspection and userinfo calls by answer (ok, refused, limited,
//     error).
//   - authgate_tokenvalidator_budget_rejections_total{endpoint, cause}:
//     validations refused by the [Budget] without a call (rate,
//     concurrency).
//   - authgate_tokenvalidator_provider_calls_in_flight{endpoint}: the
//     budget in use — calls holding a concurrency slot now.
func WithRegisterer(reg prometheus.Registerer) Option {
	return optionFunc(func(o *options) { o.reg = reg })
}

// WithTracerProvider makes OpenTelemetry spans with tp: a client span of
// each call to the provider (discovery, JWKS, introspection, userinfo, the
// token service) with its method, URL without the query, and status code,
// and an "authgate.jwks.fetch" span around each key-set fetch, with the
// JWKS URL, the number of keys and the error. A call made for a request is
// a child of the span in the request's context; a background key-set
// refresh starts a trace of its own. No token is ever put in a span.
// Default: none (no spans, no work).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tracer = tracing.Tracer(tp) })
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
	o.httpClient = tracing.Client(o.httpClient, o.tracer)
	return o
}

// unavailable wraps err as a transient failure to check a token.
func unavailable(what string, err error) error {
	return fmt.Errorf("tokenvalidator: %s: %w: %w", what, claims.ErrUnavailable, err)
}

// retry returns an unavailable error that says when to try again: at least
// a second later, the granularity of Retry-After.
func retry(what string, after time.Duration, cause error) error {
	return fmt.Errorf("tokenvalidator: %s: %w", what, &claims.RetryError{After: max(after, time.Second), Err: cause})
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
