package refresh

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

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/retryafter"
)

// provider makes the token-endpoint calls through golang.org/x/oauth2, and
// the RFC 7009 revocations. Every call is bounded by timeout through its
// context, whatever the HTTP client's own Timeout.
type provider struct {
	oauth     oauth2.Config // its Endpoint.TokenURL is set per call
	client    *http.Client
	timeout   time.Duration
	endpoints func(context.Context) (Endpoints, error)

	mu    sync.Mutex // guards found
	found *Endpoints // nil until endpoints succeeds
}

func newProvider(cfg Config, client *http.Client) *provider {
	c := *client
	c.Transport = &grantParams{base: transportOf(client), audience: cfg.Audience}
	pr := &provider{
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     oauth2.Endpoint{AuthStyle: oauth2.AuthStyleInHeader},
			Scopes:       cfg.Scopes,
		},
		client:    &c,
		timeout:   cfg.Timeout,
		endpoints: cfg.Endpoints,
	}
	if cfg.TokenURL != "" {
		pr.found = &Endpoints{TokenURL: cfg.TokenURL, RevocationURL: cfg.RevocationURL}
	}
	return pr
}

// Endpoints are the provider's token and revocation endpoints.
type Endpoints struct {
	TokenURL      string
	RevocationURL string // "": the provider revokes nothing (RFC 7009)
}

// resolve returns the endpoints, asking Config.Endpoints (bounded by the
// provider timeout) until it has answered once.
func (pr *provider) resolve(ctx context.Context) (Endpoints, error) {
	pr.mu.Lock()
	found := pr.found
	pr.mu.Unlock()
	if found != nil {
		return *found, nil
	}
	ctx, cancel := context.WithTimeout(ctx, pr.timeout)
	defer cancel()
	e, err := pr.endpoints(ctx)
	if err == nil {
		err = checkEndpoints(e)
	}
	if err != nil {
		return Endpoints{}, fmt.Errorf("%w: finding the provider's endpoints: %w", ErrProviderUnavailable, err)
	}
	pr.mu.Lock()
	pr.found = &e
	pr.mu.Unlock()
	return e, nil
}

// oauthFor returns the x/oauth2 configuration for the provider's token
// endpoint.
func (pr *provider) oauthFor(ctx context.Context) (*oauth2.Config, error) {
	e, err := pr.resolve(ctx)
	if err != nil {
		return nil, err
	}
	c := pr.oauth
	c.Endpoint.TokenURL = e.TokenURL
	return &c, nil
}

// call names a call to the provider, for errors and metrics, and decides
// whose input a malformed request was.
type call uint8

const (
	callPassword call = iota
	callCode
	callRefresh
	callRevoke
	numCalls
)

var callNames = [numCalls]string{"password", "authorization_code", "refresh_token", "revocation"}

// bounded returns ctx bounded by the provider timeout, with our HTTP client
// handed to x/oauth2 the only way it takes one.
func (pr *provider) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, pr.timeout)
	return context.WithValue(ctx, oauth2.HTTPClient, pr.client), cancel
}

func (pr *provider) password(ctx context.Context, c Credentials) (*oauth2.Token, error) {
	extra := url.Values{}
	if c.Organization != "" {
		extra.Set("organization", c.Organization)
	}
	ctx = context.WithValue(ctx, passwordGrantKey{}, extra)
	ctx, cancel := pr.bounded(ctx)
	defer cancel()
	oc, err := pr.oauthFor(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := oc.PasswordCredentialsToken(ctx, c.Username, c.Password)
	return tok, classify(callPassword, err)
}

func (pr *provider) exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*oauth2.Token, error) {
	opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("redirect_uri", redirectURI)}
	if codeVerifier != "" {
		opts = append(opts, oauth2.VerifierOption(codeVerifier))
	}
	ctx, cancel := pr.bounded(ctx)
	defer cancel()
	oc, err := pr.oauthFor(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := oc.Exchange(ctx, code, opts...)
	return tok, classify(callCode, err)
}

// refresh trades a refresh token for a new pair. When the provider rotates,
// the answer carries a new refresh token; otherwise x/oauth2 keeps the old.
func (pr *provider) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	ctx, cancel := pr.bounded(ctx)
	defer cancel()
	oc, err := pr.oauthFor(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	return tok, classify(callRefresh, err)
}

// revoke asks the provider to revoke a refresh token (RFC 7009), which at
// Auth0 and idptest ends its whole family.
func (pr *provider) revoke(ctx context.Context, refreshToken string) error {
	ctx, cancel := context.WithTimeout(ctx, pr.timeout)
	defer cancel()
	e, err := pr.resolve(ctx)
	if err != nil || e.RevocationURL == "" {
		return err
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(pr.oauth.ClientID), url.QueryEscape(pr.oauth.ClientSecret))
	resp, err := pr.client.Do(req)
	if err != nil {
		return classify(callRevoke, err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return refusal(callRevoke, resp.StatusCode, body.Error, resp.Header)
}

// classify sorts a failed call to the provider: an error answer becomes a
// *ProviderError, anything else — not reached, timed out, a success
// without an access token — the provider being unavailable.
func classify(c call, err error) error {
	if err == nil {
		return nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		// RetrieveError's text includes the response body; keep only the
		// status and the code.
		return refusal(c, re.Response.StatusCode, re.ErrorCode, re.Response.Header)
	}
	return fmt.Errorf("%w: %s: %w", ErrProviderUnavailable, callNames[c], err)
}

// refusal is the provider's error answer to call c, as the sentinel its
// answer calls for (see the package documentation for the table and the
// reasons), wrapped in a *claims.RetryError when the provider said when to
// come back.
func refusal(c call, status int, code string, header http.Header) error {
	code = plainCode(code)
	pe := &ProviderError{Call: callNames[c], Status: status, Code: code}
	switch {
	case status == http.StatusTooManyRequests || code == "too_many_requests":
		pe.kind = ErrRateLimited
	case status >= 500 || code == "server_error" || code == "temporarily_unavailable":
		pe.kind = ErrProviderUnavailable
	case code == "invalid_grant" && c == callPassword:
		pe.kind = ErrBadCredentials
	case code == "invalid_grant":
		pe.kind = ErrLoginRequired
	case code == "access_denied" || code == "mfa_required" || code == "consent_required":
		pe.kind = ErrDenied
	case code == "invalid_request" && (c == callPassword || c == callCode):
		pe.kind = ErrInvalidRequest
	case code == "invalid_request" || code == "invalid_scope" || code == "invalid_client" ||
		code == "unauthorized_client" || code == "unsupported_grant_type" || code == "unsupported_token_type":
		pe.kind = ErrMisconfigured
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		pe.kind = ErrDenied // an unknown refusal of the user, such as Auth0's "unauthorized" for a blocked one
	default:
		pe.kind = ErrMisconfigured // for example a 404: TokenURL is wrong
	}
	if after, ok := retryafter.Of(header, time.Now()); ok && (pe.kind == ErrRateLimited || pe.kind == ErrProviderUnavailable) {
		return &claims.RetryError{After: after, Err: pe}
	}
	return pe
}

// plainCode returns code if it is a plain token of at most 64 letters,
// digits, '_', '-' and '.' — every registered OAuth error code is — and ""
// otherwise, so that nothing else the provider says reaches a client.
func plainCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	for _, r := range code {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-' || r == '.') {
			return ""
		}
	}
	return code
}

// grantParams adds parameters x/oauth2 has no way to pass with the
// password grant: the audience (Auth0 issues a JWT for an API only when
// asked for its audience) and, per call, those put in the request's context
// under passwordGrantKey (the organization the user logs in to).
type grantParams struct {
	base     http.RoundTripper
	audience string
}

// passwordGrantKey marks the request of a password grant and carries its
// extra form parameters from provider.password to grantParams, through
// x/oauth2, which passes the context along with the request.
type passwordGrantKey struct{}

func (g *grantParams) RoundTrip(req *http.Request) (*http.Response, error) {
	extra, password := req.Context().Value(passwordGrantKey{}).(url.Values)
	if !password || req.Method != http.MethodPost || req.Body == nil {
		return g.base.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err == nil && form.Get("grant_type") == "password" {
		for k, vs := range extra {
			form[k] = vs
		}
		if g.audience != "" && !form.Has("audience") {
			form.Set("audience", g.audience)
		}
		body = []byte(form.Encode())
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return g.base.RoundTrip(r)
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}
