package tokenvalidator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/authgate/authgate/claims"
)

// RemoteConfig configures a [Remote] validator. URL, ClientID and
// ClientSecret are required; other zero values are documented defaults.
type RemoteConfig struct {
	// URL is an RFC 7662 introspection endpoint: authgate's token service
	// ("http://tokenservice:8081/introspect") or a provider's.
	URL string
	// ClientID and ClientSecret authenticate this service to the endpoint
	// with HTTP Basic (RFC 6749 §2.3.1).
	ClientID, ClientSecret string
	// Issuers lists the issuers whose tokens are accepted: an answer naming
	// another iss is refused, and an answer naming none is attributed to the
	// issuer when there is exactly one. Empty: whatever issuer the endpoint
	// vouches for.
	Issuers []string
	// Audiences, when set, must include one of the answer's aud values; an
	// answer without aud is then refused.
	Audiences []string
	// CacheTTL bounds how long an active answer is reused. Default: until the
	// token's exp, which suits the token service and JWTs (a signed token's
	// verdict does not change before it expires); set it for an endpoint
	// whose tokens can be revoked early. An answer without exp is reused for
	// at most a minute.
	CacheTTL time.Duration
	// Timeout bounds each call. Default 5s.
	Timeout time.Duration
	// MaxTokenBytes bounds the token's length. Default 16 KiB.
	MaxTokenBytes int
	// Budget caps the calls made to the endpoint (see [Budget]). Default: a
	// budget of its own with the defaults.
	Budget *Budget
	// Mapping reads an answer that is not the token service's — a provider's
	// own claim names, and which clients are first-party. The token service's
	// answers name their members and the kind of caller themselves.
	Mapping claims.Mapping
}

// noExpiryTTL bounds the reuse of an answer that carries no exp.
const noExpiryTTL = time.Minute

// Remote validates tokens — JWT or opaque — by asking an RFC 7662
// introspection endpoint, typically authgate's token service, so that a
// service can delegate validation and keep only its cache tiers. It reads
// the extension members the token service adds to the standard ones —
// org_id, org_name, permissions, kind and ext (the enrichment) — and the
// standard members alone from any other endpoint.
//
// The endpoint's verdict decides only when it gives one: {"active": false}
// is an invalid token, while a transport error, a 5xx, a 429 or a refusal of
// this service's credentials is claims.ErrUnavailable (a claims.RetryError
// when the endpoint says when to come back), never an inactive token. It is
// safe for concurrent use.
type Remote struct {
	cfg  RemoteConfig
	o    options
	call *caller
}

// NewRemote checks cfg and returns the validator; it does no I/O.
func NewRemote(cfg RemoteConfig, opts ...Option) (*Remote, error) {
	if err := checkEndpoint("RemoteConfig.URL", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("tokenvalidator: RemoteConfig needs ClientID and ClientSecret (RFC 7662 §2.1: the caller authenticates)")
	}
	cfg.Timeout = orDuration(cfg.Timeout, 5*time.Second)
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = 16 << 10
	}
	if cfg.CacheTTL < 0 || cfg.Timeout < 0 || cfg.MaxTokenBytes < 0 {
		return nil, errors.New("tokenvalidator: negative duration or size in RemoteConfig")
	}
	cfg.Issuers, cfg.Audiences = slices.Clone(cfg.Issuers), slices.Clone(cfg.Audiences)
	o := buildOptions(cfg.Timeout, opts)
	return &Remote{cfg: cfg, o: o, call: newCaller("remote", cfg.Budget, o)}, nil
}

// Validate asks the endpoint whether token is active.
func (v *Remote) Validate(ctx context.Context, token string) (Result, error) {
	if err := checkOpaque(token, v.cfg.MaxTokenBytes); err != nil {
		return Result{}, err
	}
	answer, err := v.ask(ctx, token)
	if err != nil {
		return Result{}, err
	}
	return v.judge(answer)
}

// ask makes the one outbound call of a validation, within the budget, and
// returns the body of a 200 answer.
func (v *Remote) ask(ctx context.Context, token string) ([]byte, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, unavailable("remote introspection", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(v.cfg.ClientID), url.QueryEscape(v.cfg.ClientSecret))
	var answer json.RawMessage
	err = v.call.ask(ctx, req, &answer)
	var se *statusError
	if errors.As(err, &se) {
		if se.code < 500 {
			// A 401 or 400 is about this service's call (its credentials),
			// never about the token: someone must fix the configuration.
			v.o.logger.Error("tokenvalidator: introspection endpoint refused the call", zap.Int("status", se.code))
		}
		return nil, unavailable("remote introspection", err)
	}
	return answer, err
}

// remoteHead is what judge reads before the claims: the verdict, the type,
// and the token service's own members.
type remoteHead struct {
	Active    *bool           `json:"active"`
	TokenType string          `json:"token_type"`
	Kind      *string         `json:"kind"`
	Ext       json.RawMessage `json:"ext"`
}

// judge turns a 200 answer into a verdict. An answer that is not a
// well-formed introspection response is the endpoint's fault: unavailable,
// never an invalid token.
func (v *Remote) judge(answer []byte) (Result, error) {
	var head remoteHead
	if err := json.Unmarshal(answer, &head); err != nil || head.Active == nil {
		return Result{}, unavailable("remote introspection", errors.New(`answer has no boolean "active"`))
	}
	if !*head.Active {
		return Result{}, invalid(claims.ReasonInactive, nil)
	}
	if tt := strings.ToLower(head.TokenType); tt == "refresh_token" || tt == "refresh" {
		return Result{}, invalid(claims.ReasonType, errors.New("a refresh token is not an access token"))
	}
	p, err := v.principal(answer, head)
	if err != nil {
		// Not wrapped: the endpoint's broken answer must not match
		// ErrInvalidToken.
		return Result{}, unavailable("remote introspection", errors.New(err.Error()))
	}
	now := v.o.now()
	switch {
	case !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt):
		return Result{}, invalid(claims.ReasonExpired, nil)
	case !p.NotBefore.IsZero() && now.Before(p.NotBefore):
		return Result{}, invalid(claims.ReasonNotYetValid, nil)
	}
	if err := v.checkIssuer(p); err != nil {
		return Result{}, err
	}
	if len(v.cfg.Audiences) > 0 && !slices.ContainsFunc(p.Audience, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }) {
		return Result{}, invalid(claims.ReasonAudience, nil)
	}
	until := now.Add(noExpiryTTL)
	switch {
	case v.cfg.CacheTTL > 0:
		until = cacheUntil(now, v.cfg.CacheTTL, p)
	case !p.ExpiresAt.IsZero():
		until = p.ExpiresAt
	}
	return Result{Principal: p, CacheUntil: until}, nil
}

// principal decodes an active answer. The token service's answer (it names
// the kind of caller) is read under authgate's own member names, with its
// kind and enrichment; any other endpoint's under the configured Mapping.
func (v *Remote) principal(answer []byte, head remoteHead) (*claims.Principal, error) {
	if head.Kind == nil {
		p, err := v.cfg.Mapping.Decode(answer)
		if err != nil {
			return nil, err
		}
		if p.Subject == "" {
			// No subject: the client acts for itself (RFC 9068 puts its id in sub).
			p.Subject = p.AuthorizedParty
			p.Kind = v.cfg.Mapping.KindOf(p)
		}
		return p, nil
	}
	p, err := claims.Mapping{}.Decode(answer)
	if err != nil {
		return nil, err
	}
	if p.Kind, err = claims.ParseKind(*head.Kind); err != nil {
		return nil, err
	}
	if p.Subject == "" {
		return nil, errors.New("tokenvalidator: token service answer without sub")
	}
	if len(head.Ext) > 0 && string(head.Ext) != "null" {
		if err := json.Unmarshal(head.Ext, &p.Enrichment); err != nil {
			return nil, errors.New(`tokenvalidator: "ext" is not an object of string arrays`)
		}
		if len(p.Enrichment) == 0 {
			p.Enrichment = nil
		}
	}
	return p, nil
}

// checkIssuer holds the answer's iss to the configured issuers, and names
// the issuer of an answer that gives none when only one is configured.
func (v *Remote) checkIssuer(p *claims.Principal) error {
	switch {
	case len(v.cfg.Issuers) == 0:
		return nil
	case p.Issuer == "" && len(v.cfg.Issuers) == 1:
		p.Issuer = v.cfg.Issuers[0]
		return nil
	case p.Issuer == "" || !slices.Contains(v.cfg.Issuers, p.Issuer):
		return invalid(claims.ReasonIssuer, nil)
	}
	return nil
}

// Policy returns what v accepts: one rule per configured issuer (or one for
// any issuer), each with the configured audiences.
func (v *Remote) Policy() Policy {
	d := detail("method", "remote", "url", v.cfg.URL, "client", v.cfg.ClientID, "cache_ttl", v.cfg.CacheTTL,
		"max_token_bytes", v.cfg.MaxTokenBytes, "mapping", v.cfg.Mapping.Canonical())
	issuers := v.cfg.Issuers
	if len(issuers) == 0 {
		issuers = []string{""}
	}
	var p Policy
	for _, iss := range issuers {
		p.Rules = append(p.Rules, Rule{Issuer: iss, Audiences: v.cfg.Audiences, Detail: d})
	}
	return p
}
