package tokenvalidator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
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

// caller makes the calls of an opaque-token validator to its provider,
// within the budget, and counts them.
type caller struct {
	endpoint string // "introspection" or "userinfo": errors and metrics
	budget   *Budget
	client   *http.Client
	m        *callInstruments
}

func newCaller(endpoint string, budget *Budget, o options) *caller {
	if budget == nil {
		budget, _ = NewBudget(BudgetConfig{}, WithClock(o.now)) // the defaults cannot fail
	}
	return &caller{endpoint: endpoint, budget: budget, client: o.httpClient, m: newCallInstruments(o.reg, endpoint)}
}

// ask spends a call of the budget on req and decodes a 200 answer's JSON
// object into v. Beyond the budget, and when the provider asks to be left
// alone (429, or 503 with Retry-After), the error is a *claims.RetryError.
// Another status is returned as a *statusError for the caller to classify;
// transport failures are ErrUnavailable.
func (c *caller) ask(ctx context.Context, req *http.Request, v any) error {
	if after, ok := c.budget.take(); !ok {
		c.m.overRate.Inc()
		return retry(c.endpoint, after, errOverRate)
	}
	if err := c.budget.enter(ctx); err != nil {
		c.budget.refund()
		if err == errOverConcurrency {
			c.m.overConcurrency.Inc()
			return retry(c.endpoint, time.Second, err)
		}
		return unavailable(c.endpoint, err)
	}
	defer c.budget.leave()
	c.m.inFlight.Inc()
	defer c.m.inFlight.Dec()

	resp, err := c.client.Do(req)
	if err != nil {
		c.m.answered(0)
		return unavailable(c.endpoint, err)
	}
	defer resp.Body.Close()
	c.m.answered(resp.StatusCode)
	body := io.LimitReader(resp.Body, maxProviderResponse)
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, body)
		after, asked := retryAfter(resp.Header.Get("Retry-After"), c.budget.now())
		if resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode == http.StatusServiceUnavailable && asked) {
			return retry(c.endpoint, after, fmt.Errorf("the provider answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
		}
		return &statusError{code: resp.StatusCode}
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return unavailable(c.endpoint, fmt.Errorf("answer is not JSON: %w", err))
	}
	return nil
}

// maxRetryAfter caps the wait a provider's Retry-After may impose.
const maxRetryAfter = time.Minute

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3: seconds or an
// HTTP date), capped at maxRetryAfter. Without one it reports false and a
// second.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return time.Second, false
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(h, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	} else {
		return time.Second, false
	}
	return min(max(d, time.Second), maxRetryAfter), true
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
