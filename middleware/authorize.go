package middleware

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/authgate/authgate/claims"
)

// The Require… helpers authorize a request that Handler authenticated. Each
// returns a middleware that answers 403 insufficient_scope when its check
// fails, and 401 when the request carries no Principal (it was let through by
// Config.Optional, or Handler is missing from the chain).

// RequireScopes lets a request through only if its token has every one of
// scopes; a refusal names them in the challenge's scope attribute.
func (m *Middleware) RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	need, attr := slices.Clone(scopes), strings.Join(scopes, " ")
	return m.require(func(_ *http.Request, p *claims.Principal) *Error {
		if p.Scopes.HasAll(need...) {
			return nil
		}
		return forbidden("the access token lacks a required scope", attr)
	})
}

// RequireAnyScope lets a request through if its token has at least one of
// scopes.
func (m *Middleware) RequireAnyScope(scopes ...string) func(http.Handler) http.Handler {
	need, attr := slices.Clone(scopes), strings.Join(scopes, " ")
	return m.require(func(_ *http.Request, p *claims.Principal) *Error {
		if p.Scopes.HasAny(need...) {
			return nil
		}
		return forbidden("the access token has none of the accepted scopes", attr)
	})
}

// RequirePermissions lets a request through only if its token carries every
// one of perms (the RBAC permissions claim).
func (m *Middleware) RequirePermissions(perms ...string) func(http.Handler) http.Handler {
	need := slices.Clone(perms)
	return m.require(func(_ *http.Request, p *claims.Principal) *Error {
		if p.Permissions.HasAll(need...) {
			return nil
		}
		return forbidden("the access token lacks a required permission", "")
	})
}

// RequireAudience lets a request through only if its token names at least
// one of audiences: for a service whose Authenticator accepts several APIs'
// tokens, it keeps a route to one API's. A Principal without audiences (an
// opaque token checked at userinfo, which proves none) is refused.
func (m *Middleware) RequireAudience(audiences ...string) func(http.Handler) http.Handler {
	allowed := slices.Clone(audiences)
	return m.require(func(_ *http.Request, p *claims.Principal) *Error {
		if slices.ContainsFunc(p.Audience, func(a string) bool { return slices.Contains(allowed, a) }) {
			return nil
		}
		return forbidden("the access token is not for this API", "")
	})
}

// RequireOrganization lets a request through only if its token's
// organization id equals the one orgOf reads from the request, such as a
// path value: func(r *http.Request) string { return r.PathValue("org") }.
// This is the multi-tenant check: a token for one customer never reads
// another's data. An empty organization on either side is refused.
func (m *Middleware) RequireOrganization(orgOf func(*http.Request) string) func(http.Handler) http.Handler {
	return m.require(func(r *http.Request, p *claims.Principal) *Error {
		if org := orgOf(r); org != "" && p.OrgID == org {
			return nil
		}
		return forbidden("the access token is not for this organization", "")
	})
}

// RequireKind lets a request through only if its caller is of one of kinds:
// a user through a first-party app, a partner app acting for a user
// (delegated), or a machine.
func (m *Middleware) RequireKind(kinds ...claims.Kind) func(http.Handler) http.Handler {
	allowed := slices.Clone(kinds)
	return m.require(func(_ *http.Request, p *claims.Principal) *Error {
		if slices.Contains(allowed, p.Kind) {
			return nil
		}
		return forbidden("this kind of caller may not make this request", "")
	})
}

// RequirePartners lets delegated calls through only from the partner apps
// listed in clientIDs; calls of other kinds pass unchecked (combine with
// RequireKind to refuse them).
func (m *Middleware) RequirePartners(clientIDs ...string) func(http.Handler) http.Handler {
	allowed := slices.Clone(clientIDs)
	return m.require(func(_ *http.Request, p *claims.Principal) *Error {
		if p.Kind != claims.KindDelegated || slices.Contains(allowed, p.AuthorizedParty) {
			return nil
		}
		return forbidden("this partner app may not make this request", "")
	})
}

// IntegrationChecker says whether a user has enabled a partner app to act
// for them — for an organization, or for none when orgID is "". The
// integrations package's Service implements it.
type IntegrationChecker interface {
	IntegrationEnabled(ctx context.Context, subject, clientID, orgID string) (bool, error)
}

// RequireIntegration lets a delegated call through only when the user it
// acts for has enabled its partner app (the token's azp), for the token's
// organization (or for none, when the token has none); calls of other
// kinds pass unchecked. A partner the user has not enabled is refused 403
// insufficient_scope; a checker that fails is answered 503, as an
// unreachable provider is.
func (m *Middleware) RequireIntegration(c IntegrationChecker) func(http.Handler) http.Handler {
	return m.require(func(r *http.Request, p *claims.Principal) *Error {
		if p.Kind != claims.KindDelegated {
			return nil
		}
		switch ok, err := c.IntegrationEnabled(r.Context(), p.Subject, p.AuthorizedParty, p.OrgID); {
		case err != nil:
			return unavailable("the partner app's integration could not be checked; retry later", err)
		case !ok:
			return forbidden("the user has not enabled this partner app", "")
		}
		return nil
	})
}

func (m *Middleware) require(check func(*http.Request, *claims.Principal) *Error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := claims.FromContext(r.Context())
			if !ok {
				m.Refuse(w, r, &Error{Status: http.StatusUnauthorized})
				return
			}
			if e := check(r, p); e != nil {
				e.Scheme = schemeOf(r)
				m.Refuse(w, r, e)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func forbidden(description, scope string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Description: description, Scope: scope}
}
