package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/middleware"
)

// rule is one entry of RULES_FILE: what a request needs when its original
// method and path match. The checks themselves are the middleware's
// Require… helpers, chained in handler.
type rule struct {
	methods    []string // upper case; empty: any method
	pathPrefix string   // "" or starting with "/"
	handler    http.Handler
}

// ruleJSON is a rule as written in RULES_FILE.
type ruleJSON struct {
	Methods    []string `json:"methods"`
	PathPrefix string   `json:"path_prefix"`
	Scopes     []string `json:"scopes"`
	Kinds      []string `json:"kinds"`
	Audience   string   `json:"audience"`
}

// maxRulesFile bounds what is read of RULES_FILE.
const maxRulesFile = 1 << 20

// parseRules reads a rules file, {"rules": [...]}, and builds each rule's
// checks with mw in front of allow. Unknown members are errors, so that a
// misspelt requirement never silently lets requests through.
func parseRules(r io.Reader, mw *middleware.Middleware, allow http.Handler) ([]rule, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRulesFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRulesFile {
		return nil, fmt.Errorf("rules: larger than %d bytes", maxRulesFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var file struct {
		Rules []ruleJSON `json:"rules"`
	}
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if dec.More() {
		return nil, errors.New("rules: data after the JSON object")
	}
	if file.Rules == nil {
		return nil, errors.New(`rules: no "rules" array`)
	}
	rules := make([]rule, 0, len(file.Rules))
	for i, rj := range file.Rules {
		r, err := rj.build(mw, allow)
		if err != nil {
			return nil, fmt.Errorf("rules[%d]: %w", i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func (rj ruleJSON) build(mw *middleware.Middleware, allow http.Handler) (rule, error) {
	r := rule{pathPrefix: rj.PathPrefix}
	if r.pathPrefix != "" && !strings.HasPrefix(r.pathPrefix, "/") {
		return r, fmt.Errorf("path_prefix %q does not start with /", r.pathPrefix)
	}
	for _, m := range rj.Methods {
		if m == "" || strings.ContainsFunc(m, func(c rune) bool { return c <= ' ' || c >= 0x7f }) {
			return r, fmt.Errorf("method %q is not an HTTP method", m)
		}
		r.methods = append(r.methods, strings.ToUpper(m))
	}
	h := allow
	if rj.Audience != "" {
		h = mw.RequireAudience(rj.Audience)(h)
	}
	if len(rj.Kinds) > 0 {
		kinds := make([]claims.Kind, len(rj.Kinds))
		for i, k := range rj.Kinds {
			var err error
			if kinds[i], err = claims.ParseKind(k); err != nil {
				return r, err
			}
		}
		h = mw.RequireKind(kinds...)(h)
	}
	if len(rj.Scopes) > 0 {
		for _, s := range rj.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\"\\") {
				return r, fmt.Errorf("scope %q is not a scope name", s)
			}
		}
		h = mw.RequireScopes(rj.Scopes...)(h)
	}
	r.handler = h
	return r, nil
}

// matches reports whether the rule applies to a request for method and the
// clean path p. A rule for GET applies to HEAD as well: HEAD answers what
// GET would.
func (r *rule) matches(method, p string) bool {
	if len(r.methods) > 0 && !slices.Contains(r.methods, method) &&
		(method != http.MethodHead || !slices.Contains(r.methods, http.MethodGet)) {
		return false
	}
	return strings.HasPrefix(p, r.pathPrefix)
}

// match returns the first rule for method and p, or nil.
func match(rules []rule, method, p string) *rule {
	for i := range rules {
		if rules[i].matches(method, p) {
			return &rules[i]
		}
	}
	return nil
}

// The headers gateways use to tell the original request: Traefik's
// ForwardAuth sends X-Forwarded-Method and X-Forwarded-Uri; nginx's
// auth_request sends what its configuration sets, conventionally
// X-Original-Method and X-Original-URI. Envoy's ext_authz sends the original
// method, and the original path under the configured prefix (/auth).
const (
	headerForwardedMethod = "X-Forwarded-Method"
	headerForwardedURI    = "X-Forwarded-Uri"
	headerOriginalMethod  = "X-Original-Method"
	headerOriginalURI     = "X-Original-URI"
)

// original returns the method and the clean, decoded path of the request a
// gateway asks about. Both headers of one style are required together, and
// both styles at once are refused: a client could otherwise add the style
// its gateway does not set, and choose the rule it is held to.
func original(r *http.Request) (method, p string, err error) {
	traefik := len(r.Header.Values(headerForwardedMethod))+len(r.Header.Values(headerForwardedURI)) > 0
	nginx := len(r.Header.Values(headerOriginalMethod))+len(r.Header.Values(headerOriginalURI)) > 0
	var uri string
	switch {
	case traefik && nginx:
		return "", "", errors.New("both X-Forwarded-* and X-Original-* headers: the original request is ambiguous")
	case traefik:
		method, uri, err = headerPair(r.Header, headerForwardedMethod, headerForwardedURI)
	case nginx:
		method, uri, err = headerPair(r.Header, headerOriginalMethod, headerOriginalURI)
	default:
		// Envoy: the path after /auth is the original one.
		method, uri = r.Method, strings.TrimPrefix(r.URL.EscapedPath(), "/auth")
		if uri == "" {
			uri = "/"
		}
	}
	if err != nil {
		return "", "", err
	}
	p, err = cleanPath(uri)
	return strings.ToUpper(method), p, err
}

// headerPair returns the one value of each of two headers.
func headerPair(h http.Header, methodName, uriName string) (string, string, error) {
	m, u := h.Values(methodName), h.Values(uriName)
	if len(m) != 1 || len(u) != 1 || m[0] == "" || u[0] == "" {
		return "", "", fmt.Errorf("%s and %s are needed once each", methodName, uriName)
	}
	return m[0], u[0], nil
}

// cleanPath returns the decoded path of a request URI ("/a/b?q"), with dot
// segments and repeated slashes removed as the services behind the gateway
// will see it; a trailing slash is kept.
func cleanPath(uri string) (string, error) {
	u, err := url.ParseRequestURI(uri)
	if err != nil || !strings.HasPrefix(u.Path, "/") {
		return "", errors.New("the original URI is not an absolute path")
	}
	p := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && p != "/" {
		p += "/"
	}
	return p, nil
}
