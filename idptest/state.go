package idptest

import (
	"slices"
	"time"
)

// state is what the provider knows and remembers; Server.mu guards it.
type state struct {
	users   map[string]*User // by username
	byID    map[string]*User // by sub
	removed map[string]bool  // usernames removed with RemoveUser
	clients map[string]*Client
	apis    map[string]*API
	orgs    map[string]*Organization // by id and by name
	roles   map[string]*Role

	codes    map[string]*authCode
	refresh  map[string]*refreshToken
	families map[string]bool // revoked refresh-token families
	opaque   map[string]*opaqueToken
}

func newState(cfg Config) *state {
	st := &state{
		users: map[string]*User{}, byID: map[string]*User{}, removed: map[string]bool{},
		clients: map[string]*Client{}, apis: map[string]*API{}, orgs: map[string]*Organization{}, roles: map[string]*Role{},
		codes: map[string]*authCode{}, refresh: map[string]*refreshToken{}, families: map[string]bool{}, opaque: map[string]*opaqueToken{},
	}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		st.users[u.Username], st.byID[u.ID] = u, u
	}
	for i := range cfg.Clients {
		st.clients[cfg.Clients[i].ID] = &cfg.Clients[i]
	}
	for i := range cfg.APIs {
		st.apis[cfg.APIs[i].Identifier] = &cfg.APIs[i]
	}
	for i := range cfg.Organizations {
		o := &cfg.Organizations[i]
		st.orgs[o.ID], st.orgs[o.Name] = o, o
	}
	for i := range cfg.Roles {
		st.roles[cfg.Roles[i].Name] = &cfg.Roles[i]
	}
	return st
}

// grant is what a token is issued for: who, through which client, for
// which API and organization, with which scopes.
type grant struct {
	user     *User // nil for a machine
	client   *Client
	audience string // "" for a token only good at /userinfo
	scopes   []string
	org      *Organization
	gty      string // "password", "client-credentials", or "" (authorization code)
	nonce    string
	family   string // refresh-token family, for refreshes
}

type authCode struct {
	grant
	redirectURI string
	challenge   string // PKCE S256 code challenge
	expires     time.Time
}

// refreshToken is a refresh token and where it stands in its family.
type refreshToken struct {
	grant
	expires   time.Time
	rotatedAt time.Time // zero while it is the family's newest
}

type opaqueToken struct {
	claims  map[string]any
	expires time.Time
	revoked bool
	family  string
}

// RefreshState says where a refresh token stands.
type RefreshState int

// The states of a refresh token.
const (
	RefreshUnknown RefreshState = iota // never issued here
	RefreshActive                      // the family's newest, usable
	RefreshRotated                     // replaced by a newer one
	RefreshRevoked                     // its family was revoked (reuse, revocation)
	RefreshExpired                     // past its lifetime
)

// String returns the state's name.
func (r RefreshState) String() string {
	return [...]string{"unknown", "active", "rotated", "revoked", "expired"}[r]
}

// RefreshTokenState reports where a refresh token stands, so a test can
// check that a family was revoked.
func (s *Server) RefreshTokenState(token string) RefreshState {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.state.refresh[token]
	if !ok {
		return RefreshUnknown
	}
	return s.refreshState(rt)
}

// RemoveUser deletes a user: their logins fail, and their refresh tokens
// answer 403 invalid_grant, as at Auth0.
func (s *Server) RemoveUser(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.removed[username] = true
}

// revokeFamily ends a refresh-token family and the opaque access tokens
// issued from it.
func (st *state) revokeFamily(family string) {
	st.families[family] = true
	for _, o := range st.opaque {
		if o.family == family {
			o.revoked = true
		}
	}
}

// oidcScopes are granted whenever asked, beside an API's scopes.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// userPermissions returns what user may get for api in org: the permissions of
// their roles there (tenant-level roles without an org), limited to the
// API's scopes.
func (st *state) userPermissions(u *User, api *API, org *Organization) []string {
	roleNames := u.Roles
	if org != nil {
		roleNames = nil
		for _, m := range u.Memberships {
			if m.OrgID == org.ID {
				roleNames = m.Roles
			}
		}
	}
	var perms []string
	for _, rn := range roleNames {
		for _, p := range st.roles[rn].Permissions {
			if api != nil && slices.Contains(api.Scopes, p) && !slices.Contains(perms, p) {
				perms = append(perms, p)
			}
		}
	}
	slices.Sort(perms)
	return perms
}

func (st *state) member(u *User, org *Organization) bool {
	return slices.ContainsFunc(u.Memberships, func(m Membership) bool { return m.OrgID == org.ID })
}
