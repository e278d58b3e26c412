package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// browser is the scripted user agent of a login: a fresh cookie jar,
// redirects followed as a browser follows them, and the provider's
// interaction prompts answered as the test user would — the login form
// with the user's credentials, the consent screen with "allow".
type browser struct {
	c                  *http.Client
	username, password string
}

func newBrowser(username, password string) *browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &browser{c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, username: username, password: password}
}

// venueTokens is the venue's answer to a login or a refresh.
type venueTokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"` // must stay empty: refresh tokens never leave the venue
}

// interaction is the provider's JSON interaction page (server.js).
type interaction struct {
	UID    string `json:"uid"`
	Prompt string `json:"prompt"`
}

// maxPages bounds the pages of one login: authorize, login, consent,
// callback, and some slack.
const maxPages = 8

// login runs the venue's code flow: GET /auth/authorize, the provider's
// login and consent, and the venue's /auth/callback, whose answer it
// returns with the prompts it answered.
func (b *browser) login(ctx context.Context, venue string) (*venueTokens, []string, error) {
	callback := venue + "/auth/callback"
	resp, err := b.do(ctx, http.MethodGet, venue+"/auth/authorize", nil)
	var prompts []string
	for page := 0; err == nil && page < maxPages; page++ {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if rerr != nil {
			return nil, prompts, rerr
		}
		at := resp.Request.URL
		switch {
		case strings.HasPrefix(at.String(), callback):
			if resp.StatusCode != http.StatusOK {
				return nil, prompts, fmt.Errorf("the venue's callback answered %d: %s", resp.StatusCode, excerpt(body))
			}
			var t venueTokens
			if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
				return nil, prompts, fmt.Errorf("the venue's callback answered no access token: %s", excerpt(body))
			}
			return &t, prompts, nil
		case strings.HasPrefix(at.Path, "/interaction/") && resp.StatusCode == http.StatusOK:
			var it interaction
			if err := json.Unmarshal(body, &it); err != nil {
				return nil, prompts, fmt.Errorf("interaction page %s: %w", at.Path, err)
			}
			prompts = append(prompts, it.Prompt)
			next := *at
			form := url.Values{}
			switch it.Prompt {
			case "login":
				next.Path += "/login"
				form.Set("username", b.username)
				form.Set("password", b.password)
			case "consent":
				next.Path += "/confirm"
			default:
				return nil, prompts, fmt.Errorf("the provider asks for %q, which the test user cannot answer", it.Prompt)
			}
			resp, err = b.do(ctx, http.MethodPost, next.String(), form)
		default:
			return nil, prompts, fmt.Errorf("unexpected page %s://%s%s (%d): %s", at.Scheme, at.Host, at.Path, resp.StatusCode, excerpt(body))
		}
	}
	if err != nil {
		return nil, prompts, err
	}
	return nil, prompts, fmt.Errorf("no callback after %d pages", maxPages)
}

func (b *browser) do(ctx context.Context, method, u string, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.c.Do(req)
}

// excerpt shortens a body for a report line, on one line.
func excerpt(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
