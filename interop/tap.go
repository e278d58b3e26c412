package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// tap is a reverse proxy in front of the provider, at the issuer's
// address: everything the venue and the browser send to the provider goes
// through it. It records each call (method, path, status) and, for the
// token endpoint, the grant with the refresh tokens presented and
// returned, so that the run can say which calls each step made and replay
// a rotated refresh token at the provider. Tokens stay in memory; they are
// never printed.
type tap struct {
	proxy *httputil.ReverseProxy

	mu     sync.Mutex // guards calls and grants
	calls  []call
	grants []grant
}

// call is one request to the provider.
type call struct {
	Method, Path string
	Status       int
}

func (c call) String() string { return fmt.Sprintf("%s %s %d", c.Method, c.Path, c.Status) }

// grant is one token-endpoint exchange.
type grant struct {
	ClientID   string
	Type       string // grant_type
	RefreshIn  string // the refresh token presented (refresh_token grant)
	RefreshOut string // the refresh token answered, if any
	Status     int
	Error      string // the provider's error code, if any
}

// maxTapBody bounds the bodies the tap reads.
const maxTapBody = 1 << 20

func newTap(target *url.URL) *tap {
	t := &tap{}
	t.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// oidc-provider builds its endpoint URLs from the request's host:
			// keep the issuer's.
			r.Out.Host = r.In.Host
		},
		ModifyResponse: t.record,
	}
	return t
}

// tokenPath is oidc-provider's token endpoint (its default route).
const tokenPath = "/token"

func (t *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == tokenPath {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxTapBody))
		r.Body.Close()
		if err != nil {
			http.Error(w, "tap: reading the request", http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		r = r.WithContext(context.WithValue(r.Context(), formKey{}, form))
	}
	t.proxy.ServeHTTP(w, r)
}

// record notes a response; a token-endpoint answer is read and put back.
func (t *tap) record(resp *http.Response) error {
	req := resp.Request
	c := call{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode}
	var g *grant
	if req.Method == http.MethodPost && req.URL.Path == tokenPath {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxTapBody))
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var answer struct {
			RefreshToken string `json:"refresh_token"`
			Error        string `json:"error"`
		}
		_ = json.Unmarshal(body, &answer)
		form, _ := req.Context().Value(formKey{}).(url.Values)
		id, _, _ := req.BasicAuth()
		if id == "" {
			id = form.Get("client_id")
		}
		id, _ = url.QueryUnescape(id) // client_secret_basic form-encodes the id
		g = &grant{ClientID: id, Type: form.Get("grant_type"), RefreshIn: form.Get("refresh_token"),
			RefreshOut: answer.RefreshToken, Status: resp.StatusCode, Error: answer.Error}
		c.Path += " (" + g.Type + ")"
	}
	t.mu.Lock()
	t.calls = append(t.calls, c)
	if g != nil {
		t.grants = append(t.grants, *g)
	}
	t.mu.Unlock()
	return nil
}

// formKey carries a token request's form from ServeHTTP to record: the
// outbound request's context is the inbound one's.
type formKey struct{}

// mark is a position in the tap's records.
type mark struct{ calls, grants int }

func (t *tap) mark() mark {
	t.mu.Lock()
	defer t.mu.Unlock()
	return mark{len(t.calls), len(t.grants)}
}

// callsSince returns the calls made after m, optionally only those whose
// path starts with prefix.
func (t *tap) callsSince(m mark, prefix string) []call {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []call
	for _, c := range t.calls[m.calls:] {
		if strings.HasPrefix(c.Path, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// grantsSince returns the token-endpoint exchanges made after m.
func (t *tap) grantsSince(m mark) []grant {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]grant(nil), t.grants[m.grants:]...)
}

// describe lists calls for a report line.
func describe(calls []call) string {
	if len(calls) == 0 {
		return "no call to the provider"
	}
	s := make([]string, len(calls))
	for i, c := range calls {
		s[i] = c.String()
	}
	return "provider saw " + strings.Join(s, ", ")
}
