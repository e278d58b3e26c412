package connections_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/connections"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/pgtest"
)

const lodgingAPI = "https://api.roomsmart.example"

var (
	hashKey = []byte("connection-names-connection-1234")
	key1    = connections.Key{ID: 1, Secret: []byte("grant-key-one-grant-key-one-0032")}
	key2    = connections.Key{ID: 2, Secret: []byte("grant-key-two-grant-key-two-0032")}
)

// lodging is the third party: RoomSMart, a lodging marketplace whose API
// has a narrow book:rooms scope among others, and Lodging Picks (the
// service under test) as a partner client.
func lodging() idptest.Config {
	return idptest.Config{
		APIs:  []idptest.API{{Identifier: lodgingAPI, Scopes: []string{"book:rooms", "read:rooms", "rate:hosts"}, AccessTokenTTL: 10 * time.Minute}},
		Roles: []idptest.Role{{Name: "guest", Permissions: []string{"book:rooms", "read:rooms", "rate:hosts"}}},
		Users: []idptest.User{
			{ID: "roomsmart|a1", Username: "alice", Email: "alice@acme.example", Roles: []string{"guest"}},
			{ID: "roomsmart|b2", Username: "bob", Email: "bob@globex.example", Roles: []string{"guest"}},
			{ID: "roomsmart|c3", Username: "carol", Email: "carol@venue.example", Roles: []string{"guest"}},
		},
		Clients: []idptest.Client{
			{ID: "lodging-picks", Secret: "lodging-picks-secret", Kind: idptest.ClientPartner, Grants: []string{"authorization_code", "refresh_token"}},
			{ID: "rs-admin", Secret: "rs-admin-secret", Kind: idptest.ClientMachine, Grants: []string{"client_credentials"},
				ManagementScopes: []string{"read:grants", "delete:grants"}},
		},
	}
}

// own is the service's own provider (the demo tenant) with a machine
// client for the Management API, which the ManagementStore uses.
func own() idptest.Config {
	c := idptest.Demo()
	c.Clients = append(c.Clients, idptest.Client{ID: "store", Secret: "store-secret", Kind: idptest.ClientMachine,
		Grants: []string{"client_credentials"}, ManagementScopes: []string{"read:users", "update:users_app_metadata"}})
	return c
}

// observer records every token a token endpoint hands out, by watching
// the real traffic: they never leave the service, so this is how a test
// can look for them in the stores.
type observer struct {
	mu      sync.Mutex
	tokens  []string // access and refresh tokens
	refresh []string // refresh tokens, in order
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/oauth/token") {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var t struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &t) == nil {
		o.mu.Lock()
		for _, s := range []string{t.AccessToken, t.RefreshToken} {
			if s != "" {
				o.tokens = append(o.tokens, s)
			}
		}
		if t.RefreshToken != "" {
			o.refresh = append(o.refresh, t.RefreshToken)
		}
		o.mu.Unlock()
	}
	return resp, nil
}

// latestRefresh returns the refresh token handed out last.
func (o *observer) latestRefresh() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refresh[len(o.refresh)-1]
}

func (o *observer) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.tokens...)
}

type env struct {
	t     testing.TB
	third *idptest.Server // RoomSMart
	own   *idptest.Server // the service's provider, for the ManagementStore
	mc    *memcachedtest.Server
	seen  *observer
}

func newEnv(t testing.TB) *env {
	third := idptest.Start(t, lodging())
	third.SetNow(time.Now())
	return &env{t: t, third: third, own: idptest.Start(t, own()), mc: memcachedtest.Start(t), seen: &observer{}}
}

func (e *env) httpClient() *http.Client {
	return &http.Client{Transport: e.seen, Timeout: 5 * time.Second}
}

func (e *env) party() connections.Party {
	return connections.Party{
		Name: "roomsmart", AuthURL: e.third.AuthorizeURL(), TokenURL: e.third.TokenURL(), RevocationURL: e.third.RevocationURL(),
		ClientID: "lodging-picks", ClientSecret: "lodging-picks-secret", RedirectURL: "https://lodging.example/connections/roomsmart/callback",
		Scopes: []string{"offline_access", "book:rooms"}, Audience: lodgingAPI,
	}
}

func (e *env) cache() connections.Cache {
	// Hundreds of concurrent calls on a cold pool under -race on two
	// cores: give memcached more than the defaults' 50 and 100 ms.
	cluster, err := cache.NewCluster([]string{e.mc.Addr()}, cache.ClusterConfig{ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cluster.Close() })
	return connections.NewMemcache(cluster)
}

// service returns an instance over store sharing the env's memcached.
func (e *env) service(store connections.Store, keys ...connections.Key) *connections.Service {
	e.t.Helper()
	return e.serviceWith(store, e.cache(), keys...)
}

func (e *env) serviceWith(store connections.Store, c connections.Cache, keys ...connections.Key) *connections.Service {
	e.t.Helper()
	if keys == nil {
		keys = []connections.Key{key1}
	}
	s, err := connections.New(store, c, connections.Config{
		FlowConfig: connections.FlowConfig{Namespace: "test", HashKey: hashKey, EncryptionKeys: keys},
		Parties:    []connections.Party{e.party()},
		Timeout:    5 * time.Second,
	}, connections.WithClock(e.third.Now), connections.WithHTTPClient(e.httpClient()))
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// storeKind makes stores of one kind: each call another instance's view
// of the same data.
type storeKind struct {
	name string
	open func(e *env) func() connections.Store
}

var pgOnce struct {
	sync.Once
	p   *pgtest.Process
	err error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pgOnce.p != nil {
		_ = pgOnce.p.Kill()
	}
	os.Exit(code)
}

// postgres returns a new database on the package's PostgreSQL, started
// once; it skips (or fails under AUTHGATE_REQUIRE_POSTGRES=1) without one.
func postgres(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() {
		if pgOnce.err = pgtest.Installed(); pgOnce.err == nil {
			pgOnce.p, pgOnce.err = pgtest.Launch()
		}
	})
	if pgOnce.err != nil {
		if os.Getenv(pgtest.RequireEnv) == "1" {
			t.Fatalf("PostgreSQL: %v", pgOnce.err)
		}
		t.Skipf("PostgreSQL: %v", pgOnce.err)
	}
	dsn, err := pgOnce.p.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

var storeKinds = []storeKind{
	{"sqlite", func(e *env) func() connections.Store {
		path := filepath.Join(e.t.TempDir(), "connections.db")
		return func() connections.Store {
			s, err := connections.OpenSQLite(context.Background(), path, connections.SQLConfig{})
			if err != nil {
				e.t.Fatal(err)
			}
			e.t.Cleanup(func() { s.Close() })
			return s
		}
	}},
	{"postgres", func(e *env) func() connections.Store {
		dsn := postgres(e.t)
		return func() connections.Store {
			s, err := connections.OpenPostgres(context.Background(), dsn, connections.SQLConfig{})
			if err != nil {
				e.t.Fatal(err)
			}
			e.t.Cleanup(func() { s.Close() })
			return s
		}
	}},
	{"management", func(e *env) func() connections.Store {
		return func() connections.Store {
			s, err := connections.NewManagementStore(connections.ManagementConfig{Domain: e.own.Issuer(), ClientID: "store", ClientSecret: "store-secret"},
				connections.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
			if err != nil {
				e.t.Fatal(err)
			}
			return s
		}
	}},
}

// eachStore runs test once per store kind.
func eachStore(t *testing.T, test func(t *testing.T, e *env, stores func() connections.Store)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			test(t, e, k.open(e))
		})
	}
}

// noRedirects returns redirects instead of following them.
var noRedirects = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// consent plays the user's browser at the third party: it follows the
// authorization URL to /authorize and returns the callback it redirects
// to.
func (e *env) consent(authURL string) connections.Callback {
	e.t.Helper()
	resp, err := noRedirects.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		e.t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cb, err := connections.ParseCallback(loc.Query())
	if err != nil {
		e.t.Fatalf("callback %q: %v", loc, err)
	}
	return cb
}

// connect connects subject to RoomSMart as the RoomSMart user rsUser.
func (e *env) connect(s *connections.Service, subject, rsUser string) *connections.Connection {
	e.t.Helper()
	ctx := context.Background()
	u, err := s.Connect(ctx, subject, "roomsmart", connections.AuthRequest{LoginHint: rsUser})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := s.Complete(ctx, subject, "roomsmart", e.consent(u))
	if err != nil {
		e.t.Fatalf("Complete: %v", err)
	}
	return c
}

// introspect asks RoomSMart about an access token, as its API would.
func (e *env) introspect(token string) map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.third.IntrospectionURL(), strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("lodging-picks", "lodging-picks-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return v
}

func token(t *testing.T, s *connections.Service, subject string) (string, error) {
	t.Helper()
	tok, err := s.TokenSource(context.Background(), subject, "roomsmart").Token()
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func mustToken(t *testing.T, s *connections.Service, subject string) string {
	t.Helper()
	tok, err := token(t, s, subject)
	if err != nil {
		t.Fatalf("Token for %s: %v", subject, err)
	}
	return tok
}

func wantReconnect(t *testing.T, err error, what string) {
	t.Helper()
	var re *connections.ReconnectError
	if !errors.As(err, &re) || !errors.Is(err, connections.ErrReconnect) || re.Party != "roomsmart" {
		t.Fatalf("%s: %v, want a *ReconnectError", what, err)
	}
}

// accessToken posts a token request and returns the access token.
func accessToken(tokenURL string, form url.Values) (string, error) {
	resp, err := http.PostForm(tokenURL, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	return body.AccessToken, err
}

// accessClaims posts a token request and returns the payload of the
// access token in the answer (unverified: the test only reads it).
func accessClaims(tokenURL string, form url.Values) (map[string]any, error) {
	tok, err := accessToken(tokenURL, form)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c map[string]any
	return c, json.Unmarshal(payload, &c)
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
