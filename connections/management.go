package connections

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/auth0mgmt"
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
	cfg ManagementConfig
	api *auth0mgmt.Client
}

var keyPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// NewManagementStore returns a ManagementStore; WithHTTPClient sets its
// HTTP client.
func NewManagementStore(cfg ManagementConfig, opts ...Option) (*ManagementStore, error) {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "authgate_connection_"
	}
	if !keyPrefix.MatchString(cfg.KeyPrefix) {
		return nil, errors.New("connections: ManagementConfig.KeyPrefix: want 1-64 of A-Z a-z 0-9 _ -")
	}
	api, err := auth0mgmt.New(auth0mgmt.Config{
		Domain: cfg.Domain, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		MaxRetries: cfg.MaxRetries, MaxRetryWait: cfg.MaxRetryWait, HTTPClient: newOptions(opts).httpClient,
	})
	if err != nil {
		return nil, fmt.Errorf("connections: ManagementConfig: %w", err)
	}
	return &ManagementStore{cfg: cfg, api: api}, nil
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

func (m *ManagementStore) metadata(ctx context.Context, subject string) (map[string]json.RawMessage, error) {
	q := url.Values{"fields": {"app_metadata"}, "include_fields": {"true"}}
	body, err := m.do(ctx, http.MethodGet, userPath(subject)+"?"+q.Encode(), nil)
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
	_, err = m.do(ctx, http.MethodPatch, userPath(subject), b)
	return err
}

func userPath(subject string) string { return "/users/" + url.PathEscape(subject) }

// do sends one Management API request; 404 is ErrNotFound, other failures
// match claims.ErrUnavailable.
func (m *ManagementStore) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	b, err := m.api.Do(ctx, method, path, body)
	switch {
	case errors.Is(err, auth0mgmt.ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("connections: Management API: %w", err)
	}
	return b, nil
}
