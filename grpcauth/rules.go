package grpcauth

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/authgate/authgate/claims"
)

// Rule is one authorization check on an authenticated call, made by one of
// the Require… functions. Attach rules to methods with Config.Methods, or
// check them inside a handler with Authorize. A refused check answers
// PermissionDenied with the reason INSUFFICIENT_SCOPE; a call with no
// Principal (let through by Config.Optional) is answered Unauthenticated.
// The zero Rule is not valid.
type Rule struct {
	check func(ctx context.Context, p *claims.Principal, msg any) *Error
	// perMessage rules read the request message: the unary request, or
	// each message a stream receives.
	perMessage bool
}

// RequireScopes lets a call through only if its token has every one of
// scopes; a refusal names them in the ErrorInfo's "scope" metadata.
func RequireScopes(scopes ...string) Rule {
	need, attr := slices.Clone(scopes), strings.Join(scopes, " ")
	return principalRule(func(p *claims.Principal) *Error {
		if p.Scopes.HasAll(need...) {
			return nil
		}
		return forbidden("the access token lacks a required scope", attr)
	})
}

// RequireAnyScope lets a call through if its token has at least one of
// scopes.
func RequireAnyScope(scopes ...string) Rule {
	need, attr := slices.Clone(scopes), strings.Join(scopes, " ")
	return principalRule(func(p *claims.Principal) *Error {
		if p.Scopes.HasAny(need...) {
			return nil
		}
		return forbidden("the access token has none of the accepted scopes", attr)
	})
}

// RequirePermissions lets a call through only if its token carries every
// one of perms (the RBAC permissions claim).
func RequirePermissions(perms ...string) Rule {
	need := slices.Clone(perms)
	return principalRule(func(p *claims.Principal) *Error {
		if p.Permissions.HasAll(need...) {
			return nil
		}
		return forbidden("the access token lacks a required permission", "")
	})
}

// RequireKind lets a call through only if its caller is of one of kinds: a
// user through a first-party app, a partner app acting for a user
// (delegated), or a machine.
func RequireKind(kinds ...claims.Kind) Rule {
	allowed := slices.Clone(kinds)
	return principalRule(func(p *claims.Principal) *Error {
		if slices.Contains(allowed, p.Kind) {
			return nil
		}
		return forbidden("this kind of caller may not make this request", "")
	})
}

// RequirePartners lets delegated calls through only from the partner apps
// listed in clientIDs; calls of other kinds pass unchecked (combine with
// RequireKind to refuse them).
func RequirePartners(clientIDs ...string) Rule {
	allowed := slices.Clone(clientIDs)
	return principalRule(func(p *claims.Principal) *Error {
		if p.Kind != claims.KindDelegated || slices.Contains(allowed, p.AuthorizedParty) {
			return nil
		}
		return forbidden("this partner app may not make this request", "")
	})
}

// RequireAudience lets a call through only if its token names at least one
// of audiences: for a service whose Authenticator accepts several APIs'
// tokens, it keeps a method to one API's.
func RequireAudience(audiences ...string) Rule {
	allowed := slices.Clone(audiences)
	return principalRule(func(p *claims.Principal) *Error {
		for _, aud := range p.Audience {
			if slices.Contains(allowed, aud) {
				return nil
			}
		}
		return forbidden("the access token is not for this API", "")
	})
}

// RequireOrganization lets a call through only if its token's organization
// id equals the one orgOf reads from the request message, such as
// func(_ context.Context, r *venuepb.BookRequest) string { return r.GetOrgId() }.
// This is the multi-tenant check: a token for one customer never reads
// another's data. On a stream it checks every message the handler
// receives, so a stream cannot switch tenants halfway. An empty
// organization on either side is refused, and so is a message that is not
// an M.
func RequireOrganization[M any](orgOf func(ctx context.Context, msg M) string) Rule {
	return Rule{perMessage: true, check: func(ctx context.Context, p *claims.Principal, msg any) *Error {
		if m, ok := msg.(M); ok {
			if org := orgOf(ctx, m); org != "" && p.OrgID == org {
				return nil
			}
		}
		return forbidden("the access token is not for this organization", "")
	}}
}

// Authorize checks rules against the Principal in ctx, and msg, the request
// message, for the rules that read one (RequireOrganization). It returns
// nil, or an *Error that a handler returns as it is:
//
//	if err := grpcauth.Authorize(ctx, req, grpcauth.RequireScopes("book:venues")); err != nil {
//		return nil, err
//	}
func Authorize(ctx context.Context, msg any, rules ...Rule) error {
	p, _ := claims.FromContext(ctx)
	if e := check(ctx, p, msg, rules); e != nil {
		return e
	}
	return nil
}

// check returns the refusal of the first rule that refuses.
func check(ctx context.Context, p *claims.Principal, msg any, rules []Rule) *Error {
	if len(rules) == 0 {
		return nil
	}
	if p == nil {
		return noPrincipal()
	}
	for _, r := range rules {
		if r.check == nil {
			return &Error{Code: codes.Internal, Description: "grpcauth: a zero Rule"}
		}
		if e := r.check(ctx, p, msg); e != nil {
			return e
		}
	}
	return nil
}

func principalRule(f func(*claims.Principal) *Error) Rule {
	return Rule{check: func(_ context.Context, p *claims.Principal, _ any) *Error { return f(p) }}
}

func noPrincipal() *Error {
	return &Error{Code: codes.Unauthenticated, Description: "a bearer token is required"}
}

func forbidden(description, scope string) *Error {
	return &Error{Code: codes.PermissionDenied, Reason: ReasonInsufficientScope, Description: description, Scope: scope}
}
