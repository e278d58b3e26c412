package tokenvalidator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/bearer"
)

// checkOpaque applies the checks every opaque-token validator makes before
// the token is sent to the provider.
func checkOpaque(token string, maxBytes int) error {
	if _, err := bearer.Check(token, maxBytes); err != nil {
		if errors.Is(err, bearer.ErrTooLarge) {
			return invalid(claims.ReasonTooLarge, nil)
		}
		return invalid(claims.ReasonMalformed, err)
	}
	return nil
}

// askProvider sends req and decodes a 200 answer's JSON object into v. Any
// other status is returned as a *statusError for the caller to classify;
// transport failures are ErrUnavailable.
func askProvider(client *http.Client, req *http.Request, v any) error {
	resp, err := client.Do(req)
	if err != nil {
		return unavailable(req.URL.Path, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxProviderResponse)
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, body)
		return &statusError{code: resp.StatusCode}
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return unavailable(req.URL.Path, fmt.Errorf("answer is not JSON: %w", err))
	}
	return nil
}

// statusError is a provider's non-200 answer.
type statusError struct{ code int }

func (e *statusError) Error() string {
	return fmt.Sprintf("provider answered %d %s", e.code, http.StatusText(e.code))
}

// cacheUntil bounds how long a provider's verdict may be reused: never past
// the token's expiry (RFC 7662 §4), at most ttl from now.
func cacheUntil(now time.Time, ttl time.Duration, p *claims.Principal) time.Time {
	until := now.Add(ttl)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(until) {
		return p.ExpiresAt
	}
	return until
}
