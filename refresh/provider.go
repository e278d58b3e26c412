package refresh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/authgate/authgate/claims"
)

// errInvalidGrant is the provider's terminal refusal of a grant (RFC 6749
// §5.2): wrong password, revoked or expired refresh token, deleted user.
var errInvalidGrant = errors.New("refresh: the provider refused the grant (invalid_grant)")

// provider makes the token-endpoint calls through golang.org/x/oauth2, and
// the RFC 7009 revocations.
type provider struct {
	oauth         oauth2.Config
	client        *http.Client
	revocationURL string
}

func newProvider(cfg Config, client *http.Client) *provider {
	c := *client
	c.Transport = &grantParams{base: transportOf(client), tokenURL: cfg.TokenURL, audience: cfg.Audience}
	return &provider{
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
			Scopes:       cfg.Scopes,
		},
		client:        &c,
		revocationURL: cfg.RevocationURL,
	}
}

// withClient hands x/oauth2 our HTTP client the only way it takes one.
func (pr *provider) withClient(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, pr.client)
}

func (pr *provider) password(ctx context.Context, c Credentials) (*oauth2.Token, error) {
	if c.Organization != "" {
		ctx = context.WithValue(ctx, extraParamsKey{}, url.Values{"organization": {c.Organization}})
	}
	tok, err := pr.oauth.PasswordCredentialsToken(pr.withClient(ctx), c.Username, c.Password)
	return tok, classify(err)
}

func (pr *provider) exchange(ctx context.Context, code, redirectURI, codeVerifier string) (*oauth2.Token, error) {
	opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("redirect_uri", redirectURI)}
	if codeVerifier != "" {
		opts = append(opts, oauth2.VerifierOption(codeVerifier))
	}
	tok, err := pr.oauth.Exchange(pr.withClient(ctx), code, opts...)
	return tok, classify(err)
}

// refresh trades a refresh token for a new pair. When the provider rotates,
// the answer carries a new refresh token; otherwise x/oauth2 keeps the old.
func (pr *provider) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	tok, err := pr.oauth.TokenSource(pr.withClient(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	return tok, classify(err)
}

// revoke asks the provider to revoke a refresh token (RFC 7009), which at
// Auth0 and idptest ends its whole family.
func (pr *provider) revoke(ctx context.Context, refreshToken string) error {
	if pr.revocationURL == "" {
		return nil
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pr.revocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(pr.oauth.ClientID), url.QueryEscape(pr.oauth.ClientSecret))
	resp, err := pr.client.Do(req)
	if err != nil {
		return fmt.Errorf("refresh: revoking: %w: %w", claims.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("refresh: revoking: %w: provider answered %s", claims.ErrUnavailable, resp.Status)
	}
	return nil
}

// classify sorts a token-endpoint failure: invalid_grant is terminal, and
// everything else — the provider unreachable or failing, or refusing our
// client's own credentials — is a dependency problem, never the user's.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return errInvalidGrant
	}
	if errors.As(err, &re) {
		// RetrieveError's text includes the response body; keep only the code.
		return fmt.Errorf("refresh: token endpoint: %w: %d %s", claims.ErrUnavailable, re.Response.StatusCode, re.ErrorCode)
	}
	return fmt.Errorf("refresh: token endpoint: %w: %w", claims.ErrUnavailable, err)
}

// grantParams adds parameters x/oauth2 has no way to pass with the
// password grant: the audience (Auth0 issues a JWT for an API only when
// asked for its audience) and, per call, those put in the request's context
// under extraParamsKey (the organization the user logs in to).
type grantParams struct {
	base     http.RoundTripper
	tokenURL string
	audience string
}

// extraParamsKey carries one password grant's extra form parameters from
// provider.password to grantParams, through x/oauth2, which passes the
// context along with the request.
type extraParamsKey struct{}

func (g *grantParams) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.String() != g.tokenURL || req.Body == nil {
		return g.base.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err == nil && form.Get("grant_type") == "password" {
		extra, _ := req.Context().Value(extraParamsKey{}).(url.Values)
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
