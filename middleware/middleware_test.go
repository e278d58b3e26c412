package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/middleware"
)

// tableAuth answers Authenticate from a fixed table: the middleware's own
// tests are about the HTTP mapping, so the authenticator's verdicts are set
// by hand here (the real one is tested in authn and the venue example).
type tableAuth map[string]struct {
	p   *claims.Principal
	err error
}

func (a tableAuth) Authenticate(_ context.Context, token string) (*claims.Principal, error) {
	v, ok := a[token]
	if !ok {
		return nil, claims.Invalid(claims.ReasonBadSignature, nil)
	}
	return v.p, v.err
}

var (
	alice = &claims.Principal{Subject: "auth0|alice", AuthorizedParty: "venue-app", Kind: claims.KindUser, OrgID: "org_acme",
		Audience: []string{"https://api.venue.example", "https://tenant.example/userinfo"},
		Scopes:   claims.ParseScope("read:venues book:venues"), Permissions: claims.NewSet("read:venues", "book:venues")}
	partner = &claims.Principal{Subject: "auth0|bob", AuthorizedParty: "partner-app", Kind: claims.KindDelegated, OrgID: "org_globex",
		Scopes: claims.ParseScope("read:venues")}
	worker = &claims.Principal{Subject: "worker@clients", AuthorizedParty: "worker", Kind: claims.KindMachine,
		Scopes: claims.ParseScope("read:venues")}

	auth = tableAuth{
		"alice":       {p: alice},
		"partner":     {p: partner},
		"worker":      {p: worker},
		"expired":     {err: fmt.Errorf("x: %w", claims.Invalid(claims.ReasonExpired, errors.New("secret detail")))},
		"future":      {err: claims.Invalid(claims.ReasonNotYetValid, nil)},
		"down":        {err: fmt.Errorf("tokenvalidator: JWKS: %w: dial tcp: refused", claims.ErrUnavailable)},
		"weird":       {err: errors.New("enricher exploded")},
		"budget":      {err: fmt.Errorf("tokenvalidator: %w", &claims.RetryError{After: 42 * time.Second})},
		"gone-client": {err: context.Canceled},
	}
)

// whoami writes the subject of the request's Principal, or "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if p, ok := middleware.PrincipalFrom(r.Context()); ok {
		fmt.Fprint(w, p.Subject)
		return
	}
	fmt.Fprint(w, "anonymous")
})

type answer struct {
	status    int
	challenge string // WWW-Authenticate; "" = must be absent
	body      string // JSON body, or the handler's text on 200
}

func serve(t *testing.T, h http.Handler, r *http.Request) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	a := answer{rec.Code, rec.Header().Get("WWW-Authenticate"), strings.TrimSpace(rec.Body.String())}
	if rec.Code != http.StatusOK {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q on a refusal", ct)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q on a refusal", cc)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Errorf("refusal body is not JSON: %q", rec.Body)
		}
	}
	return a
}

func newMiddleware(t *testing.T, cfg middleware.Config, opts ...middleware.Option) *middleware.Middleware {
	t.Helper()
	m, err := middleware.New(auth, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func get(authorization ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/whoami", nil)
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	return r
}

func TestAnswers(t *testing.T) {
	h := newMiddleware(t, middleware.Config{Realm: "venues"}).Handler(whoami)
	for _, tc := range []struct {
		name string
		req  *http.Request
		want answer
	}{
		{"user", get("Bearer alice"), answer{200, "", "auth0|alice"}},
		{"scheme any case", get("bearer partner"), answer{200, "", "auth0|bob"}},
		{"no credentials", get(), answer{401, `Bearer realm="venues"`, `{"error_description":"a bearer token is required"}`}},
		{"other scheme", get("Basic dXNlcjpwYXNz"), answer{401, `Bearer realm="venues"`, `{"error_description":"a bearer token is required"}`}},
		{"empty bearer", get("Bearer "), answer{400,
			`Bearer realm="venues", error="invalid_request", error_description="bearer credential must be one token"`,
			`{"error":"invalid_request","error_description":"bearer credential must be one token"}`}},
		{"two tokens in one header", get("Bearer alice partner"), answer{400,
			`Bearer realm="venues", error="invalid_request", error_description="bearer credential must be one token"`,
			`{"error":"invalid_request","error_description":"bearer credential must be one token"}`}},
		// RFC 6750 §3.1: a malformed token (not the request) is invalid_token.
		{"token with a quote", get(`Bearer ali"ce`), answer{401,
			`Bearer realm="venues", error="invalid_token", error_description="the access token is invalid"`,
			`{"error":"invalid_token","error_description":"the access token is invalid"}`}},
		{"two headers", get("Bearer alice", "Bearer partner"), answer{400,
			`Bearer realm="venues", error="invalid_request", error_description="more than one bearer token"`,
			`{"error":"invalid_request","error_description":"more than one bearer token"}`}},
		{"too large", get("Bearer " + strings.Repeat("a", 16<<10+1)), answer{401,
			`Bearer realm="venues", error="invalid_token", error_description="the access token is invalid"`,
			`{"error":"invalid_token","error_description":"the access token is invalid"}`}},
		{"invalid token", get("Bearer forged"), answer{401,
			`Bearer realm="venues", error="invalid_token", error_description="the access token is invalid"`,
			`{"error":"invalid_token","error_description":"the access token is invalid"}`}},
		{"expired, detail kept out", get("Bearer expired"), answer{401,
			`Bearer realm="venues", error="invalid_token", error_description="the access token expired"`,
			`{"error":"invalid_token","error_description":"the access token expired"}`}},
		{"not yet valid", get("Bearer future"), answer{401,
			`Bearer realm="venues", error="invalid_token", error_description="the access token is not valid yet"`,
			`{"error":"invalid_token","error_description":"the access token is not valid yet"}`}},
		{"provider down", get("Bearer down"), answer{503, "",
			`{"error":"temporarily_unavailable","error_description":"the token could not be checked; retry later"}`}},
		{"unclassified error is 503 too", get("Bearer weird"), answer{503, "",
			`{"error":"temporarily_unavailable","error_description":"the token could not be checked; retry later"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := serve(t, h, tc.req); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestUnavailableHasRetryAfter(t *testing.T) {
	h := newMiddleware(t, middleware.Config{RetryAfter: 1500e6}).Handler(whoami)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, get("Bearer down"))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("status %d, Retry-After %q; want 503 and 2 (rounded up)", rec.Code, rec.Header().Get("Retry-After"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, get("Bearer budget"))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "42" {
		t.Fatalf("status %d, Retry-After %q; want 503 and the cause's own 42", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestOptional(t *testing.T) {
	h := newMiddleware(t, middleware.Config{Optional: true}).Handler(whoami)
	for _, tc := range []struct {
		req  *http.Request
		want int
		body string
	}{
		{get(), 200, "anonymous"},
		{get("Basic x"), 200, "anonymous"},
		{get("Bearer alice"), 200, "auth0|alice"},
		{get("Bearer forged"), 401, ""},
		{get("Bearer "), 400, ""},
	} {
		got := serve(t, h, tc.req)
		if got.status != tc.want || (tc.body != "" && got.body != tc.body) {
			t.Errorf("%v: got %+v", tc.req.Header, got)
		}
	}
}

func formPost(body url.Values, query string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/whoami?"+query, strings.NewReader(body.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestTokenSources(t *testing.T) {
	headerOnly := newMiddleware(t, middleware.Config{}).Handler(whoami)
	form := newMiddleware(t, middleware.Config{AllowFormToken: true}).Handler(whoami)
	query := newMiddleware(t, middleware.Config{InsecureAllowQueryToken: true}).Handler(whoami)
	both := newMiddleware(t, middleware.Config{AllowFormToken: true, InsecureAllowQueryToken: true}).Handler(whoami)
	withHeader := func(r *http.Request) *http.Request { r.Header.Set("Authorization", "Bearer alice"); return r }
	for _, tc := range []struct {
		name string
		h    http.Handler
		req  *http.Request
		want int
	}{
		{"form ignored by default", headerOnly, formPost(url.Values{"access_token": {"alice"}}, ""), 401},
		{"query ignored by default", headerOnly, get(), 401},
		{"form token", form, formPost(url.Values{"access_token": {"alice"}}, ""), 200},
		{"form token on GET refused", form, httptest.NewRequest(http.MethodGet, "/?access_token=alice", nil), 401},
		{"form token in JSON body ignored", form, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"access_token":"alice"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), 401},
		{"form and header", form, withHeader(formPost(url.Values{"access_token": {"alice"}}, "")), 400},
		{"form twice", form, formPost(url.Values{"access_token": {"alice", "alice"}}, ""), 400},
		{"malformed form token", form, formPost(url.Values{"access_token": {"a b"}}, ""), 400},
		{"query token", query, httptest.NewRequest(http.MethodGet, "/?access_token=alice", nil), 200},
		{"query and header", query, withHeader(httptest.NewRequest(http.MethodGet, "/?access_token=alice", nil)), 400},
		{"query twice", query, httptest.NewRequest(http.MethodGet, "/?access_token=alice&access_token=alice", nil), 400},
		{"form and query", both, formPost(url.Values{"access_token": {"alice"}}, "access_token=alice"), 400},
		{"header with form enabled", form, withHeader(formPost(url.Values{"other": {"x"}}, "")), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := serve(t, tc.h, tc.req); got.status != tc.want {
				t.Errorf("status = %d, want %d (%+v)", got.status, tc.want, got)
			}
		})
	}
}

func TestWithErrorWriter(t *testing.T) {
	var seen *middleware.Error
	m := newMiddleware(t, middleware.Config{}, middleware.WithErrorWriter(func(w http.ResponseWriter, _ *http.Request, e *middleware.Error) {
		seen = e
		w.WriteHeader(e.Status)
	}))
	rec := httptest.NewRecorder()
	m.Handler(whoami).ServeHTTP(rec, get("Bearer down"))
	if rec.Code != 503 || seen == nil || !errors.Is(seen.Err, claims.ErrUnavailable) || seen.RetryAfter == 0 {
		t.Fatalf("custom writer saw %+v, status %d", seen, rec.Code)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		auth middleware.Authenticator
		cfg  middleware.Config
		opts []middleware.Option
	}{
		"nil authenticator": {nil, middleware.Config{}, nil},
		"quote in realm":    {auth, middleware.Config{Realm: `a"b`}, nil},
		"negative size":     {auth, middleware.Config{MaxTokenBytes: -1}, nil},
		"nil error writer":  {auth, middleware.Config{}, []middleware.Option{middleware.WithErrorWriter(nil)}},
	} {
		if _, err := middleware.New(tc.auth, tc.cfg, tc.opts...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestChallengeSanitizes(t *testing.T) {
	got := middleware.Challenge(&middleware.Error{Realm: "r", Code: "invalid_token", Description: "a \"quoted\" \\ line\nbreak"})
	if want := `Bearer realm="r", error="invalid_token", error_description="a quoted  linebreak"`; got != want {
		t.Errorf("Challenge = %s\nwant        %s", got, want)
	}
}

// ErrorFor and Refuse answer for a handler that authenticates by itself
// exactly as Handler would.
func TestErrorForAndRefuse(t *testing.T) {
	m := newMiddleware(t, middleware.Config{Realm: "venues", RetryAfter: 7 * time.Second})
	for token := range auth {
		if token == "alice" || token == "partner" || token == "worker" {
			continue
		}
		t.Run(token, func(t *testing.T) {
			viaHandler := httptest.NewRecorder()
			m.Handler(whoami).ServeHTTP(viaHandler, get("Bearer "+token))

			_, err := auth.Authenticate(context.Background(), token)
			direct := httptest.NewRecorder()
			m.Refuse(direct, get(), middleware.ErrorFor(err))
			if direct.Code != viaHandler.Code || direct.Body.String() != viaHandler.Body.String() ||
				fmt.Sprint(direct.Header()) != fmt.Sprint(viaHandler.Header()) {
				t.Errorf("Refuse(ErrorFor) = %d %v %s\nHandler answered %d %v %s", direct.Code, direct.Header(), direct.Body,
					viaHandler.Code, viaHandler.Header(), viaHandler.Body)
			}
		})
	}
	if e := middleware.ErrorFor(claims.Invalid(claims.ReasonExpired, nil)); e.Status != 401 || e.Code != middleware.CodeInvalidToken {
		t.Errorf("ErrorFor(expired) = %+v", e)
	}
	if e := middleware.ErrorFor(&claims.RetryError{After: 3 * time.Second}); e.Status != 503 || e.RetryAfter != 3*time.Second {
		t.Errorf("ErrorFor(RetryError) = %+v", e)
	}
}
