package refresh

import (
	"context"
	"errors"
	"fmt"

	"github.com/authgate/authgate/claims"
)

// Errors the service returns. Each names one answer of the handlers (see
// [Service.WriteError]); a [*ProviderError] matches the one its answer
// calls for. ErrProviderUnavailable and ErrStoreUnavailable match
// claims.ErrUnavailable, and nothing was lost: the request can be retried.
var (
	// ErrLoginRequired means the client must log in again: no stored login
	// for this access token, the provider refused the refresh token or the
	// authorization code (invalid_grant), the access token is too old, or
	// the rotated token was reused. Answered 401.
	ErrLoginRequired = errors.New("refresh: login required")
	// ErrReuse is a rotated access token presented after the grace window;
	// it matches ErrLoginRequired.
	ErrReuse = fmt.Errorf("%w: a rotated token was presented again", ErrLoginRequired)
	// ErrBadCredentials is a login the provider refused (invalid_grant to
	// the password grant). Answered 401 invalid_grant.
	ErrBadCredentials = errors.New("refresh: wrong username or password")
	// ErrDenied is the provider denying the user what was asked, for a
	// reason the user can act on: access_denied (for example not a member
	// of the organization asked), mfa_required, consent_required, or an
	// unknown code with status 401 or 403. Answered 403 with the
	// provider's code.
	ErrDenied = errors.New("refresh: the identity provider denied the request")
	// ErrInvalidRequest is a request whose user-supplied part is
	// malformed: a login without username or password, an empty
	// authorization code, or the provider's invalid_request to a login or
	// a code exchange. Answered 400 with the code.
	ErrInvalidRequest = errors.New("refresh: malformed request")
	// ErrMisconfigured is the provider refusing the service's own request:
	// invalid_client, unauthorized_client, unsupported_grant_type,
	// invalid_scope, invalid_request to a refresh or a revocation, and any
	// other unknown refusal. Only the service's operator can fix it.
	// Answered 502 with the provider's code.
	ErrMisconfigured = errors.New("refresh: the identity provider refused the service's request (its configuration)")
	// ErrRateLimited is the provider asking the service to slow down (429
	// or too_many_requests). Answered 429 with the provider's Retry-After;
	// it comes wrapped in a *claims.RetryError when the provider gave one.
	ErrRateLimited = errors.New("refresh: the identity provider is rate-limiting the service")
	// ErrProviderUnavailable is the provider (token endpoint, revocation
	// endpoint or key set) not reached in time, failing (5xx) or answering
	// nonsense. Answered 503 naming the provider, with Retry-After.
	ErrProviderUnavailable error = &unavailable{"refresh: the identity provider is unavailable"}
	// ErrStoreUnavailable is the session store failing. Answered 503
	// naming the store, with Retry-After.
	ErrStoreUnavailable error = &unavailable{"refresh: the session store is unavailable"}
)

// unavailable is a sentinel that also matches claims.ErrUnavailable.
type unavailable struct{ msg string }

func (e *unavailable) Error() string        { return e.msg }
func (e *unavailable) Is(target error) bool { return target == claims.ErrUnavailable }

// ProviderError is an error answer of the provider's token or revocation
// endpoint: its HTTP status and OAuth error code (RFC 6749 §5.2), never its
// free text. It matches (errors.Is) the sentinel that says how the service
// answers it — ErrBadCredentials, ErrLoginRequired, ErrDenied,
// ErrInvalidRequest, ErrMisconfigured, ErrRateLimited or
// ErrProviderUnavailable; [Service.WriteError] passes Code on to the client.
type ProviderError struct {
	// Call is the call the provider answered: "password",
	// "authorization_code", "refresh_token" or "revocation".
	Call string
	// Status is the provider's HTTP status.
	Status int
	// Code is the provider's error code, such as "mfa_required"; empty when
	// it gave none, or one that is not a plain token of at most 64
	// letters, digits, '_', '-' and '.'.
	Code string
	kind error
}

// Error returns "refresh: the identity provider answered <status> <code>
// to <call>".
func (e *ProviderError) Error() string {
	return fmt.Sprintf("refresh: the identity provider answered %d %s to %s", e.Status, e.Code, e.Call)
}

// Is reports whether target is the sentinel e is answered as (or one that
// sentinel matches, such as claims.ErrUnavailable).
func (e *ProviderError) Is(target error) bool { return errors.Is(e.kind, target) }

// op is a request the service serves, as counted.
type op uint8

const (
	opLogin op = iota
	opCodeExchange
	opRefresh
	opLogout
	numOps
)

var opNames = [numOps]string{"login", "code_exchange", "refresh", "logout"}

// outcome is how a request or a provider call ended: a metric label, and
// the answer the handlers give.
type outcome uint8

const (
	outcomeOK                  outcome = iota
	outcomeLoginRequired               // 401
	outcomeReuse                       // 401: a rotated token replayed
	outcomeDenied                      // 403
	outcomeInvalidRequest              // 400
	outcomeMisconfigured               // 502
	outcomeRateLimited                 // 429
	outcomeProviderUnavailable         // 503
	outcomeStoreUnavailable            // 503
	outcomeCanceled                    // the caller left before an answer
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "login_required", "reuse", "denied", "invalid_request",
	"misconfigured", "rate_limited", "provider_unavailable", "store_unavailable", "canceled"}

// outcomeOf sorts err. An answer the provider or the service decided wins
// over the caller having left; otherwise a caller whose ctx has ended is
// canceled, not an outage. A nil ctx skips that check.
func outcomeOf(ctx context.Context, err error) outcome {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, ErrReuse):
		return outcomeReuse
	case errors.Is(err, ErrLoginRequired), errors.Is(err, ErrBadCredentials):
		return outcomeLoginRequired
	case errors.Is(err, ErrDenied):
		return outcomeDenied
	case errors.Is(err, ErrInvalidRequest):
		return outcomeInvalidRequest
	case errors.Is(err, ErrMisconfigured):
		return outcomeMisconfigured
	case errors.Is(err, ErrRateLimited):
		return outcomeRateLimited
	case ctx != nil && ctx.Err() != nil:
		return outcomeCanceled
	case errors.Is(err, ErrStoreUnavailable):
		return outcomeStoreUnavailable
	}
	return outcomeProviderUnavailable
}

// storeError marks a failure of the store.
func storeError(err error) error {
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}
