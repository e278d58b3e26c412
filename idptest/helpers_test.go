package idptest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const api = idptest.DemoAPI

// answer is an HTTP answer of the provider.
type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any // the JSON body, if any
}

// str returns the string member name of the body.
func (a answer) str(name string) string {
	s, _ := a.body[name].(string)
	return s
}

// post posts form to u, with HTTP Basic client authentication when basic
// holds an id and a secret.
func post(t testing.TB, u string, form url.Values, basic ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	return do(t, http.DefaultClient, req)
}

// get gets u with an "Authorization: Bearer token" header unless token is
// empty.
func get(t testing.TB, u, token string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, http.DefaultClient, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal([]byte(a.raw), &a.body)
	return a
}

// form builds url.Values from name, value pairs.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// with returns a copy of f with the name, value pairs set ("" deletes).
func with(f url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

// aliceLogin is a password grant for alice in org_acme with everything.
var aliceLogin = form("grant_type", "password", "username", "alice", "password", "alice-password",
	"client_id", "venue-app", "client_secret", "venue-app-secret", "audience", api, "organization", "org_acme",
	"scope", "openid profile offline_access read:venues book:venues manage:venues read:datasets")

// grant posts a token request that must succeed.
func grant(t testing.TB, idp *idptest.Server, f url.Values) answer {
	t.Helper()
	a := post(t, idp.TokenURL(), f)
	if a.status != http.StatusOK {
		t.Fatalf("token endpoint: %d %s", a.status, a.raw)
	}
	return a
}

// verify checks tok's signature against the JWKS fetched over HTTP, its
// issuer and its times on the provider's clock, with jwx.
func verify(t testing.TB, idp *idptest.Server, tok string) jwt.Token {
	t.Helper()
	set, err := jwk.Fetch(context.Background(), idp.JWKSURL())
	if err != nil {
		t.Fatalf("fetching the JWKS: %v", err)
	}
	parsed, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithIssuer(idp.Issuer()),
		jwt.WithClock(jwt.ClockFunc(idp.Now)), jwt.WithAcceptableSkew(time.Second))
	if err != nil {
		t.Fatalf("verifying the token: %v", err)
	}
	return parsed
}

// decode returns the JSON header and payload of a compact JWS, unverified.
func decode(t testing.TB, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	return header, payload
}

// introspect asks the introspection endpoint about tok as venue-app.
func introspect(t testing.TB, idp *idptest.Server, tok string) answer {
	t.Helper()
	a := post(t, idp.IntrospectionURL(), form("token", tok), "venue-app", "venue-app-secret")
	if a.status != http.StatusOK {
		t.Fatalf("introspection: %d %s", a.status, a.raw)
	}
	return a
}

// revoke revokes tok as client (whose secret is client+"-secret").
func revoke(t testing.TB, idp *idptest.Server, client, tok string) {
	t.Helper()
	a := post(t, idp.RevocationURL(), form("token", tok, "client_id", client, "client_secret", client+"-secret"))
	if a.status != http.StatusOK || a.raw != "" {
		t.Fatalf("revocation: %d %q", a.status, a.raw)
	}
}

// start starts the demo provider with its clock frozen at a fixed time,
// after changing the demo configuration with mutate.
func start(t testing.TB, mutate ...func(*idptest.Config)) *idptest.Server {
	t.Helper()
	cfg := idptest.Demo()
	for _, m := range mutate {
		m(&cfg)
	}
	idp := idptest.Start(t, cfg)
	idp.SetNow(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	return idp
}
