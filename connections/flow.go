package connections

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/claims"
)

// AuthRequest adds per-request parameters to an authorization URL.
type AuthRequest struct {
	// Organization, when set, is sent as Auth0's organization parameter
	// (an ID or a name): the user logs in to that organization.
	Organization string
	// LoginHint, when set, is sent as login_hint (OpenID Connect): the
	// username or email the login page is filled in with.
	LoginHint string
}

// Callback is what an authorization server's redirect back carries
// (RFC 6749 §4.1.2): a code and the state, or an error and the state; and,
// from servers that send it, the issuer (RFC 9207's iss).
type Callback struct {
	Code, State             string
	Error, ErrorDescription string
	Issuer                  string
}

// Authorization is a callback that passed every check: what the code
// exchange needs.
type Authorization struct {
	Code         string
	CodeVerifier string // PKCE (RFC 7636)
	RedirectURI  string
	Organization string // as asked at Start
}

// Errors of the authorization steps.
var (
	// ErrBadCallback is a callback whose parameters are malformed.
	ErrBadCallback = errors.New("connections: malformed callback")
	// ErrInvalidState is matched by every refused state.
	ErrInvalidState = errors.New("connections: invalid state")
	// ErrStateUnknown is a state that was never issued, has expired, or
	// was used already (a replay). It matches ErrInvalidState.
	ErrStateUnknown = fmt.Errorf("%w: unknown, expired or already used", ErrInvalidState)
	// ErrStateForeign is a state issued for another user (or browser) or
	// party; it is spent all the same. It matches ErrInvalidState.
	ErrStateForeign = fmt.Errorf("%w: issued for another user or party", ErrInvalidState)
	// ErrIssuerMismatch is a callback whose iss (RFC 9207) is not the
	// Party's Issuer, or that has none from a Party that always sends it:
	// the answer of another authorization server (a mix-up attack). The
	// state is spent. It matches ErrBadCallback.
	ErrIssuerMismatch = fmt.Errorf("%w: iss is not the party's issuer (RFC 9207)", ErrBadCallback)
	// ErrAccessDenied is matched by an AuthorizationError whose code is
	// access_denied: the user declined.
	ErrAccessDenied = errors.New("connections: access denied")
)

// AuthorizationError is an error the authorization server sent back in the
// callback (RFC 6749 §4.1.2.1), such as access_denied when the user
// declined. Code and Description are what the server said.
type AuthorizationError struct {
	Party       string
	Code        string
	Description string
}

// Error returns "connections: <party> answered <code>: <description>".
func (e *AuthorizationError) Error() string {
	msg := "connections: " + e.Party + " answered " + e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Is reports whether target is ErrAccessDenied and the code access_denied.
func (e *AuthorizationError) Is(target error) bool {
	return target == ErrAccessDenied && e.Code == "access_denied"
}

// Limits on callback parameters: codes and states are short; anything
// longer is not from a real server.
const (
	maxCallbackValue  = 2048
	maxCallbackFields = 16
)

// ParseCallback reads a redirect's query parameters. It refuses repeated
// parameters, values over 2 KB or with control characters, an error code
// outside RFC 6749's character set, and an answer with neither or both of
// code and error; state is required. An iss parameter is read into
// Callback.Issuer, for Finish to check.
func ParseCallback(q url.Values) (Callback, error) {
	if len(q) > maxCallbackFields {
		return Callback{}, fmt.Errorf("%w: too many parameters", ErrBadCallback)
	}
	one := func(name string) (string, error) {
		vs := q[name]
		switch {
		case len(vs) == 0:
			return "", nil
		case len(vs) > 1:
			return "", fmt.Errorf("%w: %s given %d times", ErrBadCallback, name, len(vs))
		case len(vs[0]) > maxCallbackValue:
			return "", fmt.Errorf("%w: %s too long", ErrBadCallback, name)
		case strings.ContainsFunc(vs[0], func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return "", fmt.Errorf("%w: control character in %s", ErrBadCallback, name)
		}
		return vs[0], nil
	}
	var cb Callback
	for _, f := range []struct {
		name string
		dst  *string
	}{{"code", &cb.Code}, {"state", &cb.State}, {"error", &cb.Error}, {"error_description", &cb.ErrorDescription}, {"iss", &cb.Issuer}} {
		v, err := one(f.name)
		if err != nil {
			return Callback{}, err
		}
		*f.dst = v
	}
	switch {
	case cb.State == "":
		return Callback{}, fmt.Errorf("%w: no state", ErrBadCallback)
	case (cb.Code == "") == (cb.Error == ""):
		return Callback{}, fmt.Errorf("%w: want a code or an error", ErrBadCallback)
	case strings.ContainsFunc(cb.Error, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '"' || r == '\\' }):
		return Callback{}, fmt.Errorf("%w: error code outside RFC 6749's characters", ErrBadCallback)
	}
	return cb, nil
}

// Flow runs the authorization-code flow with PKCE (S256) and state against
// one Party. Start returns the authorization URL and keeps, in the Cache,
// what the callback needs (sealed, under a keyed hash of the state) for
// StateTTL; Finish takes it back once — a state works a single time —
// checks that it was issued to the same binding, and returns the code and
// the PKCE verifier for the exchange. The binding is whatever the caller
// ties an authorization to: the user's subject when connecting a third
// party, a random value in a browser cookie when logging in.
//
// A Flow makes no token request itself: [Service] exchanges the codes of
// third parties, and the service's own login hands its code to the
// refresh package. A Flow is safe for concurrent use.
type Flow struct {
	party  Party
	oauth  oauth2.Config
	cache  Cache
	keys   *keys
	ttl    time.Duration
	now    func() time.Time
	logger *zap.Logger
}

// NewFlow returns a Flow for party that keeps pending authorizations in
// cache. Of cfg it needs Namespace, HashKey, EncryptionKeys and StateTTL.
func NewFlow(cache Cache, party Party, cfg FlowConfig, opts ...Option) (*Flow, error) {
	if cache == nil {
		return nil, errors.New("connections: NewFlow needs a Cache")
	}
	if err := party.check(false); err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	k, err := newKeys(cfg)
	if err != nil {
		return nil, err
	}
	o := newOptions(opts)
	return newFlow(cache, party, k, cfg.StateTTL, o), nil
}

func newFlow(cache Cache, party Party, k *keys, ttl time.Duration, o options) *Flow {
	return &Flow{party: party, oauth: oauthConfig(party), cache: cache, keys: k, ttl: ttl, now: o.now, logger: o.logger}
}

// pending is a started authorization, as kept (sealed) until its callback.
type pending struct {
	Binding      string `json:"b"`
	Party        string `json:"p"`
	Verifier     string `json:"v"`
	Organization string `json:"org,omitempty"`
	Expires      int64  `json:"exp"` // Unix milliseconds
}

// Start begins an authorization bound to binding (non-empty) and returns
// the URL to send the user's browser to. The URL asks for the Party's
// scopes and audience, and req's organization and login hint.
func (f *Flow) Start(ctx context.Context, binding string, req AuthRequest) (string, error) {
	if binding == "" {
		return "", errors.New("connections: Start needs a binding (the user's subject, or a browser's cookie)")
	}
	state := rand.Text() + rand.Text() // 52 base32 characters, 260 bits
	verifier := oauth2.GenerateVerifier()
	name := f.keys.name("state", state)
	p := pending{Binding: binding, Party: f.party.Name, Verifier: verifier, Organization: req.Organization,
		Expires: f.now().Add(f.ttl).UnixMilli()}
	sealed, err := f.keys.sealJSON(p, stateAD(name))
	if err != nil {
		return "", err
	}
	if err := f.cache.Set(ctx, name, sealed, f.ttl); err != nil {
		return "", fmt.Errorf("connections: keeping the state: %w: %w", claims.ErrUnavailable, err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for k, v := range map[string]string{"audience": f.party.Audience, "organization": req.Organization, "login_hint": req.LoginHint} {
		if v != "" {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	return f.oauth.AuthCodeURL(state, opts...), nil
}

// Finish checks a callback against the authorization binding started: the
// state must be known, unexpired, unused, and issued to binding for this
// Party. The state is spent whatever the outcome. When the Party names its
// Issuer, a callback's iss must be that issuer (RFC 9207), and must be
// there when the Party's IssuerInCallback says the server always sends
// it: else ErrIssuerMismatch, checked before the server's error or code
// is looked at. An error the server sent back comes as an
// *AuthorizationError. Nothing is stored.
func (f *Flow) Finish(ctx context.Context, binding string, cb Callback) (*Authorization, error) {
	if cb.State == "" {
		return nil, fmt.Errorf("%w: no state", ErrBadCallback)
	}
	name := f.keys.name("state", cb.State)
	sealed, err := f.cache.Get(ctx, name)
	if errors.Is(err, ErrCacheMiss) {
		return nil, ErrStateUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("connections: reading the state: %w: %w", claims.ErrUnavailable, err)
	}
	// Of concurrent callbacks with one state, only one deletes it.
	if err := f.cache.Delete(ctx, name); errors.Is(err, ErrCacheMiss) {
		return nil, ErrStateUnknown
	} else if err != nil {
		return nil, fmt.Errorf("connections: spending the state: %w: %w", claims.ErrUnavailable, err)
	}
	var p pending
	if err := f.keys.openJSON(sealed, stateAD(name), &p); err != nil {
		f.logger.Warn("connections: a pending authorization did not open", zap.String("party", f.party.Name))
		return nil, ErrStateUnknown
	}
	switch {
	case !f.now().Before(time.UnixMilli(p.Expires)):
		return nil, ErrStateUnknown
	case subtle.ConstantTimeCompare([]byte(p.Binding), []byte(binding)) != 1 || p.Party != f.party.Name:
		f.logger.Warn("connections: a state came back for another user or party", zap.String("party", f.party.Name))
		return nil, ErrStateForeign
	case !f.issuerMatches(cb.Issuer):
		f.logger.Warn("connections: a callback came back from another authorization server", zap.String("party", f.party.Name))
		return nil, ErrIssuerMismatch
	case cb.Error != "":
		return nil, &AuthorizationError{Party: f.party.Name, Code: cb.Error, Description: cb.ErrorDescription}
	case cb.Code == "":
		return nil, fmt.Errorf("%w: no code", ErrBadCallback)
	}
	return &Authorization{Code: cb.Code, CodeVerifier: p.Verifier, RedirectURI: f.party.RedirectURL, Organization: p.Organization}, nil
}

// issuerMatches applies RFC 9207 §2.4 to a callback's iss.
func (f *Flow) issuerMatches(iss string) bool {
	if iss == "" {
		return !f.party.IssuerInCallback
	}
	return f.party.Issuer == "" || iss == f.party.Issuer
}

func oauthConfig(p Party) oauth2.Config {
	return oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL:  p.RedirectURL,
		Scopes:       p.Scopes,
	}
}
