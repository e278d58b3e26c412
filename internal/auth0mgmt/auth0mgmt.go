// Package auth0mgmt calls Auth0's Management API (/api/v2) for the
// packages that need it: connections keeps grants in users' app_metadata
// through it, and authn deletes a user's grant for a partner app (which
// revokes the refresh tokens the app holds for the user). One [Client]
// gets its management token with the client-credentials grant and reuses
// it until it expires, one fetch at a time; fetches it again once when the
// API answers 401; and retries a 429 after the wait the API asks for.
package auth0mgmt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/retryafter"
)

// Config holds a Client's settings. Domain, ClientID and ClientSecret are
// required.
type Config struct {
	// Domain is the tenant's base URL, e.g. "https://tenant.auth0.com/"
	// (the issuer). The API is under Domain + "api/v2/", its tokens come
	// from Domain + "oauth/token".
	Domain string
	// ClientID and ClientSecret are a machine client allowed the
	// Management API with the scopes its callers need.
	ClientID, ClientSecret string
	// MaxRetries is how many times a request answered 429 is tried again,
	// after the wait the API asks for. Default 3.
	MaxRetries int
	// MaxRetryWait caps each of those waits: a longer one is not waited
	// for, the error is returned. Default 5s.
	MaxRetryWait time.Duration
	// HTTPClient makes the calls. Default: an http.Client with a 10s
	// timeout.
	HTTPClient *http.Client
}

// ErrNotFound is the answer to a request the API answered 404.
var ErrNotFound = errors.New("auth0mgmt: not found")

// Client calls the Management API. It is safe for concurrent use.
type Client struct {
	cfg    Config
	base   string // Domain + "api/v2"
	tokens *tokens
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Domain)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, errors.New("auth0mgmt: Domain must be an absolute URL")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("auth0mgmt: ClientID and ClientSecret are required")
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = 5 * time.Second
	}
	if cfg.MaxRetries < 0 || cfg.MaxRetryWait < 0 {
		return nil, errors.New("auth0mgmt: negative MaxRetries or MaxRetryWait")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	domain := strings.TrimSuffix(cfg.Domain, "/") + "/"
	return &Client{
		cfg:  cfg,
		base: domain + "api/v2",
		tokens: &tokens{client: cfg.HTTPClient, cc: clientcredentials.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: domain + "oauth/token",
			EndpointParams: url.Values{"audience": {domain + "api/v2/"}}, AuthStyle: oauth2.AuthStyleInHeader,
		}},
	}, nil
}

// maxBody bounds an answer read (Auth0 caps metadata far below).
const maxBody = 1 << 20

// Do sends one request to path under /api/v2 (e.g. "/users/" +
// url.PathEscape(id)) with body as JSON (none when nil) and returns the
// answer's body. 404 is ErrNotFound; other failures match
// claims.ErrUnavailable (a *claims.RetryError when the API said when to
// retry). Errors name the path's first segment, never an id or a query.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	what := method + " /api/v2/"
	if seg := strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '?' }); len(seg) > 0 {
		what += seg[0]
	}
	renewed := false
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.cfg.HTTPClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("auth0mgmt: %s: %w: %w", what, claims.ErrUnavailable, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		switch {
		case err != nil:
			return nil, fmt.Errorf("auth0mgmt: %s: %w: %w", what, claims.ErrUnavailable, err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return b, nil
		case resp.StatusCode == http.StatusNotFound:
			return nil, fmt.Errorf("%w: %s", ErrNotFound, what)
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			c.tokens.drop(tok)
			renewed = true
			continue
		case resp.StatusCode == http.StatusTooManyRequests:
			wait := rateLimitWait(resp.Header, time.Now())
			err := unavailable(fmt.Errorf("auth0mgmt: %s: rate limited", what), resp.Header)
			if attempt >= c.cfg.MaxRetries || wait > c.cfg.MaxRetryWait {
				return nil, err
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, err
			}
			continue
		}
		return nil, fmt.Errorf("auth0mgmt: %s: %w: answered %s", what, claims.ErrUnavailable, resp.Status)
	}
}

// Grant is a user's consent to a client for an API, as GET /api/v2/grants
// lists it.
type Grant struct {
	ID       string   `json:"id"`
	ClientID string   `json:"clientID"`
	UserID   string   `json:"user_id"`
	Audience string   `json:"audience"`
	Scope    []string `json:"scope"`
}

// Grants lists userID's grants to clientID, or to every client when
// clientID is "" (scope read:grants). It sends no per_page, which turns
// the API's paging off: one answer lists them all.
func (c *Client) Grants(ctx context.Context, userID, clientID string) ([]Grant, error) {
	q := url.Values{"user_id": {userID}}
	if clientID != "" {
		q.Set("client_id", clientID)
	}
	b, err := c.Do(ctx, http.MethodGet, "/grants?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var gs []Grant
	if err := json.Unmarshal(b, &gs); err != nil {
		return nil, fmt.Errorf("auth0mgmt: GET /api/v2/grants: %w: an answer that is not a list of grants", claims.ErrUnavailable)
	}
	return gs, nil
}

// DeleteGrant deletes a grant (scope delete:grants): Auth0 then revokes
// every refresh token the user holds through its client. An unknown id is
// not an error.
func (c *Client) DeleteGrant(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/grants/"+url.PathEscape(id), nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// unavailable wraps err as unavailable, as a *claims.RetryError when the
// answer said when to retry.
func unavailable(err error, h http.Header) error {
	if d, ok := retryafter.Of(h, time.Now()); ok {
		return &claims.RetryError{After: d, Err: err}
	}
	return fmt.Errorf("%w: %w", claims.ErrUnavailable, err)
}

// rateLimitWait reads how long a 429 asks to wait: Retry-After, else
// X-RateLimit-Reset (a Unix time), else one second.
func rateLimitWait(h http.Header, now time.Time) time.Duration {
	if d, ok := retryafter.Of(h, now); ok {
		return d
	}
	var reset int64
	if _, err := fmt.Sscan(h.Get("X-RateLimit-Reset"), &reset); err == nil && reset > 0 {
		return max(time.Unix(reset, 0).Sub(now), 100*time.Millisecond)
	}
	return time.Second
}

// tokens keeps the management token: one fetch at a time, reused until
// shortly before it expires.
type tokens struct {
	client *http.Client
	cc     clientcredentials.Config

	mu       sync.Mutex // guards tok and fetching
	tok      *oauth2.Token
	fetching chan struct{} // closed when the fetch in flight ends
}

func (t *tokens) get(ctx context.Context) (string, error) {
	for {
		t.mu.Lock()
		if t.tok.Valid() {
			tok := t.tok.AccessToken
			t.mu.Unlock()
			return tok, nil
		}
		if t.fetching != nil {
			wait := t.fetching
			t.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("auth0mgmt: management token: %w: %w", claims.ErrUnavailable, ctx.Err())
			}
		}
		done := make(chan struct{})
		t.fetching = done
		t.mu.Unlock()

		fctx, cancel := context.WithTimeout(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, t.client), 10*time.Second)
		tok, err := t.cc.Token(fctx)
		cancel()
		t.mu.Lock()
		t.fetching = nil
		if err == nil {
			t.tok = tok
		}
		t.mu.Unlock()
		close(done)
		if err != nil {
			return "", fmt.Errorf("auth0mgmt: management token: %w: %w", claims.ErrUnavailable, err)
		}
	}
}

// drop forgets tok, if it is still the current token.
func (t *tokens) drop(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == tok {
		t.tok = nil
	}
}
