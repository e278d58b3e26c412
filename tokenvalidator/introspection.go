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

// IntrospectionConfig configures an [Introspection] validator. URL, ClientID
// and ClientSecret are required; other zero values are documented defaults.
type IntrospectionConfig struct {
	// URL is the provider's RFC 7662 introspection endpoint.
	URL string
	// ClientID and ClientSecret authenticate this service to the endpoint.
	ClientID, ClientSecret string
	// ClientAuthInBody sends the client credentials in the form body
	// (client_secret_post) instead of HTTP Basic.
	ClientAuthInBody bool
	// Issuer, when set, must equal the answer's iss if it has one, and
	// becomes the Principal's issuer if it has none.
	Issuer string
	// Audiences, when set, must include one of the answer's aud values; an
	// answer without aud is then refused.
	Audiences []string
	// CacheTTL bounds how long an "active" answer is reused (never past the
	// token's exp): the shorter, the sooner a revocation is seen. Default 1m.
	CacheTTL time.Duration
	// Timeout bounds each call. Default 5s.
	Timeout time.Duration
	// MaxTokenBytes bounds the token's length. Default
	// DefaultMaxTokenBytes (16 KiB).
	MaxTokenBytes int
	// Mapping reads the answer's claims into the Principal.
	Mapping claims.Mapping
	// Budget caps the calls to the endpoint; share one among the
	// validators of this issuer. Default: a Budget of this validator's own
	// with BudgetConfig's defaults.
	Budget *Budget
}

// Introspection validates opaque tokens with the provider's RFC 7662
// endpoint, within its [Budget]. It is safe for concurrent use.
type Introspection struct {
	cfg    IntrospectionConfig
	o      options
	caller *caller
}

// NewIntrospection checks cfg and returns the validator; it does no I/O.
func NewIntrospection(cfg IntrospectionConfig, opts ...Option) (*Introspection, error) {
	if err := checkEndpoint("IntrospectionConfig.URL", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("tokenvalidator: IntrospectionConfig needs ClientID and ClientSecret (RFC 7662 §2.1: the caller authenticates)")
	}
	cfg.CacheTTL = orDuration(cfg.CacheTTL, time.Minute)
	cfg.Timeout = orDuration(cfg.Timeout, 5*time.Second)
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.CacheTTL < 0 || cfg.Timeout < 0 || cfg.MaxTokenBytes < 0 {
		return nil, errors.New("tokenvalidator: negative duration or size in IntrospectionConfig")
	}
	o := buildOptions(cfg.Timeout, opts)
	return &Introspection{cfg: cfg, o: o, caller: newCaller("introspection", cfg.Budget, o)}, nil
}

// Validate asks the provider whether token is active. Beyond the budget it
// fails at once with a *claims.RetryError.
func (v *Introspection) Validate(ctx context.Context, token string) (Result, error) {
	if err := checkOpaque(token, v.cfg.MaxTokenBytes); err != nil {
		return Result{}, err
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if v.cfg.ClientAuthInBody {
		form.Set("client_id", v.cfg.ClientID)
		form.Set("client_secret", v.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, unavailable("introspection", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if !v.cfg.ClientAuthInBody {
		// RFC 6749 §2.3.1: form-encode the id and secret before Basic.
		req.SetBasicAuth(url.QueryEscape(v.cfg.ClientID), url.QueryEscape(v.cfg.ClientSecret))
	}
	var answer json.RawMessage
	if err := v.caller.ask(ctx, req, &answer); err != nil {
		var se *statusError
		if errors.As(err, &se) {
			// Even a 401 here is about our own credentials, not the token.
			v.o.logger.Error("tokenvalidator: introspection endpoint refused the call", zap.Int("status", se.code))
			return Result{}, unavailable("introspection", err)
		}
		return Result{}, err
	}
	return v.judge(answer)
}

func (v *Introspection) judge(answer json.RawMessage) (Result, error) {
	var head struct {
		Active    *bool  `json:"active"`
		TokenType string `json:"token_type"`
	}
	if err := json.Unmarshal(answer, &head); err != nil || head.Active == nil {
		return Result{}, unavailable("introspection", errors.New(`answer has no boolean "active"`))
	}
	if !*head.Active {
		return Result{}, invalid(claims.ReasonInactive, nil)
	}
	if tt := strings.ToLower(head.TokenType); tt == "refresh_token" || tt == "refresh" {
		return Result{}, invalid(claims.ReasonType, errors.New("a refresh token is not an access token"))
	}
	p, err := v.cfg.Mapping.Decode(answer)
	if err != nil {
		// The provider's answer is broken, not the token: not wrapped, so the
		// error cannot also match ErrInvalidToken.
		return Result{}, unavailable("introspection", errors.New(err.Error()))
	}
	now := v.o.now()
	switch {
	case !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt):
		return Result{}, invalid(claims.ReasonExpired, nil)
	case !p.NotBefore.IsZero() && now.Before(p.NotBefore):
		return Result{}, invalid(claims.ReasonNotYetValid, nil)
	case v.cfg.Issuer != "" && p.Issuer != "" && p.Issuer != v.cfg.Issuer:
		return Result{}, invalid(claims.ReasonIssuer, nil)
	case len(v.cfg.Audiences) > 0 && !slices.ContainsFunc(p.Audience, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }):
		return Result{}, invalid(claims.ReasonAudience, nil)
	}
	if p.Issuer == "" {
		p.Issuer = v.cfg.Issuer
	}
	if p.Subject == "" {
		// No subject: the client acts for itself (RFC 9068 puts its id in sub).
		p.Subject = p.AuthorizedParty
		p.Kind = v.cfg.Mapping.KindOf(p)
	}
	return Result{Principal: p, CacheUntil: cacheUntil(now, v.cfg.CacheTTL, p)}, nil
}

func checkEndpoint(field, u string) error {
	pu, err := url.Parse(u)
	if err != nil || !pu.IsAbs() || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http") {
		return errors.New("tokenvalidator: " + field + " must be an absolute http(s) URL")
	}
	return nil
}
