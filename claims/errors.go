package claims

import (
	"errors"
	"time"
)

// The two kinds of failure every layer must keep apart. An invalid token is
// the caller's fault and is answered with 401; an unavailable provider is
// nobody's fault, is answered with 503, and must never be cached or turned
// into a 401 later.
var (
	// ErrInvalidToken matches (errors.Is) every *TokenError.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnavailable is wrapped by errors that mean the token could not be
	// checked: the identity provider, its JWKS or another dependency could not
	// be reached or answered nonsense.
	ErrUnavailable = errors.New("token check unavailable")
)

// Reason says why a token was rejected.
type Reason uint8

// The reasons a token is rejected. Their String forms are short, stable and
// safe to show to a client or use as a metric label.
const (
	ReasonMalformed    Reason = iota + 1 // not a well-formed token or claims set
	ReasonExpired                        // exp has passed
	ReasonNotYetValid                    // nbf, or iat, is in the future
	ReasonBadSignature                   // the signature does not verify
	ReasonUnknownKey                     // no published key has the token's kid
	ReasonAlgorithm                      // alg not allowed, or not the key's
	ReasonIssuer                         // iss is not a configured issuer
	ReasonAudience                       // aud names none of the configured audiences
	ReasonType                           // the typ header is not the required one
	ReasonTooLarge                       // longer than the configured maximum
	ReasonInactive                       // the provider says the token is not active (revoked, expired, unknown)
)

var reasonNames = [...]string{
	ReasonMalformed:    "malformed",
	ReasonExpired:      "expired",
	ReasonNotYetValid:  "not_yet_valid",
	ReasonBadSignature: "bad_signature",
	ReasonUnknownKey:   "unknown_key",
	ReasonAlgorithm:    "algorithm",
	ReasonIssuer:       "issuer",
	ReasonAudience:     "audience",
	ReasonType:         "type",
	ReasonTooLarge:     "too_large",
	ReasonInactive:     "inactive",
}

// Reasons lists every Reason, for pre-creating metric series.
func Reasons() []Reason {
	rs := make([]Reason, 0, len(reasonNames)-1)
	for r := ReasonMalformed; int(r) < len(reasonNames); r++ {
		rs = append(rs, r)
	}
	return rs
}

// String returns the reason's short name, such as "expired".
func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "unknown"
}

// TokenError reports a token that is not acceptable. It matches
// ErrInvalidToken with errors.Is. Its message never contains the token.
type TokenError struct {
	Reason Reason
	// Err, when set, gives detail for logs; it is not meant for clients.
	Err error
}

// Invalid returns a *TokenError for reason with optional detail.
func Invalid(reason Reason, detail error) *TokenError {
	return &TokenError{Reason: reason, Err: detail}
}

// Error returns "invalid token: <reason>" followed by the detail, if any.
func (e *TokenError) Error() string {
	msg := "invalid token: " + e.Reason.String()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrInvalidToken.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

// Unwrap returns the detail error.
func (e *TokenError) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the *TokenError in err's chain, and false
// when err is not an invalid-token error.
func ReasonOf(err error) (Reason, bool) {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Reason, true
	}
	return 0, false
}

// RetryError is an unavailable answer that knows when to try again: a
// provider that asked to be left alone for a while (429 or 503 with
// Retry-After), an outbound budget that is spent, a key set that may be
// fetched again soon. It matches ErrUnavailable with errors.Is.
type RetryError struct {
	// After is how long the caller should wait before trying again; more
	// than zero.
	After time.Duration
	// Err is the cause, for logs.
	Err error
}

// Error returns "token check unavailable" followed by the cause, if any.
func (e *RetryError) Error() string {
	if e.Err == nil {
		return ErrUnavailable.Error()
	}
	return ErrUnavailable.Error() + ": " + e.Err.Error()
}

// Is reports whether target is ErrUnavailable.
func (e *RetryError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the cause.
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfterOf returns the wait of the *RetryError in err's chain, and false
// when there is none.
func RetryAfterOf(err error) (time.Duration, bool) {
	var re *RetryError
	if errors.As(err, &re) && re.After > 0 {
		return re.After, true
	}
	return 0, false
}
