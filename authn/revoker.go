package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/auth0mgmt"
	"github.com/authgate/authgate/internal/tracing"
	"github.com/authgate/authgate/refresh"
)

// ProviderGrants deletes at the identity provider what a user granted
// client apps: the consent, and with it every refresh token a client holds
// for the user — what ends a partner app's access for good, since the
// partner keeps its refresh tokens itself. [Auth0Grants] does it with
// Auth0's Management API.
type ProviderGrants interface {
	// DeleteGrants deletes subject's grants to clientID, or to every
	// client when clientID is "". Deleting what is not there is not an
	// error.
	DeleteGrants(ctx context.Context, subject, clientID string) error
}

// WithProviderGrants sets where Gate.RevokeSubject and Gate.RevokeGrant
// delete the user's grants at the provider. Default: none (the access
// tokens are refused and the service's own sessions ended, but refresh
// tokens a partner holds stay valid at the provider).
func WithProviderGrants(g ProviderGrants) Option {
	return optionFunc(func(o *options) { o.grants = g })
}

// Auth0GrantsConfig holds an Auth0Grants' settings. Domain, ClientID and
// ClientSecret are required.
type Auth0GrantsConfig struct {
	// Domain is the tenant's base URL, e.g. "https://tenant.auth0.com/"
	// (the issuer).
	Domain string
	// ClientID and ClientSecret are a machine client allowed the
	// Management API with read:grants and delete:grants.
	ClientID, ClientSecret string
	// MaxRetries is how many times a request answered 429 is tried again,
	// after the wait the API asks for. Default 3.
	MaxRetries int
	// MaxRetryWait caps each of those waits; a longer one is not waited
	// for. Default 5s.
	MaxRetryWait time.Duration
}

// Auth0Grants is ProviderGrants for Auth0: it lists the user's grants
// (GET /api/v2/grants?user_id=…&client_id=…) and deletes each (DELETE
// /api/v2/grants/{id}), which revokes every refresh token the user holds
// through that client. Its management token comes from the
// client-credentials grant and is reused until it expires; a 429 is
// retried after its Retry-After. It is safe for concurrent use.
type Auth0Grants struct {
	api *auth0mgmt.Client
}

// NewAuth0Grants returns an Auth0Grants for cfg; WithHTTPClient sets its
// HTTP client, and WithTracerProvider makes a client span of each call to
// the Management API (other options are ignored).
func NewAuth0Grants(cfg Auth0GrantsConfig, opts ...Option) (*Auth0Grants, error) {
	o := defaultOptions(opts)
	client := o.httpClient
	if client == nil && o.tracer != nil {
		client = &http.Client{Timeout: 10 * time.Second} // auth0mgmt's default
	}
	api, err := auth0mgmt.New(auth0mgmt.Config{
		Domain: cfg.Domain, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		MaxRetries: cfg.MaxRetries, MaxRetryWait: cfg.MaxRetryWait, HTTPClient: tracing.Client(client, o.tracer),
	})
	if err != nil {
		return nil, fmt.Errorf("authn: Auth0GrantsConfig: %w", err)
	}
	return &Auth0Grants{api: api}, nil
}

// DeleteGrants implements ProviderGrants. Errors match
// claims.ErrUnavailable.
func (g *Auth0Grants) DeleteGrants(ctx context.Context, subject, clientID string) error {
	gs, err := g.api.Grants(ctx, subject, clientID)
	if err != nil {
		return fmt.Errorf("authn: listing grants at the provider: %w", err)
	}
	var errs []error
	for _, gr := range gs {
		if err := g.api.DeleteGrant(ctx, gr.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("authn: deleting grants at the provider: %w", err)
	}
	return nil
}

// Revoker revokes everywhere a user's access lives: the access tokens,
// through the Authenticator's marks (see RevokeSubject); the service's own
// sessions, in the refresh service; and the grants at the provider. Only
// Authenticator is required. Setup's Gate has one; build one to combine
// pieces made by hand. It is safe for concurrent use.
type Revoker struct {
	Authenticator *Authenticator
	Sessions      *refresh.Service // nil: no server-side sessions
	Grants        ProviderGrants   // nil: nothing is deleted at the provider
}

// RevokeSubject cuts off a user (an employee who leaves, a compromised
// account): the tokens issued to subject before before (zero: now) are
// refused on every instance (Authenticator.RevokeSubject), every session
// the user holds in the refresh service is ended and its refresh token
// revoked at the provider (refresh.Service.EndSubject), and the user's
// grants to every client are deleted at the provider, so that no partner
// can refresh its way to new tokens. The marks come first: an error later
// leaves the tokens refused, and a retry finishes the rest. An error
// matching ErrBadRevocation means nothing was done.
func (r *Revoker) RevokeSubject(ctx context.Context, subject string, before time.Time) error {
	err := r.Authenticator.RevokeSubject(ctx, subject, before)
	if errors.Is(err, ErrBadRevocation) {
		return err
	}
	return errors.Join(err, r.endSessions(ctx, subject, ""), r.deleteGrants(ctx, subject, ""))
}

// RevokeGrant cuts off one client acting for one user — a partner app the
// user disabled: its tokens for subject issued before before (zero: now)
// are refused on every instance, the user's sessions through that client
// in the refresh service end, and the user's grant to the client is
// deleted at the provider, which revokes the refresh tokens the partner
// holds. Errors as for RevokeSubject.
func (r *Revoker) RevokeGrant(ctx context.Context, subject, clientID string, before time.Time) error {
	err := r.Authenticator.RevokeGrant(ctx, subject, clientID, before)
	if errors.Is(err, ErrBadRevocation) {
		return err
	}
	return errors.Join(err, r.endSessions(ctx, subject, clientID), r.deleteGrants(ctx, subject, clientID))
}

// RevokeOrganization refuses every token of the organization issued
// before before (zero: now) on every instance. Sessions are not indexed by
// organization: a member's session cannot refresh its revoked token (the
// refresh service checks the revocation, with the Authenticator as its
// token cache), and ends when it tries.
func (r *Revoker) RevokeOrganization(ctx context.Context, orgID string, before time.Time) error {
	return r.Authenticator.RevokeOrganization(ctx, orgID, before)
}

func (r *Revoker) endSessions(ctx context.Context, subject, clientID string) error {
	if r.Sessions == nil {
		return nil
	}
	var err error
	if clientID == "" {
		_, err = r.Sessions.EndSubject(ctx, subject)
	} else {
		_, err = r.Sessions.EndGrant(ctx, subject, clientID)
	}
	if err != nil {
		return fmt.Errorf("authn: ending sessions: %w", err)
	}
	return nil
}

func (r *Revoker) deleteGrants(ctx context.Context, subject, clientID string) error {
	if r.Grants == nil {
		return nil
	}
	return r.Grants.DeleteGrants(ctx, subject, clientID)
}

// Revoker returns the Gate's Revoker: its Authenticator, its refresh
// service and the ProviderGrants given with WithProviderGrants.
func (g *Gate) Revoker() *Revoker {
	return &Revoker{Authenticator: g.Authenticator, Sessions: g.Refresh, Grants: g.Authenticator.o.grants}
}

// RevokeSubject is Revoker.RevokeSubject of the Gate's pieces.
func (g *Gate) RevokeSubject(ctx context.Context, subject string, before time.Time) error {
	return g.Revoker().RevokeSubject(ctx, subject, before)
}

// RevokeGrant is Revoker.RevokeGrant of the Gate's pieces.
func (g *Gate) RevokeGrant(ctx context.Context, subject, clientID string, before time.Time) error {
	return g.Revoker().RevokeGrant(ctx, subject, clientID, before)
}

// RevokeOrganization is Revoker.RevokeOrganization of the Gate's pieces.
func (g *Gate) RevokeOrganization(ctx context.Context, orgID string, before time.Time) error {
	return g.Revoker().RevokeOrganization(ctx, orgID, before)
}
