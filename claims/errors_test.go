package claims_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
)

func TestTokenError(t *testing.T) {
	detail := errors.New("exp 10 is before now 20")
	err := fmt.Errorf("tokenvalidator: %w", claims.Invalid(claims.ReasonExpired, detail))
	if !errors.Is(err, claims.ErrInvalidToken) {
		t.Error("not ErrInvalidToken")
	}
	if errors.Is(err, claims.ErrUnavailable) {
		t.Error("an invalid token matched ErrUnavailable")
	}
	if !errors.Is(err, detail) {
		t.Error("detail not unwrapped")
	}
	if r, ok := claims.ReasonOf(err); !ok || r != claims.ReasonExpired {
		t.Errorf("ReasonOf = %v, %v", r, ok)
	}
	if got := err.Error(); got != "tokenvalidator: invalid token: expired: exp 10 is before now 20" {
		t.Errorf("Error() = %q", got)
	}
	if _, ok := claims.ReasonOf(fmt.Errorf("x: %w", claims.ErrUnavailable)); ok {
		t.Error("ReasonOf found a reason in an unavailable error")
	}
}

func TestReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range claims.Reasons() {
		name := r.String()
		if name == "unknown" || seen[name] {
			t.Errorf("reason %d has name %q", r, name)
		}
		seen[name] = true
	}
	if len(seen) != 11 {
		t.Errorf("%d reasons, want 11", len(seen))
	}
	if claims.Reason(200).String() != "unknown" {
		t.Error("out-of-range reason")
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := claims.FromContext(ctx); ok {
		t.Error("empty context has a principal")
	}
	p := &claims.Principal{Subject: "s"}
	got, ok := claims.FromContext(claims.NewContext(ctx, p))
	if !ok || got != p {
		t.Errorf("FromContext = %v, %v", got, ok)
	}
	if _, ok := claims.FromContext(claims.NewContext(ctx, nil)); ok {
		t.Error("a nil principal was reported present")
	}
}

func TestRetryError(t *testing.T) {
	cause := errors.New("429 from the provider")
	err := fmt.Errorf("tokenvalidator: %w", &claims.RetryError{After: 7 * time.Second, Err: cause})
	switch {
	case !errors.Is(err, claims.ErrUnavailable):
		t.Error("a RetryError does not match ErrUnavailable")
	case errors.Is(err, claims.ErrInvalidToken):
		t.Error("a RetryError matches ErrInvalidToken")
	case !errors.Is(err, cause):
		t.Error("the cause is not unwrapped")
	}
	if d, ok := claims.RetryAfterOf(err); !ok || d != 7*time.Second {
		t.Errorf("RetryAfterOf = %v, %v", d, ok)
	}
	if _, ok := claims.RetryAfterOf(fmt.Errorf("x: %w", claims.ErrUnavailable)); ok {
		t.Error("RetryAfterOf found a wait in a plain unavailable error")
	}
	if got := err.Error(); got != "tokenvalidator: token check unavailable: 429 from the provider" {
		t.Errorf("Error() = %q", got)
	}
}
