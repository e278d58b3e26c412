package tokenvalidator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

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
	v, err := is.route(token)
	if err != nil {
		return Result{}, err
	}
	return v.Validate(ctx, token)
}

// ValidateLocal hands token to the [JWKS.ValidateLocal] of its issuer.
func (is *Issuers) ValidateLocal(ctx context.Context, token string) (Result, error) {
	v, err := is.route(token)
	if err != nil {
		return Result{}, err
	}
	return v.ValidateLocal(ctx, token)
}

// VerifyIgnoringExpiry hands token to its issuer's [JWKS.VerifyIgnoringExpiry].
func (is *Issuers) VerifyIgnoringExpiry(ctx context.Context, token string) (*claims.Principal, error) {
	v, err := is.route(token)
	if err != nil {
		return nil, err
	}
	return v.VerifyIgnoringExpiry(ctx, token)
}

// VerifyIssued hands token to its issuer's [JWKS.VerifyIssued].
func (is *Issuers) VerifyIssued(ctx context.Context, token string) (*claims.Principal, error) {
	v, err := is.route(token)
	if err != nil {
		return nil, err
	}
	return v.VerifyIssued(ctx, token)
}

// Ready reports whether every issuer has a usable key set: nil, or the
// problems of those that have none (see [JWKS.Ready]).
func (is *Issuers) Ready(ctx context.Context) error {
	var errs []error
	for _, iss := range slices.Sorted(maps.Keys(is.byIssuer)) {
		errs = append(errs, is.byIssuer[iss].Ready(ctx))
	}
	return errors.Join(errs...)
}

// route returns the validator of the issuer token names, without verifying
// anything: an oversized token, one with no iss, or one naming an issuer
// not configured is refused here.
func (is *Issuers) route(token string) (*JWKS, error) {
	if len(token) > is.maxTokenBytes {
		return nil, invalid(claims.ReasonTooLarge, nil)
	}
	iss, err := unverifiedIssuer(token)
	if err != nil {
		return nil, invalid(claims.ReasonMalformed, err)
	}
	v, ok := is.byIssuer[iss]
	if !ok {
		if v = is.template(token, iss); v == nil {
			return nil, invalid(claims.ReasonIssuer, nil)
		}
	}
	// A kid its issuer does not publish but another configured issuer
	// does is a token moved across issuers, not a key rotation: refused
	// at once, without the key-set fetch an unknown kid may warrant.
	if kid := unverifiedKID(token); kid != "" && v.keys.lookup(kid) == nil {
		for other, w := range is.byIssuer {
			if other != iss && w.keys.lookup(kid) != nil {
				return nil, invalid(claims.ReasonIssuer, errors.New("the token's kid is another issuer's"))
			}
		}
	}
	return v, nil
}

// template returns the validator whose issuer template iss fills with the
// token's own (unverified) tid, if any: the chosen validator checks it again
// once the signature holds.
func (is *Issuers) template(token, iss string) *JWKS {
	_, payload, _, err := splitCompact(token)
	if err != nil {
		return nil
	}
	b, err := decodeSegment(payload)
	if err != nil {
		return nil
	}
	tid, _ := stringMember(b, "tid")
	for configured, v := range is.byIssuer {
		if isTemplate(configured) && claims.MatchIssuerTemplate(configured, iss, tid) {
			return v
		}
	}
	return nil
}

// Close closes every validator.
func (is *Issuers) Close() error {
	for _, v := range is.byIssuer {
		v.Close()
	}
	return nil
}
