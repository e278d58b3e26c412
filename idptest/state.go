package idptest

import (
	"encoding/json"
	"slices"
	"time"
)

// state is what the provider knows (its copy of the Config) and remembers
// (codes and tokens). Server.mu guards it.
type state struct {
	users   map[string]*user // by username
	byID    map[string]*user // by ID (sub)
	clients map[string]*Client
	apis    map[string]*API
	orgs    map[string]*Organization // by ID and by name
	roles   map[string]*Role

	codes           map[string]*authCode
	refresh         map[string]*refreshToken
	revokedFamilies map[string]bool // refresh-token families
	opaque          map[string]*opaqueToken

	grants     map[string]*userGrant // by ID; see management.go
	authorize  authorizeSettings     // see authorize.go
	dpopProofs map[string]time.Time  // token-request proofs seen (key and jti), until they expire; made on first use
}

// user is a configured user as the provider holds it.
type user struct {
	User
	claims      []byte         // User.Claims as JSON, decoded afresh into every token; nil if none
	removed     bool           // by RemoveUser
	appMetadata map[string]any // set through the Management API
}

// opaqueToken is what the provider remembers of an opaque access token.
type opaqueToken struct {
	claims  map[string]any // answered by /userinfo and /oauth/introspect; never changed
	expires time.Time
	family  string // the refresh-token family it was issued with, if any
	revoked bool
}

// newState indexes cfg, which withDefaults has copied and checked.
func newState(cfg Config) *state {
	st := &state{
		users: map[string]*user{}, byID: map[string]*user{},
		clients: map[string]*Client{}, apis: map[string]*API{}, orgs: map[string]*Organization{}, roles: map[string]*Role{},
		codes: map[string]*authCode{}, refresh: map[string]*refreshToken{}, revokedFamilies: map[string]bool{},
		opaque: map[string]*opaqueToken{}, grants: map[string]*userGrant{},
	}
	for _, u := range cfg.Users {
		su := &user{User: u}
		if len(u.Claims) > 0 {
			su.claims, _ = json.Marshal(u.Claims) // validate checked that it encodes
		}
		st.users[u.Username], st.byID[u.ID] = su, su
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

// grant is what tokens are issued for: who, through which client, for
// which API and organization, with which scopes.
type grant struct {
	user   *user // nil for a machine
	client *Client
	api    *API // nil: a user token good only at /userinfo
	scopes []string
	org    *Organization
	gty    string // the gty claim: "password", "client-credentials" or "" (authorization code)
	nonce  string // for the ID token
	family string // the refresh-token family, once one was issued
}

// oidcScopes are granted whenever they are asked, beside an API's scopes.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// permissions returns the permissions u's roles give for api in org (the
// tenant-level roles without an org), limited to the API's scopes, sorted.
func (st *state) permissions(u *user, api *API, org *Organization) []string {
	perms := []string{}
	if api == nil {
		return perms
	}
	for _, name := range st.roleNames(u, org) {
		for _, p := range st.roles[name].Permissions {
			if slices.Contains(api.Scopes, p) && !slices.Contains(perms, p) {
				perms = append(perms, p)
			}
		}
	}
	slices.Sort(perms)
	return perms
}

// member reports whether u belongs to org.
func member(u *user, org *Organization) bool {
	return slices.ContainsFunc(u.Memberships, func(m Membership) bool { return m.OrgID == org.ID })
}

// revokeFamily ends a refresh-token family and the opaque access tokens
// issued with it.
func (st *state) revokeFamily(family string) {
	st.revokedFamilies[family] = true
	for _, o := range st.opaque {
		if o.family == family {
			o.revoked = true
		}
	}
}

// RemoveUser deletes a user, as an administrator would at Auth0: the
// user's logins fail, refreshing the user's tokens answers 403
// invalid_grant, and /userinfo no longer knows the user. Access tokens
// already issued stay valid until they expire.
func (s *Server) RemoveUser(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.st.users[username]; ok {
		u.removed = true
	}
}
