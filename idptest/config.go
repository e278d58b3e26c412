package idptest

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Config describes the provider: who can log in, which apps exist, which
// APIs they can get tokens for. Zero durations are the documented defaults.
type Config struct {
	// Addr is the address to listen on. Default "127.0.0.1:0" (a free
	// loopback port).
	Addr          string
	Users         []User
	Clients       []Client
	APIs          []API
	Organizations []Organization
	Roles         []Role
	// DefaultAudience is used when a token request names no audience, as
	// Auth0's tenant setting. Without it such user tokens are opaque.
	DefaultAudience string
	// Now is the provider's clock. Default time.Now; see also
	// Server.SetNow and Server.Advance.
	Now func() time.Time
	// AccessTokenTTL is the access tokens' lifetime. Default 24h (Auth0's).
	AccessTokenTTL time.Duration
	// IDTokenTTL is the ID tokens' lifetime. Default 10h.
	IDTokenTTL time.Duration
	// RefreshTokenTTL is a refresh token's absolute lifetime. Default 30 days.
	RefreshTokenTTL time.Duration
	// RefreshReuseInterval is how long after its rotation a refresh token
	// still works (Auth0's "reuse interval"). Default 0.
	RefreshReuseInterval time.Duration
	// AccessTokenType is the typ header of access tokens: "JWT" (default,
	// as Auth0's default dialect) or "at+jwt" (RFC 9068).
	AccessTokenType string
	// SigningAlgorithm is the algorithm of the first signing key: "RS256"
	// (default), "ES256" or "EdDSA".
	SigningAlgorithm string
	// OrgNameInToken also puts org_name in tokens (an Auth0 tenant setting).
	OrgNameInToken bool
}

// User is someone who can log in.
type User struct {
	ID       string // the sub, e.g. "auth0|alice"
	Username string
	Password string
	Email    string
	Name     string
	// Roles are granted outside any organization.
	Roles       []string
	Memberships []Membership
	// Claims are added to the user's access tokens; use namespaced names
	// such as "https://venue.example/tier".
	Claims map[string]any
}

// Membership makes a user a member of an organization with some roles.
type Membership struct {
	OrgID string
	Roles []string
}

// Organization is a customer of the tenant.
type Organization struct {
	ID   string // e.g. "org_acme"
	Name string
}

// Role grants permissions, which are API scope names such as "read:venues".
type Role struct {
	Name        string
	Permissions []string
}

// ClientKind says what an application is.
type ClientKind int

// The kinds of client.
const (
	ClientFirstParty ClientKind = iota // the service's own app
	ClientPartner                      // a third party acting for users
	ClientMachine                      // a backend acting for itself
)

// Client is an application registered at the provider.
type Client struct {
	ID     string
	Secret string // empty for a public client
	Name   string
	Kind   ClientKind
	// Grants lists what the client may use: "password",
	// "client_credentials", "refresh_token", "authorization_code".
	Grants []string
	// Scopes maps an API audience to the scopes the client may get with
	// client_credentials.
	Scopes map[string][]string
	// DisableRotation turns refresh-token rotation off: a refresh answers
	// without a new refresh token.
	DisableRotation bool
}

// API is a resource server: an audience and its scopes.
type API struct {
	Identifier     string // the audience
	Scopes         []string
	AccessTokenTTL time.Duration // 0: Config.AccessTokenTTL
	// Opaque makes the provider issue opaque access tokens for this API.
	Opaque bool
}

// The demo set's API.
const demoAPI = "https://api.venue.example"

// Demo returns the demo configuration that the venue example and the tests
// use (see the package documentation for its users, clients and API).
func Demo() Config {
	return Config{
		APIs:            []API{{Identifier: demoAPI, Scopes: []string{"read:venues", "book:venues", "manage:venues", "read:datasets"}}},
		DefaultAudience: demoAPI,
		Organizations:   []Organization{{ID: "org_acme", Name: "acme"}, {ID: "org_globex", Name: "globex"}},
		Roles: []Role{
			{Name: "venue-viewer", Permissions: []string{"read:venues", "read:datasets"}},
			{Name: "venue-booker", Permissions: []string{"read:venues", "book:venues"}},
			{Name: "venue-admin", Permissions: []string{"read:venues", "book:venues", "manage:venues", "read:datasets"}},
		},
		Users: []User{
			{ID: "auth0|alice", Username: "alice", Password: "alice-password", Email: "alice@acme.example", Name: "Alice Archer",
				Memberships: []Membership{{OrgID: "org_acme", Roles: []string{"venue-booker", "venue-viewer"}}},
				Claims:      map[string]any{"https://venue.example/tier": "gold"}},
			{ID: "auth0|bob", Username: "bob", Password: "bob-password", Email: "bob@globex.example", Name: "Bob Baker",
				Memberships: []Membership{{OrgID: "org_globex", Roles: []string{"venue-viewer"}}}},
			{ID: "auth0|carol", Username: "carol", Password: "carol-password", Email: "carol@venue.example", Name: "Carol Chen",
				Roles: []string{"venue-admin"}},
		},
		Clients: []Client{
			{ID: "venue-app", Secret: "venue-app-secret", Name: "Venue app", Kind: ClientFirstParty,
				Grants: []string{"password", "refresh_token", "authorization_code"}},
			{ID: "partner-app", Secret: "partner-app-secret", Name: "Partner app", Kind: ClientPartner,
				Grants: []string{"authorization_code", "refresh_token"}},
			{ID: "venue-worker", Secret: "venue-worker-secret", Name: "Venue worker", Kind: ClientMachine,
				Grants: []string{"client_credentials"}, Scopes: map[string][]string{demoAPI: {"read:venues", "read:datasets"}}},
		},
		OrgNameInToken: true,
	}
}

var knownGrants = []string{"password", "client_credentials", "refresh_token", "authorization_code"}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.AccessTokenTTL = orDuration(c.AccessTokenTTL, 24*time.Hour)
	c.IDTokenTTL = orDuration(c.IDTokenTTL, 10*time.Hour)
	c.RefreshTokenTTL = orDuration(c.RefreshTokenTTL, 30*24*time.Hour)
	if c.AccessTokenType == "" {
		c.AccessTokenType = "JWT"
	}
	if c.SigningAlgorithm == "" {
		c.SigningAlgorithm = "RS256"
	}
	var errs []error
	if c.AccessTokenType != "JWT" && c.AccessTokenType != "at+jwt" {
		errs = append(errs, fmt.Errorf("AccessTokenType %q: want JWT or at+jwt", c.AccessTokenType))
	}
	if c.AccessTokenTTL < 0 || c.IDTokenTTL < 0 || c.RefreshTokenTTL < 0 || c.RefreshReuseInterval < 0 {
		errs = append(errs, errors.New("negative duration"))
	}
	errs = append(errs, unique("user id", c.Users, func(u User) string { return u.ID })...)
	errs = append(errs, unique("username", c.Users, func(u User) string { return u.Username })...)
	errs = append(errs, unique("client id", c.Clients, func(cl Client) string { return cl.ID })...)
	errs = append(errs, unique("API identifier", c.APIs, func(a API) string { return a.Identifier })...)
	errs = append(errs, unique("organization id", c.Organizations, func(o Organization) string { return o.ID })...)
	errs = append(errs, unique("role", c.Roles, func(r Role) string { return r.Name })...)
	roles := func(who string, names []string) {
		for _, r := range names {
			if !slices.ContainsFunc(c.Roles, func(x Role) bool { return x.Name == r }) {
				errs = append(errs, fmt.Errorf("%s has unknown role %q", who, r))
			}
		}
	}
	for _, u := range c.Users {
		roles("user "+u.Username, u.Roles)
		for _, m := range u.Memberships {
			if !slices.ContainsFunc(c.Organizations, func(o Organization) bool { return o.ID == m.OrgID }) {
				errs = append(errs, fmt.Errorf("user %s is a member of unknown organization %q", u.Username, m.OrgID))
			}
			roles("user "+u.Username, m.Roles)
		}
	}
	for _, cl := range c.Clients {
		for _, g := range cl.Grants {
			if !slices.Contains(knownGrants, g) {
				errs = append(errs, fmt.Errorf("client %s has unknown grant %q", cl.ID, g))
			}
		}
		for aud := range cl.Scopes {
			if !slices.ContainsFunc(c.APIs, func(a API) bool { return a.Identifier == aud }) {
				errs = append(errs, fmt.Errorf("client %s has scopes for unknown API %q", cl.ID, aud))
			}
		}
	}
	if c.DefaultAudience != "" && !slices.ContainsFunc(c.APIs, func(a API) bool { return a.Identifier == c.DefaultAudience }) {
		errs = append(errs, fmt.Errorf("DefaultAudience %q is not an API", c.DefaultAudience))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("idptest: invalid Config: %w", err)
	}
	return c, nil
}

func unique[T any](what string, items []T, key func(T) string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, it := range items {
		k := key(it)
		switch {
		case k == "":
			errs = append(errs, fmt.Errorf("empty %s", what))
		case seen[k]:
			errs = append(errs, fmt.Errorf("%s %q given twice", what, k))
		}
		seen[k] = true
	}
	return errs
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
