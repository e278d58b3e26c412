package tokenvalidator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/claims"
)

// maxProviderResponse bounds what is read from a provider's answer.
const maxProviderResponse = 1 << 20

// Metadata is the part of an issuer's OpenID Connect discovery document
// (or RFC 8414 metadata) that authgate uses.
type Metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	// IssuerInAuthorizationResponse is the document's
	// authorization_response_iss_parameter_supported: the provider puts
	// iss in every authorization response (RFC 9207).
	IssuerInAuthorizationResponse bool `json:"authorization_response_iss_parameter_supported"`
}

// ErrIssuerMismatch is wrapped by Discover's error when the discovery
// document names another issuer than the configured one.
var ErrIssuerMismatch = errors.New("tokenvalidator: the discovery document names another issuer")

// Discover fetches issuer's discovery document
// (issuer + "/.well-known/openid-configuration"). The document must name the
// same issuer (OpenID Connect Discovery §4.3; else ErrIssuerMismatch, with
// both spellings) and an absolute jwks_uri, over https when the issuer is
// https. An unreachable provider or an unreadable document is an error that
// matches claims.ErrUnavailable. A nil client means http.DefaultClient with
// ctx's deadline.
func Discover(ctx context.Context, client *http.Client, issuer string) (*Metadata, error) {
	if client == nil {
		client = http.DefaultClient
	}
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	var md Metadata
	if err := getJSON(ctx, client, u, &md); err != nil {
		return nil, fmt.Errorf("tokenvalidator: discovery: %w: %w", claims.ErrUnavailable, err)
	}
	if md.Issuer != issuer {
		hint := ""
		if strings.TrimSuffix(md.Issuer, "/") == strings.TrimSuffix(issuer, "/") {
			hint = "; they differ only in the trailing slash: configure the document's spelling, which is the iss of the provider's tokens"
		}
		return nil, fmt.Errorf("%w: %s names issuer %q, but the configured issuer is %q%s", ErrIssuerMismatch, u, md.Issuer, issuer, hint)
	}
	ju, err := url.Parse(md.JWKSURI)
	if err != nil || !ju.IsAbs() || ju.Host == "" || (ju.Scheme != "https" && ju.Scheme != "http") {
		return nil, errors.New("tokenvalidator: discovery: jwks_uri is not an absolute http(s) URL")
	}
	if strings.HasPrefix(issuer, "https://") && ju.Scheme != "https" {
		return nil, errors.New("tokenvalidator: discovery: an https issuer's jwks_uri must be https")
	}
	return &md, nil
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	body, err := getBody(ctx, client, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// getBody GETs u, JSON accepted, and returns a 200 answer's body, of at
// most maxProviderResponse bytes.
func getBody(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse+1))
	switch {
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	case err != nil:
		return nil, fmt.Errorf("GET %s: %w", u, err)
	case len(body) > maxProviderResponse:
		return nil, fmt.Errorf("GET %s: the answer is larger than %d bytes", u, maxProviderResponse)
	}
	return body, nil
}
