package connections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/retryafter"
)

// errInvalidGrant is the party's terminal refusal of a code or refresh
// token (RFC 6749 §5.2): revoked, expired, used, or the user is gone.
var errInvalidGrant = errors.New("connections: the party refused the grant (invalid_grant)")

// provider makes one party's token-endpoint calls through x/oauth2, and
// its RFC 7009 revocations.
type provider struct {
	party  Party
	oauth  oauth2.Config
	client *http.Client
}

// withClient hands x/oauth2 our HTTP client the only way it takes one.
func (p *provider) withClient(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.client)
}

func (p *provider) exchange(ctx context.Context, a *Authorization) (*oauth2.Token, error) {
	tok, err := p.oauth.Exchange(p.withClient(ctx), a.Code, oauth2.VerifierOption(a.CodeVerifier))
	return tok, p.classify(err)
}

// refresh trades a refresh token for a new access token. When the party
// rotates, the answer carries a new refresh token; otherwise x/oauth2
// keeps the old one in the result.
func (p *provider) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	tok, err := p.oauth.TokenSource(p.withClient(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	return tok, p.classify(err)
}

// revoke revokes a refresh token at the party (RFC 7009), when the party
// has a revocation endpoint.
func (p *provider) revoke(ctx context.Context, refreshToken string) error {
	if p.party.RevocationURL == "" || refreshToken == "" {
		return nil
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.party.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.party.ClientID), url.QueryEscape(p.party.ClientSecret))
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("connections: revoking at %s: %w: %w", p.party.Name, claims.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return unavailable(fmt.Errorf("connections: revoking at %s: the party answered %s", p.party.Name, resp.Status), resp.Header)
	}
	return nil
}

// classify sorts a token-endpoint failure: invalid_grant is terminal;
// everything else — the party unreachable, failing, busy, or refusing our
// own client — is a dependency problem, never the user's.
func (p *provider) classify(err error) error {
	if err == nil {
		return nil
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("connections: %s token endpoint: %w: %w", p.party.Name, claims.ErrUnavailable, err)
	}
	if re.ErrorCode == "invalid_grant" {
		return errInvalidGrant
	}
	// RetrieveError's text includes the response body; keep only the code.
	return unavailable(fmt.Errorf("connections: %s token endpoint: %d %s", p.party.Name, re.Response.StatusCode, re.ErrorCode), re.Response.Header)
}

// unavailable wraps err as unavailable, as a *claims.RetryError when the
// answer said when to retry (Retry-After in seconds or as a date).
func unavailable(err error, h http.Header) error {
	if d, ok := retryafter.Of(h, time.Now()); ok {
		return &claims.RetryError{After: d, Err: err}
	}
	return fmt.Errorf("%w: %w", claims.ErrUnavailable, err)
}
