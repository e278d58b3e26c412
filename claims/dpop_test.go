package claims_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/authgate/authgate/claims"
)

func TestProofError(t *testing.T) {
	detail := errors.New("htm POST, request GET")
	err := fmt.Errorf("tokenvalidator: %w", claims.InvalidProof(claims.ProofMethod, detail))
	if !errors.Is(err, claims.ErrInvalidProof) || !errors.Is(err, detail) {
		t.Error("not ErrInvalidProof, or the detail is not unwrapped")
	}
	if errors.Is(err, claims.ErrInvalidToken) || errors.Is(err, claims.ErrUnavailable) {
		t.Error("an invalid proof matched ErrInvalidToken or ErrUnavailable")
	}
	if c, ok := claims.ProofCheckOf(err); !ok || c != claims.ProofMethod {
		t.Errorf("ProofCheckOf = %v, %v", c, ok)
	}
	if got := err.Error(); got != "tokenvalidator: invalid DPoP proof: method: htm POST, request GET" {
		t.Errorf("Error() = %q", got)
	}
	if _, ok := claims.ProofCheckOf(claims.Invalid(claims.ReasonExpired, nil)); ok {
		t.Error("ProofCheckOf found a check in an invalid-token error")
	}
}

func TestProofChecks(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range claims.ProofChecks() {
		name := c.String()
		if name == "unknown" || seen[name] {
			t.Errorf("check %d has name %q", c, name)
		}
		seen[name] = true
	}
	if len(seen) != 13 {
		t.Errorf("%d checks, want 13", len(seen))
	}
	if claims.ProofCheck(200).String() != "unknown" || claims.ProofCheck(0).String() != "unknown" {
		t.Error("out-of-range check")
	}
}
