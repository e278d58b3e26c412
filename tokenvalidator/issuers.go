package tokenvalidator

import (
	"context"
	"errors"
	"fmt"

	"github.com/authgate/authgate/claims"
)

// Issuers routes a JWT to the validator of the issuer it names — dev, int
// and prod tenants, or several providers — by its still unverified iss
// claim. The chosen validator then checks everything, iss included; a token
// naming an unknown issuer is rejected without any network call. Safe for
// concurrent use.
type Issuers struct {
	byIssuer      map[string]*JWKS
	maxTokenBytes int
}

// NewIssuers returns a router over validators, which must name distinct
// issuers. It takes ownership of them: Close closes them all.
func NewIssuers(validators ...*JWKS) (*Issuers, error) {
	if len(validators) == 0 {
		return nil, errors.New("tokenvalidator: NewIssuers needs at least one validator")
	}
	is := &Issuers{byIssuer: make(map[string]*JWKS, len(validators))}
	for _, v := range validators {
		if is.byIssuer[v.Issuer()] != nil {
			return nil, fmt.Errorf("tokenvalidator: issuer %q configured twice", v.Issuer())
		}
		is.byIssuer[v.Issuer()] = v
		is.maxTokenBytes = max(is.maxTokenBytes, v.cfg.MaxTokenBytes)
	}
	return is, nil
}

// Validate hands token to the validator of its issuer.
func (is *Issuers) Validate(ctx context.Context, token string) (Result, error) {
	if len(token) > is.maxTokenBytes {
		return Result{}, invalid(claims.ReasonTooLarge, nil)
	}
	iss, err := unverifiedIssuer(token)
	if err != nil {
		return Result{}, invalid(claims.ReasonMalformed, err)
	}
	v, ok := is.byIssuer[iss]
	if !ok {
		return Result{}, invalid(claims.ReasonIssuer, nil)
	}
	return v.Validate(ctx, token)
}

// Close closes every validator.
func (is *Issuers) Close() error {
	for _, v := range is.byIssuer {
		v.Close()
	}
	return nil
}
