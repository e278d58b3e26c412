package grpcauth

import (
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The reasons of a refusal: the error codes of RFC 6750 §3.1, and OAuth's
// temporarily_unavailable, as the HTTP middleware sends them. The status
// carries them upper-cased, as the ErrorInfo convention asks.
const (
	ReasonInvalidRequest         = "invalid_request"
	ReasonInvalidToken           = "invalid_token"
	ReasonInsufficientScope      = "insufficient_scope"
	ReasonTemporarilyUnavailable = "temporarily_unavailable"
)

// ErrorDomain is the Domain of the ErrorInfo detail of every refusal.
const ErrorDomain = "authgate"

// Error is a refusal: the error the interceptors, and Authorize, return
// instead of calling the handler. It becomes its gRPC status through
// GRPCStatus:
//
//	no token                        Unauthenticated
//	malformed authorization         InvalidArgument   INVALID_REQUEST
//	invalid token (too large, or
//	DPoP-bound without its proof)   Unauthenticated   INVALID_TOKEN
//	provider unreachable            Unavailable       TEMPORARILY_UNAVAILABLE, RetryInfo
//	rule refused                    PermissionDenied  INSUFFICIENT_SCOPE
//	client gone, deadline passed    Canceled, DeadlineExceeded
//
// the second column being the Reason of an errdetails.ErrorInfo in the
// status details (Domain ErrorDomain, metadata "scope" when a rule names
// scopes).
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is one of the Reason… constants; empty when no credentials were
	// sent (RFC 6750 §3.1) or the call ended.
	Reason string
	// Description is a short explanation, safe to show: the status message.
	Description string
	// Scope lists the scopes the call needs, for insufficient_scope.
	Scope string
	// RetryAfter is how long a client should wait before retrying an
	// Unavailable answer.
	RetryAfter time.Duration
	// Err is the cause, for logs. It is never sent to the client.
	Err error
}

// Error returns the description, prefixed "grpcauth: ". Like the status
// message it leaves out the cause, so that an interceptor that wraps it
// sends nothing more to the client.
func (e *Error) Error() string { return "grpcauth: " + e.Description }

// Unwrap returns the cause: errors.Is(err, claims.ErrUnavailable) tells a
// logging interceptor why a call was refused.
func (e *Error) Unwrap() error { return e.Err }

// GRPCStatus returns the status sent to the client: Code, Description as
// the message, an errdetails.ErrorInfo when there is a Reason, and an
// errdetails.RetryInfo with RetryAfter for Unavailable.
func (e *Error) GRPCStatus() *status.Status {
	s := status.New(e.Code, e.Description)
	var details []protoadapt.MessageV1
	if e.Reason != "" {
		info := &errdetails.ErrorInfo{Reason: strings.ToUpper(e.Reason), Domain: ErrorDomain}
		if e.Scope != "" {
			info.Metadata = map[string]string{"scope": e.Scope}
		}
		details = append(details, info)
	}
	if e.Code == codes.Unavailable && e.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)})
	}
	if len(details) == 0 {
		return s
	}
	if withDetails, err := s.WithDetails(details...); err == nil {
		return withDetails
	}
	return s
}
