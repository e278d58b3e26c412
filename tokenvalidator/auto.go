package tokenvalidator

import (
	"context"
	"errors"

	"github.com/authgate/authgate/claims"
)

// Auto sends JWT-shaped tokens to JWT and anything else to Opaque. Either
// may be nil, in which case tokens of that shape are malformed (or too
// large, beyond DefaultMaxTokenBytes).
type Auto struct {
	JWT    Validator
	Opaque Validator
}

// Validate routes token by its shape (see [LooksLikeJWT]).
func (a Auto) Validate(ctx context.Context, token string) (Result, error) {
	v, err := a.route(token)
	if err != nil {
		return Result{}, err
	}
	return v.Validate(ctx, token)
}

// ValidateLocal routes token as Validate does, to the validator's
// ValidateLocal; ErrNotLocal when that validator is no [LocalValidator].
func (a Auto) ValidateLocal(ctx context.Context, token string) (Result, error) {
	v, err := a.route(token)
	if err != nil {
		return Result{}, err
	}
	lv, ok := v.(LocalValidator)
	if !ok {
		return Result{}, ErrNotLocal
	}
	return lv.ValidateLocal(ctx, token)
}

func (a Auto) route(token string) (Validator, error) {
	v := a.Opaque
	if LooksLikeJWT(token) {
		v = a.JWT
	}
	if v == nil {
		if len(token) > DefaultMaxTokenBytes {
			return nil, invalid(claims.ReasonTooLarge, nil)
		}
		return nil, invalid(claims.ReasonMalformed, errors.New("no validator for tokens of this shape"))
	}
	return v, nil
}
