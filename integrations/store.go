package integrations

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Integration is one user's consent that one partner app act for them:
// Subject (the user's sub) has enabled ClientID (the partner app's client
// id, the azp of its tokens) for OrgID (the user's organization; "" when
// the user has none).
type Integration struct {
	Subject   string    `json:"-"`
	ClientID  string    `json:"client_id"`
	OrgID     string    `json:"org_id,omitempty"`
	EnabledAt time.Time `json:"enabled_at"`
}

// Store keeps integrations durably: SQLStore (PostgreSQL, SQLite) or
// MemoryStore. Implementations are safe for concurrent use; their errors
// mean the store could not be reached or failed.
type Store interface {
	// Enable records in, keeping the first EnabledAt when it is enabled
	// already.
	Enable(ctx context.Context, in Integration) error
	// Disable removes subject's integration of clientID for orgID, and
	// reports whether there was one.
	Disable(ctx context.Context, subject, clientID, orgID string) (bool, error)
	// Enabled reports whether subject has enabled clientID for orgID.
	Enabled(ctx context.Context, subject, clientID, orgID string) (bool, error)
	// List returns subject's integrations, by client id then organization.
	List(ctx context.Context, subject string) ([]Integration, error)
}

// MemoryStore is a Store in this process's memory, for one instance or
// for tests. Its zero value is ready to use.
type MemoryStore struct {
	mu sync.Mutex // guards m
	m  map[key]time.Time
}

type key struct{ subject, clientID, orgID string }

// Enable implements Store.
func (s *MemoryStore) Enable(_ context.Context, in Integration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[key]time.Time{}
	}
	k := key{in.Subject, in.ClientID, in.OrgID}
	if _, ok := s.m[k]; !ok {
		s.m[k] = in.EnabledAt
	}
	return nil
}

// Disable implements Store.
func (s *MemoryStore) Disable(_ context.Context, subject, clientID, orgID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{subject, clientID, orgID}
	_, ok := s.m[k]
	delete(s.m, k)
	return ok, nil
}

// Enabled implements Store.
func (s *MemoryStore) Enabled(_ context.Context, subject, clientID, orgID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[key{subject, clientID, orgID}]
	return ok, nil
}

// List implements Store.
func (s *MemoryStore) List(_ context.Context, subject string) ([]Integration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Integration
	for k, at := range s.m {
		if k.subject == subject {
			out = append(out, Integration{Subject: k.subject, ClientID: k.clientID, OrgID: k.orgID, EnabledAt: at})
		}
	}
	slices.SortFunc(out, func(a, b Integration) int {
		if c := strings.Compare(a.ClientID, b.ClientID); c != 0 {
			return c
		}
		return strings.Compare(a.OrgID, b.OrgID)
	})
	return out, nil
}
