package connections

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authgate/authgate/claims"
)

// ManagementConfig holds a ManagementStore's settings. Domain, ClientID
// and ClientSecret are required.
type ManagementConfig struct {
	// Domain is the tenant's base URL, e.g. "https://tenant.auth0.com/"
	// (the issuer). The Management API is under Domain + "api/v2/", its
	// tokens come from Domain + "oauth/token".
	Domain string
	// ClientID and ClientSecret are a machine client allowed the
	// Management API with read:users and update:users_app_metadata (or
	// update:users).
	ClientID, ClientSecret string
	// KeyPrefix starts the app_metadata key of each connection, followed
	// by the party's name. Default "authgate_connection_". Use one per
	// environment sharing a tenant.
	KeyPrefix string
	// MaxRetries is how many times a request answered 429 is tried again,
	// after the Retry-After the API asks for. Default 3.
	MaxRetries int
	// MaxRetryWait caps each of those waits: a longer one is not waited
	// for, the error is returned. Default 5s.
	MaxRetryWait time.Duration
}

// ManagementStore keeps each connection in the user's app_metadata at
// Auth0, through the Management API (GET and PATCH /api/v2/users/{id}), as
// seed 000 does: one top-level key per party, holding the version and the
// sealed grant, so that PATCH's merge of top-level keys updates one
// connection without touching the others, and null deletes it. Its
// management token comes from the client_credentials grant and is reused
// until it expires. A 429 answer is retried after its Retry-After (or
// X-RateLimit-Reset), within MaxRetries and MaxRetryWait.
//
// Subjects are Auth0 user IDs. The Management API has no conditional
// update: Put reads the version, then writes, so two writers racing could
// both succeed — the Service's lock (in the Cache) keeps writers one at a
// time. It is safe for concurrent use.
type ManagementStore struct {
	cfg    ManagementConfig
	base   string // Domain + "api/v2"
	client *http.Client
	tokens *managementTokens
}

var keyPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// NewManagementStore returns a ManagementStore; WithHTTPClient sets its
// HTTP client.
func NewManagementStore(cfg ManagementConfig, opts ...Option) (*ManagementStore, error) {
	u, err := url.Parse(cfg.Domain)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, errors.New("connections: ManagementConfig.Domain must be an absolute URL")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("connections: ManagementConfig needs ClientID and ClientSecret")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "authgate_connection_"
	}
	if !keyPrefix.MatchString(cfg.KeyPrefix) {
		return nil, errors.New("connections: ManagementConfig.KeyPrefix: want 1-64 of A-Z a-z 0-9 _ -")
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	cfg.MaxRetryWait = orDuration(cfg.MaxRetryWait, 5*time.Second)
	domain := strings.TrimSuffix(cfg.Domain, "/") + "/"
	o := newOptions(opts)
	return &ManagementStore{
		cfg: cfg, base: domain + "api/v2", client: o.httpClient,
		tokens: &managementTokens{client: o.httpClient, cc: clientcredentials.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: domain + "oauth/token",
			EndpointParams: url.Values{"audience": {domain + "api/v2/"}}, AuthStyle: oauth2.AuthStyleInHeader,
		}},
	}, nil
}

// stored is one connection as it sits in app_metadata.
type stored struct {
	Version int64  `json:"version"`
	Grant   string `json:"grant"` // base64url of the sealed grant
}

// Get implements Store.
func (m *ManagementStore) Get(ctx context.Context, subject, party string) (Record, error) {
	meta, err := m.metadata(ctx, subject)
	if err != nil {
		return Record{}, err
	}
	raw, ok := meta[m.cfg.KeyPrefix+party]
	if !ok {
		return Record{}, ErrNotFound
	}
	return decodeStored(subject, party, raw)
}

// decodeStored reads one app_metadata entry.
func decodeStored(subject, party string, raw json.RawMessage) (Record, error) {
	var st stored
	if err := json.Unmarshal(raw, &st); err != nil || st.Version < 1 {
		return Record{}, fmt.Errorf("connections: app_metadata entry for %s is malformed", party)
	}
	data, err := base64.RawURLEncoding.DecodeString(st.Grant)
	if err != nil {
		return Record{}, fmt.Errorf("connections: app_metadata entry for %s is malformed", party)
	}
	return Record{Subject: subject, Party: party, Version: st.Version, Data: data}, nil
}

// List implements Store: every key with KeyPrefix. Malformed entries are
// left out.
func (m *ManagementStore) List(ctx context.Context, subject string) ([]Record, error) {
	meta, err := m.metadata(ctx, subject)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	var out []Record
	for k, raw := range meta {
		party, ok := strings.CutPrefix(k, m.cfg.KeyPrefix)
		if !ok || !partyName.MatchString(party) {
			continue
		}
		if r, err := decodeStored(subject, party, raw); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Put implements Store: a read of the version, then a PATCH of the one
// key.
func (m *ManagementStore) Put(ctx context.Context, r Record) error {
	cur, err := m.Get(ctx, r.Subject, r.Party)
	switch {
	case errors.Is(err, ErrNotFound):
		if r.Version != 1 {
			return ErrConflict
		}
	case err != nil:
		return err
	case cur.Version != r.Version-1:
		return ErrConflict
	}
	return m.patch(ctx, r.Subject, map[string]any{
		m.cfg.KeyPrefix + r.Party: stored{Version: r.Version, Grant: base64.RawURLEncoding.EncodeToString(r.Data)},
	})
}

// Delete implements Store: the key is set to null, which deletes it.
func (m *ManagementStore) Delete(ctx context.Context, subject, party string) error {
	err := m.patch(ctx, subject, map[string]any{m.cfg.KeyPrefix + party: nil})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// maxUserBody bounds a user answer (Auth0 caps metadata far below).
const maxUserBody = 1 << 20

func (m *ManagementStore) metadata(ctx context.Context, subject string) (map[string]json.RawMessage, error) {
	q := url.Values{"fields": {"app_metadata"}, "include_fields": {"true"}}
	body, err := m.do(ctx, http.MethodGet, m.userURL(subject)+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var u struct {
		AppMetadata map[string]json.RawMessage `json:"app_metadata"`
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, fmt.Errorf("connections: Management API: a user answer that is not JSON: %w", err)
	}
	return u.AppMetadata, nil
}

func (m *ManagementStore) patch(ctx context.Context, subject string, meta map[string]any) error {
	b, err := json.Marshal(map[string]any{"app_metadata": meta})
	if err != nil {
		return err
	}
	_, err = m.do(ctx, http.MethodPatch, m.userURL(subject), b)
	return err
}

func (m *ManagementStore) userURL(subject string) string {
	return m.base + "/users/" + url.PathEscape(subject)
}

// do sends one Management API request: with a management token (fetched
// again once if the API says 401), retrying a 429 after its wait. 404 is
// ErrNotFound; other failures match claims.ErrUnavailable.
func (m *ManagementStore) do(ctx context.Context, method, u string, body []byte) ([]byte, error) {
	renewed := false
	for attempt := 0; ; attempt++ {
		tok, err := m.tokens.get(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := m.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("connections: Management API: %w: %w", claims.ErrUnavailable, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxUserBody))
		resp.Body.Close()
		switch {
		case err != nil:
			return nil, fmt.Errorf("connections: Management API: %w: %w", claims.ErrUnavailable, err)
		case resp.StatusCode == http.StatusOK:
			return b, nil
		case resp.StatusCode == http.StatusNotFound:
			return nil, ErrNotFound
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			m.tokens.drop(tok)
			renewed = true
			continue
		case resp.StatusCode == http.StatusTooManyRequests:
			wait := rateLimitWait(resp.Header, time.Now())
			err := unavailable(fmt.Errorf("connections: Management API: rate limited"), resp.Header)
			if attempt >= m.cfg.MaxRetries || wait > m.cfg.MaxRetryWait {
				return nil, err
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, err
			}
			continue
		}
		return nil, fmt.Errorf("connections: Management API: %w: %s %s answered %s", claims.ErrUnavailable, method, "/api/v2/users", resp.Status)
	}
}

// rateLimitWait reads how long a 429 asks to wait: Retry-After, else
// X-RateLimit-Reset (a Unix time), else one second.
func rateLimitWait(h http.Header, now time.Time) time.Duration {
	if d, ok := retryAfter(h, now); ok {
		return d
	}
	var reset int64
	if _, err := fmt.Sscan(h.Get("X-RateLimit-Reset"), &reset); err == nil && reset > 0 {
		return max(time.Unix(reset, 0).Sub(now), 100*time.Millisecond)
	}
	return time.Second
}

// managementTokens keeps the management token: one fetch at a time, reused
// until shortly before it expires.
type managementTokens struct {
	client *http.Client
	cc     clientcredentials.Config

	mu       sync.Mutex // guards tok and fetching
	tok      *oauth2.Token
	fetching chan struct{} // closed when the fetch in flight ends
}

func (t *managementTokens) get(ctx context.Context) (string, error) {
	for {
		t.mu.Lock()
		if t.tok.Valid() {
			tok := t.tok.AccessToken
			t.mu.Unlock()
			return tok, nil
		}
		if t.fetching != nil {
			wait := t.fetching
			t.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("connections: management token: %w: %w", claims.ErrUnavailable, ctx.Err())
			}
		}
		done := make(chan struct{})
		t.fetching = done
		t.mu.Unlock()

		fctx, cancel := context.WithTimeout(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, t.client), 10*time.Second)
		tok, err := t.cc.Token(fctx)
		cancel()
		t.mu.Lock()
		t.fetching = nil
		if err == nil {
			t.tok = tok
		}
		t.mu.Unlock()
		close(done)
		if err != nil {
			return "", fmt.Errorf("connections: management token: %w: %w", claims.ErrUnavailable, err)
		}
	}
}

// drop forgets tok, if it is still the current token.
func (t *managementTokens) drop(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == tok {
		t.tok = nil
	}
}
