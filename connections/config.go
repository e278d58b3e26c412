package connections

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Key is an AES-256 key for sealing grants at rest. ID goes into every
// sealed record, so keys can rotate: the first key of
// FlowConfig.EncryptionKeys seals, every listed key opens.
type Key struct {
	ID     byte
	Secret []byte // 32 bytes
}

// Party is an OAuth 2.0 authorization server and the service's client
// there: a third party the service acts at for its users, or the service's
// own provider for the login flow.
type Party struct {
	// Name identifies the party in records, cache names and errors, e.g.
	// "roomsmart": 1 to 63 characters of a-z, 0-9, '_' and '-', starting
	// with a letter or digit. Renaming a party orphans its connections.
	Name string
	// Issuer, when set, is the party's issuer identifier (its discovery
	// document's issuer). A callback that carries iss (RFC 9207) must name
	// it exactly: a service that talks to several authorization servers
	// then refuses one server's answer sent to another's callback.
	Issuer string
	// IssuerInCallback says the party puts iss in every authorization
	// response (its metadata's authorization_response_iss_parameter_supported):
	// a callback without it is refused. It needs Issuer.
	IssuerInCallback bool
	// AuthURL is the authorization endpoint, e.g.
	// "https://tenant.auth0.com/authorize".
	AuthURL string
	// TokenURL is the token endpoint (not needed by a Flow alone).
	TokenURL string
	// RevocationURL is the RFC 7009 endpoint, if the party has one:
	// disconnecting revokes the refresh token there first.
	RevocationURL string
	// ClientID and ClientSecret are the service's client at the party;
	// the secret is sent with HTTP Basic authentication.
	ClientID, ClientSecret string
	// RedirectURL is where the party sends the user back, registered
	// with the party as a callback URL.
	RedirectURL string
	// Scopes are asked for, and nothing more: the narrowest set the
	// service needs, plus offline_access (or the party's equivalent) for a
	// refresh token.
	Scopes []string
	// Audience, when set, is sent as Auth0's audience parameter, so that
	// the access tokens are JWTs for that API.
	Audience string
}

var partyName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (p Party) check(needToken bool) error {
	if !partyName.MatchString(p.Name) {
		return fmt.Errorf("connections: party name %q: want 1-63 of a-z 0-9 _ -", p.Name)
	}
	urls := map[string]string{"AuthURL": p.AuthURL, "RedirectURL": p.RedirectURL}
	if needToken {
		urls["TokenURL"] = p.TokenURL
	}
	if p.RevocationURL != "" {
		urls["RevocationURL"] = p.RevocationURL
	}
	for field, u := range urls {
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Host == "" {
			return fmt.Errorf("connections: party %s: %s must be an absolute URL", p.Name, field)
		}
	}
	if p.IssuerInCallback && p.Issuer == "" {
		return fmt.Errorf("connections: party %s: IssuerInCallback needs the Issuer", p.Name)
	}
	if p.ClientID == "" || (needToken && p.ClientSecret == "") {
		return fmt.Errorf("connections: party %s needs ClientID and ClientSecret", p.Name)
	}
	return nil
}

// FlowConfig holds what a Flow needs beside its Party: where pending
// authorizations are named and how they are sealed. Namespace, HashKey and
// EncryptionKeys are required.
type FlowConfig struct {
	// Namespace separates environments and services that share memcached,
	// e.g. "prod/venue-api".
	Namespace string
	// HashKey (at least 32 bytes, the same on every instance) keys the
	// hash that names cache entries and locks, so memcached sees neither
	// subjects nor states.
	HashKey []byte
	// EncryptionKeys seal grants and pending authorizations: the first
	// seals, all open.
	EncryptionKeys []Key
	// StateTTL is how long a started authorization can be completed.
	// Default 10 minutes.
	StateTTL time.Duration
}

// Config holds the Service's settings. FlowConfig's required fields and at
// least one Party are required; other zero values are documented defaults.
type Config struct {
	FlowConfig
	// Parties are the third parties users can connect to.
	Parties []Party
	// RefreshBefore is how long before its expiry an access token is
	// refreshed. Until it has expired, callers that find another instance
	// refreshing keep using it rather than wait. Default 1 minute.
	RefreshBefore time.Duration
	// Timeout bounds each call to a party and to the store. Default 10s.
	Timeout time.Duration
}

func (c *FlowConfig) check() error {
	switch {
	case c.Namespace == "":
		return errors.New("connections: Namespace is required")
	case len(c.HashKey) < 32:
		return errors.New("connections: HashKey must be at least 32 bytes")
	case c.StateTTL < 0:
		return errors.New("connections: negative StateTTL")
	}
	c.StateTTL = orDuration(c.StateTTL, 10*time.Minute)
	return nil
}

// Option configures collaborators of a Service, a Flow or a store.
type Option interface{ apply(*options) }

type options struct {
	httpClient *http.Client
	logger     *zap.Logger
	reg        prometheus.Registerer
	now        func() time.Time
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

func newOptions(opts []Option) options {
	o := options{logger: zap.NewNop(), now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.httpClient == nil {
		o.httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	return o
}

// WithHTTPClient sets the client for calls to parties and to the
// Management API. Default: one with a 10-second timeout.
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o *options) { o.httpClient = c })
}

// WithLogger sets the logger. Default: zap.NewNop(). Tokens are never
// logged.
func WithLogger(l *zap.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// WithRegisterer registers the Service's metrics on reg. Default: none.
func WithRegisterer(reg prometheus.Registerer) Option {
	return optionFunc(func(o *options) { o.reg = reg })
}

// WithClock sets the clock that judges expiries (access tokens, pending
// authorizations, locks). Default: time.Now.
func WithClock(now func() time.Time) Option { return optionFunc(func(o *options) { o.now = now }) }

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
