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
	v := a.Opaque
	if LooksLikeJWT(token) {
		v = a.JWT
	}
	if v == nil {
		if len(token) > DefaultMaxTokenBytes {
			return Result{}, invalid(claims.ReasonTooLarge, nil)
		}
		return Result{}, invalid(claims.ReasonMalformed, errors.New("no validator for tokens of this shape"))
	}
	return v.Validate(ctx, token)
}
