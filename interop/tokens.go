package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

var httpClient = &http.Client{Timeout: 30 * time.Second}

// tokenAnswer is a token endpoint's JSON answer.
type tokenAnswer struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	RefreshToken     string `json:"refresh_token"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// tokenRequest posts form to the provider's token endpoint as c
// (client_secret_basic, RFC 6749 §2.3.1).
func tokenRequest(ctx context.Context, tokenURL string, c client, form url.Values) (int, tokenAnswer, error) {
	var a tokenAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, a, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, a, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, a, err
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return resp.StatusCode, a, fmt.Errorf("token endpoint answered %d, not JSON: %s", resp.StatusCode, excerpt(body))
	}
	return resp.StatusCode, a, nil
}

// jwt is a compact JWS split into its parts; header and payload decoded.
type jwt struct {
	header, payload map[string]any
	parts           []string
}

// parseJWT decodes a compact JWS without verifying it; ok is false for
// anything else (an opaque token).
func parseJWT(token string) (*jwt, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	j := &jwt{parts: parts}
	for i, dst := range []*map[string]any{&j.header, &j.payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			return nil, false
		}
	}
	return j, true
}

func (j *jwt) str(claim string) string {
	s, _ := j.payload[claim].(string)
	return s
}

// audience returns aud as a list (RFC 7519 allows a string or an array).
func (j *jwt) audience() []string {
	switch aud := j.payload["aud"].(type) {
	case string:
		return []string{aud}
	case []any:
		var out []string
		for _, a := range aud {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// checkRFC9068 checks an access token is shaped as RFC 9068 and REFERENCE.md
// describe oidc-provider's: typ at+jwt, RS256, iss and aud as configured,
// client_id and no azp, the required claims present.
func checkRFC9068(token, issuer, audience, clientID string) (*jwt, error) {
	j, ok := parseJWT(token)
	if !ok {
		return nil, fmt.Errorf("not a JWT")
	}
	var problems []string
	if typ, _ := j.header["typ"].(string); typ != "at+jwt" {
		problems = append(problems, fmt.Sprintf("typ %q", typ))
	}
	if alg, _ := j.header["alg"].(string); alg != "RS256" {
		problems = append(problems, fmt.Sprintf("alg %q", alg))
	}
	if j.str("iss") != issuer {
		problems = append(problems, fmt.Sprintf("iss %q", j.str("iss")))
	}
	if !slices.Contains(j.audience(), audience) {
		problems = append(problems, fmt.Sprintf("aud %v", j.audience()))
	}
	if j.str("client_id") != clientID {
		problems = append(problems, fmt.Sprintf("client_id %q", j.str("client_id")))
	}
	if _, ok := j.payload["azp"]; ok {
		problems = append(problems, "has azp")
	}
	for _, c := range []string{"exp", "iat", "jti", "sub"} {
		if _, ok := j.payload[c]; !ok {
			problems = append(problems, "no "+c)
		}
	}
	if len(problems) > 0 {
		return j, fmt.Errorf("not as RFC 9068 says: %s", strings.Join(problems, ", "))
	}
	return j, nil
}

func segment(v any) string {
	b, _ := json.Marshal(v) // maps of JSON values always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

// tampered returns token with its payload changed (sub) and its signature
// kept.
func (j *jwt) tampered() string {
	p := clone(j.payload)
	p["sub"] = "someone-else"
	return j.parts[0] + "." + segment(p) + "." + j.parts[2]
}

// signedByAnotherKey returns token's header and claims, with a fresh
// expiry, signed RS256 by a key the provider never had, under the
// provider's kid.
func (j *jwt) signedByAnotherKey() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	p := clone(j.payload)
	p["exp"] = time.Now().Add(5 * time.Minute).Unix()
	input := segment(j.header) + "." + segment(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// unsigned returns token's claims under alg "none", with no signature.
func (j *jwt) unsigned() string {
	h := clone(j.header)
	h["alg"] = "none"
	return segment(h) + "." + j.parts[1] + "."
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// venueAPI calls the venue's routes.
type venueAPI struct{ base string }

// answer is a venue response: status, body, and the error fields of an
// error answer.
type answer struct {
	Status           int
	Body             []byte
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (a answer) String() string {
	if a.Error != "" || a.ErrorDescription != "" {
		return fmt.Sprintf("%d %s (%s)", a.Status, a.Error, a.ErrorDescription)
	}
	return fmt.Sprintf("%d", a.Status)
}

func (v venueAPI) call(ctx context.Context, method, path, token string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, v.base+path, nil)
	if err != nil {
		return answer{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{Status: resp.StatusCode}
	if a.Body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return a, err
	}
	if resp.StatusCode >= 400 {
		_ = json.Unmarshal(a.Body, &a)
	}
	return a, nil
}

// expect calls and checks the status.
func (v venueAPI) expect(ctx context.Context, method, path, token string, status int) (answer, error) {
	a, err := v.call(ctx, method, path, token)
	if err == nil && a.Status != status {
		err = fmt.Errorf("%s %s answered %s, want %d", method, path, a, status)
	}
	return a, err
}

// principal is the venue's GET /v1/whoami answer.
type principal struct {
	Subject         string   `json:"subject"`
	AuthorizedParty string   `json:"authorized_party"`
	Scopes          []string `json:"scopes"`
	Kind            string   `json:"kind"`
	Issuer          string   `json:"issuer"`
}

func (v venueAPI) whoami(ctx context.Context, token string) (*principal, error) {
	a, err := v.expect(ctx, http.MethodGet, "/v1/whoami", token, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var p principal
	if err := json.Unmarshal(a.Body, &p); err != nil {
		return nil, fmt.Errorf("whoami: %w", err)
	}
	return &p, nil
}

func (p *principal) String() string {
	return fmt.Sprintf("kind %s, sub %s, party %s, scopes %v", p.Kind, p.Subject, p.AuthorizedParty, p.Scopes)
}

// tokens posts to one of the venue's /auth routes with the access token.
func (v venueAPI) tokens(ctx context.Context, path, token string) (*venueTokens, answer, error) {
	a, err := v.call(ctx, http.MethodPost, path, token)
	if err != nil || a.Status != http.StatusOK {
		return nil, a, err
	}
	var t venueTokens
	if err := json.Unmarshal(a.Body, &t); err != nil {
		return nil, a, fmt.Errorf("%s: %w", path, err)
	}
	return &t, a, nil
}
