package tokenvalidator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/authgate/authgate/claims"
)

// UserInfoConfig configures a [UserInfo] validator. URL is required; other
// zero values are documented defaults.
type UserInfoConfig struct {
	// URL is the provider's OpenID Connect userinfo endpoint, e.g.
	// "https://tenant.auth0.com/userinfo".
	URL string
	// Issuer is recorded as the Principal's issuer (userinfo answers carry
	// none).
	Issuer string
	// CacheTTL bounds how long a 200 is reused: userinfo says the token is
	// good now, not until when. Default 1m.
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
	// with BudgetConfig's defaults, which keep a tenant inside Auth0's
	// published limits (see BudgetConfig).
	Budget *Budget
}

// UserInfo validates opaque tokens at a provider without introspection, such
// as Auth0: a 200 from userinfo means the token is valid. That proves nothing
// about audience or scope, so the Principal has no scopes or permissions
// unless the answer carries them, and scope checks fail closed. Calls are
// made within its [Budget]. It is safe for concurrent use.
type UserInfo struct {
	cfg    UserInfoConfig
	o      options
	caller *caller
}

// NewUserInfo checks cfg and returns the validator; it does no I/O.
func NewUserInfo(cfg UserInfoConfig, opts ...Option) (*UserInfo, error) {
	if err := checkEndpoint("UserInfoConfig.URL", cfg.URL); err != nil {
		return nil, err
	}
	cfg.CacheTTL = orDuration(cfg.CacheTTL, time.Minute)
	cfg.Timeout = orDuration(cfg.Timeout, 5*time.Second)
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.CacheTTL < 0 || cfg.Timeout < 0 || cfg.MaxTokenBytes < 0 {
		return nil, errors.New("tokenvalidator: negative duration or size in UserInfoConfig")
	}
	o := buildOptions(cfg.Timeout, opts)
	return &UserInfo{cfg: cfg, o: o, caller: newCaller("userinfo", cfg.Budget, o)}, nil
}

// Validate presents token to the userinfo endpoint. Beyond the budget it
// fails at once with a *claims.RetryError.
func (v *UserInfo) Validate(ctx context.Context, token string) (Result, error) {
	if err := checkOpaque(token, v.cfg.MaxTokenBytes); err != nil {
		return Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.URL, nil)
	if err != nil {
		return Result{}, unavailable("userinfo", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	var answer json.RawMessage
	if err := v.caller.ask(ctx, req, &answer); err != nil {
		var se *statusError
		if errors.As(err, &se) {
			if se.code == http.StatusUnauthorized || se.code == http.StatusForbidden {
				return Result{}, invalid(claims.ReasonInactive, nil)
			}
			v.o.logger.Warn("tokenvalidator: userinfo endpoint failed", zap.Int("status", se.code))
			return Result{}, unavailable("userinfo", err)
		}
		return Result{}, err
	}
	p, err := v.cfg.Mapping.Decode(answer)
	if err != nil || p.Subject == "" {
		return Result{}, unavailable("userinfo", errors.New("answer is not a claims object with sub"))
	}
	// Profile answers carry no token times; whatever time claims there are
	// describe the user, not this token.
	p.Issuer, p.IssuedAt, p.NotBefore, p.ExpiresAt = v.cfg.Issuer, time.Time{}, time.Time{}, time.Time{}
	now := v.o.now()
	return Result{Principal: p, CacheUntil: now.Add(v.cfg.CacheTTL)}, nil
}
