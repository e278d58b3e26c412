package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/middleware"
)

// noAuth is never asked: the rules tests check the parser and the matcher.
type noAuth struct{}

func (noAuth) Authenticate(context.Context, string) (*claims.Principal, error) {
	return nil, claims.ErrUnavailable
}

func testMiddleware(t testing.TB) *middleware.Middleware {
	mw, err := middleware.New(noAuth{}, middleware.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func TestParseRulesRefuses(t *testing.T) {
	mw := testMiddleware(t)
	for _, tc := range []struct{ file, want string }{
		{``, "EOF"},
		{`{}`, `no "rules"`},
		{`{"rules": []} {}`, "after the JSON"},
		{`{"rules": [{"path_prefx": "/v1/"}]}`, "unknown field"},
		{`{"rulez": []}`, "unknown field"},
		{`{"rules": [{"path_prefix": "v1/"}]}`, "does not start with /"},
		{`{"rules": [{"methods": ["GE T"]}]}`, "not an HTTP method"},
		{`{"rules": [{"methods": [""]}]}`, "not an HTTP method"},
		{`{"rules": [{"kinds": ["admin"]}]}`, "unknown kind"},
		{`{"rules": [{"kinds": ["unknown"]}]}`, "unknown kind"},
		{`{"rules": [{"scopes": ["a b"]}]}`, "not a scope name"},
		{`{"rules": [{"scopes": "a"}]}`, "cannot unmarshal"},
		{`{"rules": [{}, {"kinds": ["x"]}]}`, "rules[1]"},
		{strings.Repeat(" ", maxRulesFile+1), "larger than"},
	} {
		if _, err := parseRules(strings.NewReader(tc.file), mw, http.HandlerFunc(allow)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.40q: %v, want %q", tc.file, err, tc.want)
		}
	}
	rules, err := parseRules(strings.NewReader(demoRules), mw, http.HandlerFunc(allow))
	if err != nil || len(rules) != 2 || rules[0].methods[0] != "POST" || rules[1].pathPrefix != "/v1/venues" {
		t.Fatalf("demo rules: %+v %v", rules, err)
	}
}

func TestMatch(t *testing.T) {
	rules, err := parseRules(strings.NewReader(`{"rules": [
		{"methods": ["post"], "path_prefix": "/v1/venues/"},
		{"methods": ["GET"], "path_prefix": "/v1/venues"},
		{"path_prefix": "/admin"}
	]}`), testMiddleware(t), http.HandlerFunc(allow))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		want         int // index of the rule, -1 for none
	}{
		{"POST", "/v1/venues/v1/bookings", 0},
		{"GET", "/v1/venues/v1", 1}, // first match for the method
		{"HEAD", "/v1/venues", 1},
		{"PUT", "/v1/venues/x", -1},
		{"DELETE", "/admin", 2},
		{"DELETE", "/administrators", 2}, // a plain prefix: end it with / for a segment
		{"GET", "/", -1},
	} {
		got := -1
		if r := match(rules, tc.method, tc.path); r != nil {
			for i := range rules {
				if r == &rules[i] {
					got = i
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s %s: rule %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestOriginal(t *testing.T) {
	for _, tc := range []struct {
		target  string
		method  string
		headers []string
		want    string // "METHOD path", or "error"
	}{
		{"/auth", "GET", []string{"X-Original-Method", "POST", "X-Original-URI", "/v1/venues/x?y=1"}, "POST /v1/venues/x"},
		{"/auth", "GET", []string{"X-Forwarded-Method", "put", "X-Forwarded-Uri", "/a/./b/../c/"}, "PUT /a/c/"},
		{"/auth", "GET", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "//a//b"}, "GET /a/b"},
		{"/auth", "GET", []string{"X-Original-Method", "GET", "X-Original-URI", "/%2e%2e/admin"}, "GET /admin"},
		{"/auth", "GET", []string{"X-Original-Method", "GET", "X-Original-URI", "http://h/x"}, "GET /x"},
		{"/auth/v1/venues/", "DELETE", nil, "DELETE /v1/venues/"},
		{"/auth/%76enues", "GET", nil, "GET /venues"},
		{"/auth", "GET", nil, "GET /"},
		{"/auth", "GET", []string{"X-Original-URI", "/x"}, "error"},
		{"/auth", "GET", []string{"X-Original-Method", "GET"}, "error"},
		{"/auth", "GET", []string{"X-Original-Method", "GET", "X-Original-URI", ""}, "error"},
		{"/auth", "GET", []string{"X-Original-Method", "GET", "X-Original-URI", "x"}, "error"},
		{"/auth", "GET", []string{"X-Original-Method", "GET", "X-Original-URI", "/a", "X-Forwarded-Uri", "/b"}, "error"},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		for i := 0; i+1 < len(tc.headers); i += 2 {
			r.Header.Add(tc.headers[i], tc.headers[i+1])
		}
		m, p, err := original(r)
		got := m + " " + p
		if err != nil {
			got = "error"
		}
		if got != tc.want {
			t.Errorf("%s %v: %q (%v), want %q", tc.target, tc.headers, got, err, tc.want)
		}
	}
}

// FuzzOriginal: whatever a gateway (or a client through it) sends, the path
// rules are matched against is absolute and clean, or the request is
// refused.
func FuzzOriginal(f *testing.F) {
	for _, s := range []string{"/v1/venues/x?y", "/a/../../b", "//x", "%2F..%2F", "http://h/p", "/\x00", ""} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, uri string) {
		r := httptest.NewRequest("GET", "/auth", nil)
		r.Header["X-Original-Method"] = []string{method}
		r.Header["X-Original-Uri"] = []string{uri}
		_, p, err := original(r)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.Contains(p+"/", "/../") || strings.Contains(p+"/", "/./") {
			t.Fatalf("%q became %q", uri, p)
		}
	})
}

// FuzzParseRules: a rules file either parses into rules that each have a
// handler, or is refused; it never panics.
func FuzzParseRules(f *testing.F) {
	f.Add(demoRules)
	f.Add(`{"rules": [{"methods": ["GET"], "path_prefix": "/", "scopes": ["a"], "kinds": ["machine"], "audience": "x"}]}`)
	mw := testMiddleware(f)
	f.Fuzz(func(t *testing.T, file string) {
		rules, err := parseRules(strings.NewReader(file), mw, http.HandlerFunc(allow))
		for _, r := range rules {
			if err != nil || r.handler == nil || (r.pathPrefix != "" && r.pathPrefix[0] != '/') {
				t.Fatalf("%q: %+v, %v", file, r, err)
			}
		}
	})
}
