package tokenvalidator_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

func newRemote(t testing.TB, url string, now func() time.Time, mutate ...func(*tokenvalidator.RemoteConfig)) *tokenvalidator.Remote {
	t.Helper()
	cfg := tokenvalidator.RemoteConfig{URL: url, ClientID: "venue-api", ClientSecret: "venue-api secret&=", Timeout: 2 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := tokenvalidator.NewRemote(cfg, tokenvalidator.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A provider's RFC 7662 endpoint (idptest's): standard members only, read
// under the configured Mapping; inactive and revoked tokens are invalid.
func TestRemoteProviderEndpoint(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	v := newRemote(t, idp.IntrospectionURL(), idp.Now, func(c *tokenvalidator.RemoteConfig) {
		c.ClientID, c.ClientSecret = "venue-app", "venue-app-secret"
		c.Issuers, c.Audiences = []string{idp.Issuer()}, []string{api}
		c.Mapping = claims.Mapping{FirstPartyClients: []string{"venue-app"}}
	})
	ctx := context.Background()
	tok := opaqueFor(t, idp, "alice")
	res, err := v.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Principal
	if p.Subject != "auth0|alice" || p.AuthorizedParty != "venue-app" || p.Kind != claims.KindUser || p.OrgID != "org_acme" ||
		p.Issuer != idp.Issuer() || !p.HasScope("read:venues") || res.CacheUntil != p.ExpiresAt {
		t.Errorf("principal %+v, cache until %v", p, res.CacheUntil)
	}
	revoke(t, idp, tok)
	if _, err := v.Validate(ctx, tok); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("revoked token: %v", err)
	}
	if _, err := v.Validate(ctx, "never-issued"); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("unknown token: %v", err)
	}

	// Wrong credentials are this service's problem: 503, never inactive.
	wrong := newRemote(t, idp.IntrospectionURL(), idp.Now, func(c *tokenvalidator.RemoteConfig) { c.ClientSecret = "wrong" })
	if _, err := wrong.Validate(ctx, opaqueFor(t, idp, "alice")); !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("refused credentials: %v", err)
	}
	for _, f := range []idptest.Fault{idptest.FaultError, idptest.FaultUnavailable, idptest.FaultDrop} {
		idp.SetFault(idptest.EndpointIntrospect, f)
		_, err := v.Validate(ctx, opaqueFor(t, idp, "alice"))
		if !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
			t.Errorf("fault %v: %v", f, err)
		}
		if after, ok := claims.RetryAfterOf(err); f == idptest.FaultUnavailable && (!ok || after != time.Second) {
			t.Errorf("fault %v: Retry-After %v %v, want 1s", f, after, ok)
		}
	}
}

// tokenService answers like authgate's token service, checking the Basic
// credentials a Remote sends.
func tokenService(t *testing.T, status int, header http.Header, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		id, secret, ok := r.BasicAuth()
		if !ok || id != "venue-api" || secret != "venue-api+secret%26%3D" || r.Method != http.MethodPost ||
			r.PostFormValue("token") == "" || r.PostFormValue("token_type_hint") != "access_token" {
			t.Errorf("request: basic %q %q %v, %s, form %v", id, secret, ok, r.Method, r.PostForm)
		}
		for k, vs := range header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

const serviceAnswer = `{"active":true,"sub":"auth0|bob","client_id":"partner-app","scope":"read:venues book:venues",
	"exp":2000000000,"iat":1999990000,"iss":"https://idp.example/","aud":["https://api.venue.example"],"token_type":"Bearer",
	"org_id":"org_globex","org_name":"globex","permissions":["read:venues"],"kind":"delegated",
	"ext":{"datasets":["footfall"]}}`

func TestRemoteTokenServiceAnswer(t *testing.T) {
	now := func() time.Time { return time.Unix(1999990100, 0) }
	srv, _ := tokenService(t, 200, nil, serviceAnswer)
	// A Mapping that would read other names, and call partner-app first
	// party: the token service's answer is read under its own names, and its
	// kind wins.
	v := newRemote(t, srv.URL, now, func(c *tokenvalidator.RemoteConfig) {
		c.Mapping = claims.Mapping{OrgIDClaim: "tid", FirstPartyClients: []string{"partner-app"}}
		c.Issuers, c.Audiences = []string{"https://idp.example/"}, []string{api}
	})
	res, err := v.Validate(context.Background(), "opaque-or-jwt")
	if err != nil {
		t.Fatal(err)
	}
	want := &claims.Principal{
		Subject: "auth0|bob", AuthorizedParty: "partner-app", OrgID: "org_globex", OrgName: "globex",
		Scopes: claims.ParseScope("read:venues book:venues"), Permissions: claims.NewSet("read:venues"),
		Issuer: "https://idp.example/", Audience: []string{api}, IssuedAt: time.Unix(1999990000, 0).UTC(),
		ExpiresAt: time.Unix(2000000000, 0).UTC(), Kind: claims.KindDelegated,
		Enrichment: map[string][]string{"datasets": {"footfall"}},
	}
	if !reflect.DeepEqual(res.Principal, want) {
		t.Errorf("principal\n%+v\nwant\n%+v", res.Principal, want)
	}
	if !res.CacheUntil.Equal(want.ExpiresAt) {
		t.Errorf("CacheUntil %v, want the token's exp", res.CacheUntil)
	}
	capped := newRemote(t, srv.URL, now, func(c *tokenvalidator.RemoteConfig) { c.CacheTTL = time.Minute })
	if res, err := capped.Validate(context.Background(), "t"); err != nil || !res.CacheUntil.Equal(now().Add(time.Minute)) {
		t.Errorf("CacheTTL 1m: %v, %v", res.CacheUntil, err)
	}
}

func TestRemoteVerdicts(t *testing.T) {
	now := func() time.Time { return time.Unix(1999990100, 0) }
	replace := func(old, new string) string { return strings.Replace(serviceAnswer, old, new, 1) }
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		cfg    func(*tokenvalidator.RemoteConfig)
		reason claims.Reason // 0: unavailable
		after  time.Duration // the RetryError's wait, if any
	}{
		{name: "inactive", status: 200, body: `{"active":false}`, reason: claims.ReasonInactive},
		{name: "expired", status: 200, body: replace(`"exp":2000000000`, `"exp":1999990000`), reason: claims.ReasonExpired},
		{name: "not yet valid", status: 200, body: replace(`"iat"`, `"nbf":1999999999,"x"`), reason: claims.ReasonNotYetValid},
		{name: "refresh token", status: 200, body: replace(`"Bearer"`, `"refresh_token"`), reason: claims.ReasonType},
		{name: "other issuer", status: 200, body: serviceAnswer, reason: claims.ReasonIssuer,
			cfg: func(c *tokenvalidator.RemoteConfig) { c.Issuers = []string{"https://other.example/"} }},
		{name: "no issuer, two configured", status: 200, body: replace(`"iss":"https://idp.example/",`, ``), reason: claims.ReasonIssuer,
			cfg: func(c *tokenvalidator.RemoteConfig) {
				c.Issuers = []string{"https://idp.example/", "https://b.example/"}
			}},
		{name: "other audience", status: 200, body: serviceAnswer, reason: claims.ReasonAudience,
			cfg: func(c *tokenvalidator.RemoteConfig) { c.Audiences = []string{"https://other.example"} }},
		{name: "500", status: 500, body: `{"error":"server_error"}`},
		{name: "502 with Retry-After is not a retry hint", status: 502, header: http.Header{"Retry-After": {"9"}}},
		{name: "503 Retry-After seconds", status: 503, header: http.Header{"Retry-After": {"7"}}, after: 7 * time.Second},
		{name: "503 Retry-After date", status: 503, header: http.Header{"Retry-After": {now().Add(30 * time.Second).UTC().Format(http.TimeFormat)}},
			after: 30 * time.Second},
		{name: "429 Retry-After absurd", status: 429, header: http.Header{"Retry-After": {"999999"}}, after: time.Minute}, // capped
		{name: "401: our credentials", status: 401, body: `{"error":"invalid_client"}`},
		{name: "400", status: 400, body: `{"error":"invalid_request"}`},
		{name: "not JSON", status: 200, body: `<html>`},
		{name: "no active", status: 200, body: `{"sub":"x"}`},
		{name: "active not a boolean", status: 200, body: `{"active":"true"}`},
		{name: "bad kind", status: 200, body: replace(`"delegated"`, `"admin"`)},
		{name: "unknown kind", status: 200, body: replace(`"delegated"`, `"unknown"`)},
		{name: "bad ext", status: 200, body: replace(`{"datasets":["footfall"]}`, `{"datasets":"footfall"}`)},
		{name: "bad exp", status: 200, body: replace(`2000000000`, `"2000000000"`)},
		{name: "service answer without sub", status: 200, body: replace(`"sub":"auth0|bob",`, ``)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := tokenService(t, tc.status, tc.header, tc.body)
			v := newRemote(t, srv.URL, now, func(c *tokenvalidator.RemoteConfig) {
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			_, err := v.Validate(context.Background(), "some.token")
			if calls.Load() != 1 {
				t.Fatalf("%d calls", calls.Load())
			}
			reason, isInvalid := claims.ReasonOf(err)
			switch {
			case tc.reason != 0 && (!isInvalid || reason != tc.reason):
				t.Errorf("got %v, want invalid %v", err, tc.reason)
			case tc.reason == 0 && (isInvalid || !errors.Is(err, claims.ErrUnavailable)):
				t.Errorf("got %v, want unavailable and not invalid", err)
			}
			if after, _ := claims.RetryAfterOf(err); after != tc.after {
				t.Errorf("retry after %v, want %v", after, tc.after)
			}
		})
	}
}

// The endpoint gone (connection refused) is unavailable, and so is one that
// does not answer within the Timeout.
func TestRemoteUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	v := newRemote(t, srv.URL, time.Now)
	if _, err := v.Validate(context.Background(), "t"); !errors.Is(err, claims.ErrUnavailable) {
		t.Errorf("closed: %v", err)
	}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	v = newRemote(t, slow.URL, time.Now, func(c *tokenvalidator.RemoteConfig) { c.Timeout = 50 * time.Millisecond })
	if _, err := v.Validate(context.Background(), "t"); !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("hanging: %v", err)
	}
}

func TestRemoteRefusesBeforeCalling(t *testing.T) {
	srv, calls := tokenService(t, 200, nil, serviceAnswer)
	v := newRemote(t, srv.URL, time.Now, func(c *tokenvalidator.RemoteConfig) { c.MaxTokenBytes = 10 })
	for _, tok := range []string{"", "has space", strings.Repeat("a", 11)} {
		if _, err := v.Validate(context.Background(), tok); !errors.Is(err, claims.ErrInvalidToken) {
			t.Errorf("%q: %v", tok, err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("%d calls for tokens refused locally", calls.Load())
	}
}

func TestNewRemoteRefuses(t *testing.T) {
	for _, cfg := range []tokenvalidator.RemoteConfig{
		{URL: "/introspect", ClientID: "a", ClientSecret: "b"},
		{URL: "ftp://x/introspect", ClientID: "a", ClientSecret: "b"},
		{URL: "http://x/introspect", ClientID: "a"},
		{URL: "http://x/introspect", ClientID: "a", ClientSecret: "b", CacheTTL: -1},
	} {
		if _, err := tokenvalidator.NewRemote(cfg); err == nil {
			t.Errorf("NewRemote(%+v) accepted", cfg)
		}
	}
}

func TestRemotePolicy(t *testing.T) {
	base := func(c *tokenvalidator.RemoteConfig) {
		c.Issuers, c.Audiences = []string{"https://a.example/", "https://b.example/"}, []string{api}
	}
	p := newRemote(t, "http://ts/introspect", time.Now, base).Policy()
	if len(p.Rules) != 2 || p.Rules[0].Issuer != "https://a.example/" || !reflect.DeepEqual(p.Rules[1].Audiences, []string{api}) {
		t.Fatalf("policy %+v", p)
	}
	if !p.Admits(&claims.Principal{Issuer: "https://b.example/", Audience: []string{api}}) ||
		p.Admits(&claims.Principal{Issuer: "https://c.example/", Audience: []string{api}}) {
		t.Error("Admits does not follow the issuers")
	}
	if any := newRemote(t, "http://ts/introspect", time.Now).Policy(); !any.Admits(&claims.Principal{Issuer: "whoever"}) {
		t.Error("no issuers configured should admit any")
	}
	fp := p.Fingerprint()
	for name, m := range map[string]func(*tokenvalidator.RemoteConfig){
		"url":       func(c *tokenvalidator.RemoteConfig) { c.URL = "http://other/introspect" },
		"client":    func(c *tokenvalidator.RemoteConfig) { c.ClientID = "other" },
		"audience":  func(c *tokenvalidator.RemoteConfig) { c.Audiences = []string{"https://other"} },
		"issuer":    func(c *tokenvalidator.RemoteConfig) { c.Issuers = c.Issuers[:1] },
		"cache ttl": func(c *tokenvalidator.RemoteConfig) { c.CacheTTL = time.Minute },
		"mapping":   func(c *tokenvalidator.RemoteConfig) { c.Mapping.FirstPartyClients = []string{"x"} },
	} {
		if newRemote(t, "http://ts/introspect", time.Now, base, m).Policy().Fingerprint() == fp {
			t.Errorf("changing the %s leaves the fingerprint alone", name)
		}
	}
}
