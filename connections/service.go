package connections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/claims"
)

// Status says whether a connection can be used.
type Status string

// The statuses of a connection.
const (
	// StatusConnected: the service holds a grant it can use.
	StatusConnected Status = "connected"
	// StatusDisconnected: the party refused the grant (the user revoked
	// it there, or it expired) or the record is unreadable; the user must
	// connect again.
	StatusDisconnected Status = "disconnected"
)

// Connection is what a user may see of one of their connections: never a
// token.
type Connection struct {
	Party       string    `json:"party"`
	Status      Status    `json:"status"`
	Scopes      []string  `json:"scopes,omitempty"`
	ConnectedAt time.Time `json:"connected_at"`
	// Reason says why a disconnected connection is.
	Reason string `json:"reason,omitempty"`
}

// ErrReconnect is matched by every *ReconnectError.
var ErrReconnect = errors.New("connections: the user must connect again")

// ReconnectError says the user must connect Party (again) before the
// service can act for them there: there is no connection, the party
// refused the grant (invalid_grant: revoked by the user, expired), or the
// stored grant is unreadable. It matches ErrReconnect.
type ReconnectError struct {
	Party  string
	Reason string
}

// Error returns "connections: the user must connect to <party> again:
// <reason>".
func (e *ReconnectError) Error() string {
	return "connections: the user must connect to " + e.Party + " again: " + e.Reason
}

// Is reports whether target is ErrReconnect.
func (e *ReconnectError) Is(target error) bool { return target == ErrReconnect }

// Reasons a ReconnectError gives.
const (
	reasonNotConnected = "not connected"
	reasonRefused      = "the party refused the grant (revoked or expired)"
	reasonUnreadable   = "the stored grant is unreadable"
)

// Other errors of the Service.
var (
	// ErrUnknownParty is a party name the Service was not configured with.
	ErrUnknownParty = errors.New("connections: unknown party")
	// ErrCodeRefused is an authorization code the party would not
	// exchange (expired, used, or the PKCE verifier did not match).
	ErrCodeRefused = errors.New("connections: the party refused the authorization code")
	// ErrNoRefreshToken is a successful exchange without a refresh token:
	// the party needs offline_access (or its equivalent) in Party.Scopes.
	ErrNoRefreshToken = errors.New("connections: the party issued no refresh token; ask for offline_access")
)

// Service holds users' grants at third parties: it connects them
// (authorization code with PKCE), keeps their refresh tokens sealed in a
// Store, hands out short-lived access tokens shared by every instance, and
// disconnects them. It is safe for concurrent use.
type Service struct {
	store   Store
	cache   Cache
	keys    *keys
	cfg     Config
	parties map[string]*party
	flight  flight
	o       options
	m       *instruments
}

// party is one configured Party with its flow and token-endpoint client.
type party struct {
	flow     *Flow
	provider *provider
}

// New returns a Service keeping grants in store and access tokens,
// pending authorizations and locks in cache.
func New(store Store, cache Cache, cfg Config, opts ...Option) (*Service, error) {
	if store == nil || cache == nil {
		return nil, errors.New("connections: New needs a Store and a Cache")
	}
	if err := cfg.FlowConfig.check(); err != nil {
		return nil, err
	}
	if len(cfg.Parties) == 0 {
		return nil, errors.New("connections: Config.Parties is empty")
	}
	if cfg.RefreshBefore < 0 || cfg.Timeout < 0 {
		return nil, errors.New("connections: negative duration in Config")
	}
	cfg.RefreshBefore = orDuration(cfg.RefreshBefore, time.Minute)
	cfg.Timeout = orDuration(cfg.Timeout, 10*time.Second)
	k, err := newKeys(cfg.FlowConfig)
	if err != nil {
		return nil, err
	}
	o := newOptions(opts)
	s := &Service{store: store, cache: cache, keys: k, cfg: cfg, parties: map[string]*party{}, o: o, m: newInstruments(o.reg)}
	for _, p := range cfg.Parties {
		if err := p.check(true); err != nil {
			return nil, err
		}
		if _, dup := s.parties[p.Name]; dup {
			return nil, fmt.Errorf("connections: party %s given twice", p.Name)
		}
		s.parties[p.Name] = &party{
			flow:     newFlow(cache, p, k, cfg.StateTTL, o),
			provider: &provider{party: p, oauth: oauthConfig(p), client: o.httpClient},
		}
	}
	return s, nil
}

func (s *Service) party(name string) (*party, error) {
	p, ok := s.parties[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownParty, name)
	}
	return p, nil
}

// Connect starts connecting subject to partyName and returns the URL of
// the party's consent page, to send the user's browser to. The state in it
// is bound to subject and works once, within StateTTL.
func (s *Service) Connect(ctx context.Context, subject, partyName string, req AuthRequest) (string, error) {
	p, err := s.party(partyName)
	if err != nil {
		return "", err
	}
	if subject == "" {
		return "", errors.New("connections: Connect needs a subject")
	}
	return p.flow.Start(ctx, subject, req)
}

// Complete finishes connecting subject to partyName with the callback the
// party's redirect brought: the state must be one Connect issued to
// subject for that party; the code is exchanged (with the PKCE verifier)
// and the grant stored, replacing an earlier one (whose refresh token is
// then revoked). A declined consent (an *AuthorizationError matching
// ErrAccessDenied), a refused state (ErrInvalidState) or code
// (ErrCodeRefused) stores nothing.
func (s *Service) Complete(ctx context.Context, subject, partyName string, cb Callback) (*Connection, error) {
	c, outcome, err := s.complete(ctx, subject, partyName, cb)
	s.m.connects.WithLabelValues(outcome).Inc()
	return c, err
}

func (s *Service) complete(ctx context.Context, subject, partyName string, cb Callback) (*Connection, string, error) {
	p, err := s.party(partyName)
	if err != nil {
		return nil, "invalid_state", err
	}
	a, err := p.flow.Finish(ctx, subject, cb)
	switch {
	case errors.Is(err, claims.ErrUnavailable):
		return nil, "unavailable", err
	case errors.As(err, new(*AuthorizationError)):
		return nil, "denied", err
	case err != nil:
		return nil, "invalid_state", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	tok, err := p.provider.exchange(ctx, a)
	switch {
	case errors.Is(err, errInvalidGrant):
		return nil, "refused", ErrCodeRefused
	case err != nil:
		return nil, "unavailable", err
	case tok.RefreshToken == "":
		return nil, "refused", ErrNoRefreshToken
	}
	now := s.o.now()
	g := &grant{Status: StatusConnected, RefreshToken: tok.RefreshToken, ConnectedAt: now.UnixMilli()}
	g.setAccess(tok, now)
	old, err := s.write(ctx, subject, partyName, g)
	if err != nil {
		// The new refresh token has no home: revoke it rather than leave
		// it valid with nobody holding it.
		s.revoke(ctx, p, tok.RefreshToken)
		return nil, "unavailable", err
	}
	if old != nil && old.RefreshToken != "" && old.RefreshToken != tok.RefreshToken {
		s.revoke(ctx, p, old.RefreshToken)
	}
	return g.connection(partyName), "ok", nil
}

// write stores g as subject's connection to partyName whatever was there,
// and returns what was (nil if nothing, or unreadable). It also caches the
// access token.
func (s *Service) write(ctx context.Context, subject, partyName string, g *grant) (*grant, error) {
	for range 3 {
		var old *grant
		version := int64(1)
		rec, err := s.store.Get(ctx, subject, partyName)
		switch {
		case err == nil:
			version = rec.Version + 1
			old, _ = s.open(rec)
		case !errors.Is(err, ErrNotFound):
			return nil, storeErr(err)
		}
		err = s.put(ctx, subject, partyName, version, g)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return old, err
	}
	return nil, fmt.Errorf("connections: store: %w: the record kept changing", claims.ErrUnavailable)
}

// put seals g as version of subject's connection to partyName, stores it,
// and caches its access token.
func (s *Service) put(ctx context.Context, subject, partyName string, version int64, g *grant) error {
	g.Layout = grantLayout
	sealed, err := s.keys.sealJSON(g, grantAD(subject, partyName, version))
	if err != nil {
		return err
	}
	if err := s.store.Put(ctx, Record{Subject: subject, Party: partyName, Version: version, Data: sealed}); err != nil {
		if errors.Is(err, ErrConflict) {
			return err
		}
		return storeErr(err)
	}
	s.cacheToken(ctx, subject, partyName, g)
	return nil
}

// open opens a stored record.
func (s *Service) open(rec Record) (*grant, error) {
	var g grant
	if err := s.keys.openJSON(rec.Data, grantAD(rec.Subject, rec.Party, rec.Version), &g); err != nil || g.Layout != grantLayout {
		s.m.rejected.Inc()
		s.o.logger.Warn("connections: a stored grant was refused (tampered, moved or unknown key)", zap.String("party", rec.Party))
		return nil, errUnreadable
	}
	return &g, nil
}

// load reads and opens subject's connection to partyName. A missing or
// unreadable record is a *ReconnectError.
func (s *Service) load(ctx context.Context, subject, partyName string) (Record, *grant, error) {
	rec, err := s.store.Get(ctx, subject, partyName)
	if errors.Is(err, ErrNotFound) {
		return rec, nil, &ReconnectError{Party: partyName, Reason: reasonNotConnected}
	}
	if err != nil {
		return rec, nil, storeErr(err)
	}
	g, err := s.open(rec)
	if err != nil {
		return rec, nil, &ReconnectError{Party: partyName, Reason: reasonUnreadable}
	}
	return rec, g, nil
}

// List returns subject's connections, sorted by party.
func (s *Service) List(ctx context.Context, subject string) ([]Connection, error) {
	recs, err := s.store.List(ctx, subject)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]Connection, 0, len(recs))
	for _, rec := range recs {
		g, err := s.open(rec)
		if err != nil {
			out = append(out, Connection{Party: rec.Party, Status: StatusDisconnected, Reason: reasonUnreadable})
			continue
		}
		out = append(out, *g.connection(rec.Party))
	}
	slices.SortFunc(out, func(a, b Connection) int { return strings.Compare(a.Party, b.Party) })
	return out, nil
}

// Disconnect ends subject's connection to partyName: the refresh token is
// revoked at the party (RFC 7009, when it has a revocation endpoint), then
// the record and the cached access token are deleted. When the party
// cannot be reached the connection is left as it was and the error
// matches claims.ErrUnavailable: try again. Disconnecting what is not
// connected is not an error. An access token the party already issued
// stays valid there until it expires.
func (s *Service) Disconnect(ctx context.Context, subject, partyName string) error {
	p, err := s.party(partyName)
	if err != nil {
		return err
	}
	return s.withLock(ctx, subject, partyName, func(ctx context.Context) error {
		_, g, err := s.load(ctx, subject, partyName)
		if errors.Is(err, ErrReconnect) {
			g, err = &grant{}, nil // nothing usable to revoke: just forget
		}
		if err != nil {
			return err
		}
		if err := p.provider.revoke(ctx, g.RefreshToken); err != nil {
			return err
		}
		return s.forget(ctx, subject, partyName)
	})
}

// Deprovision ends every connection of subject, for a user who left: each
// refresh token is revoked at its party where possible, and every record
// is deleted even when its party cannot be reached (those failures are
// logged and counted). It returns how many connections it deleted.
func (s *Service) Deprovision(ctx context.Context, subject string) (int, error) {
	recs, err := s.store.List(ctx, subject)
	if err != nil {
		return 0, storeErr(err)
	}
	n := 0
	for _, rec := range recs {
		err := s.withLock(ctx, subject, rec.Party, func(ctx context.Context) error {
			if p, ok := s.parties[rec.Party]; ok {
				if _, g, err := s.load(ctx, subject, rec.Party); err == nil {
					s.revoke(ctx, p, g.RefreshToken)
				}
			}
			return s.forget(ctx, subject, rec.Party)
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// forget deletes a connection's record and cached access token.
func (s *Service) forget(ctx context.Context, subject, partyName string) error {
	if err := s.store.Delete(ctx, subject, partyName); err != nil {
		return storeErr(err)
	}
	if err := s.cache.Delete(ctx, s.keys.name("token", subject, partyName)); err != nil && !errors.Is(err, ErrCacheMiss) {
		s.o.logger.Warn("connections: could not delete a cached access token; it expires on its own", zap.Error(err))
	}
	return nil
}

// revoke revokes a refresh token at p, logging and counting a failure.
func (s *Service) revoke(ctx context.Context, p *party, refreshToken string) {
	if err := p.provider.revoke(ctx, refreshToken); err != nil {
		s.m.unrevoked.Inc()
		s.o.logger.Warn("connections: revoking a refresh token failed; it is forgotten here", zap.String("party", p.flow.party.Name), zap.Error(err))
	}
}

func storeErr(err error) error {
	if errors.Is(err, claims.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("connections: store: %w: %w", claims.ErrUnavailable, err)
}

// defaultAccessTTL is the life assumed for an access token whose answer
// had no expires_in.
const defaultAccessTTL = 5 * time.Minute

// grantLayout is the version of the grant layout inside the seal.
const grantLayout = 1

// grant is a connection as sealed in its record.
type grant struct {
	Layout       int    `json:"v"`
	Status       Status `json:"status"`
	Reason       string `json:"reason,omitempty"`
	RefreshToken string `json:"rt,omitempty"`
	AccessToken  string `json:"at,omitempty"`
	TokenType    string `json:"tt,omitempty"`
	Expiry       int64  `json:"exp,omitempty"` // Unix milliseconds
	Scope        string `json:"scope,omitempty"`
	ConnectedAt  int64  `json:"connected"` // Unix milliseconds
}

// setAccess takes the access token of a token answer received at now. The
// expiry comes from expires_in on the Service's clock (x/oauth2's Expiry is
// on the real clock).
func (g *grant) setAccess(tok *oauth2.Token, now time.Time) {
	g.AccessToken, g.TokenType = tok.AccessToken, tok.Type()
	switch {
	case tok.ExpiresIn > 0:
		g.Expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second).UnixMilli()
	case !tok.Expiry.IsZero():
		g.Expiry = now.Add(time.Until(tok.Expiry)).UnixMilli()
	default:
		// No expires_in: assume a short life rather than forever.
		g.Expiry = now.Add(defaultAccessTTL).UnixMilli()
	}
	if sc, ok := tok.Extra("scope").(string); ok && sc != "" {
		g.Scope = sc
	}
}

func (g *grant) connection(partyName string) *Connection {
	return &Connection{Party: partyName, Status: g.Status, Scopes: strings.Fields(g.Scope),
		ConnectedAt: time.UnixMilli(g.ConnectedAt).UTC(), Reason: g.Reason}
}
