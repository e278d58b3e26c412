package idptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Config describes the provider: who can log in, which applications exist
// and which APIs they can get tokens for. Zero values are the documented
// defaults. New copies the Config, so changing it afterwards changes nothing.
type Config struct {
	// Addr is the address to listen on. Default "127.0.0.1:0": a free
	// loopback port.
	Addr          string
	Users         []User
	Clients       []Client
	APIs          []API
	Organizations []Organization
	Roles         []Role
	// DefaultAudience is the audience of a client-credentials request that
	// names none. Default "": such a request is refused. User grants without
	// an audience always get an opaque token good only at /userinfo, as at
	// Auth0 without a tenant default audience.
	DefaultAudience string
	// Now is the provider's clock. Default time.Now; Server.SetNow and
	// Server.Advance freeze it.
	Now func() time.Time
	// AccessTokenTTL is the access tokens' lifetime. Default 24h (Auth0's
	// 86400 s); API.AccessTokenTTL overrides it per API.
	AccessTokenTTL time.Duration
	// IDTokenTTL is the ID tokens' lifetime. Default 10h.
	IDTokenTTL time.Duration
	// RefreshTokenTTL is a refresh-token family's absolute lifetime,
	// counted from the grant that started it. Default 30 days.
	RefreshTokenTTL time.Duration
	// RefreshReuseInterval is how long after its rotation a refresh token
	// still works (Auth0's "reuse interval"). Default 0: a rotated token
	// presented again is always reuse.
	RefreshReuseInterval time.Duration
	// AccessTokenType is the typ header of access tokens: "JWT" (the
	// default, as Auth0's default dialect) or "at+jwt" (RFC 9068, whose
	// tokens also carry client_id beside azp in the Auth0 dialect). Default
	// "at+jwt" in DialectRFC9068.
	AccessTokenType string
	// Dialect is the provider imitated: its issuer, endpoint paths and
	// token shapes. Default DialectAuth0.
	Dialect Dialect
	// TenantID is the tenant of the Entra dialects (tid, and the issuer):
	// a GUID. Default: a random one.
	TenantID string
	// SigningAlgorithm is the algorithm of the first signing key, one of
	// those AddKey takes. Default "RS256".
	SigningAlgorithm string
	// OrgNameInToken also puts org_name in access tokens beside org_id
	// (an Auth0 tenant setting).
	OrgNameInToken bool
	// IssuerInAuthorizationResponse puts iss (RFC 9207) in every redirect
	// of /authorize, codes and errors alike, and discovery then says
	// authorization_response_iss_parameter_supported, as providers that
	// defend their clients against mix-up attacks do (panva's
	// oidc-provider, for one). Default off.
	IssuerInAuthorizationResponse bool
}

// User is someone who can log in.
type User struct {
	ID       string // the sub, e.g. "auth0|alice"
	Username string // what the password grant's username names
	Password string // "" = the password grant always fails for this user
	Email    string
	Name     string
	// Roles are the user's roles outside any organization (tenant-level).
	Roles []string
	// Memberships are the organizations the user belongs to, with the
	// roles the user has in each.
	Memberships []Membership
	// Claims are added to the user's access tokens. Use namespaced names
	// such as "https://venue.example/tier"; the names the provider sets
	// itself (iss, sub, aud, scope, permissions, org_id, …) are refused.
	Claims map[string]any
}

// Membership makes a user a member of an organization with some roles.
type Membership struct {
	OrgID string
	Roles []string
}

// Organization is a customer of the tenant.
type Organization struct {
	ID   string // e.g. "org_acme"; the organization parameter takes it or Name
	Name string // e.g. "acme"
}

// Role grants permissions, which are API scope names such as
// "read:venues".
type Role struct {
	Name        string
	Permissions []string
}

// ClientKind says what an application is. It describes the client; what
// it may do is set by Client.Grants.
type ClientKind int

// The kinds of client.
const (
	ClientFirstParty ClientKind = iota // the service's own application
	ClientPartner                      // a third party acting for users
	ClientMachine                      // a backend acting for itself
)

// String returns "first-party", "partner" or "machine".
func (k ClientKind) String() string {
	switch k {
	case ClientFirstParty:
		return "first-party"
	case ClientPartner:
		return "partner"
	case ClientMachine:
		return "machine"
	}
	return fmt.Sprintf("ClientKind(%d)", int(k))
}

// Client is an application registered at the provider.
type Client struct {
	ID     string
	Secret string // "" = a public client, which cannot authenticate
	Name   string
	Kind   ClientKind
	// Grants lists the grant types the client may use: "password",
	// "client_credentials", "refresh_token", "authorization_code".
	Grants []string
	// Scopes maps an API identifier to the scopes the client may get with
	// the client_credentials grant.
	Scopes map[string][]string
	// DisableRotation turns refresh-token rotation off for this client: a
	// refresh answers without a new refresh token and the old one stays
	// valid.
	DisableRotation bool
	// ManagementScopes are the Management API scopes the client gets with
	// the client_credentials grant for Server.ManagementAudience: any of
	// read:users, update:users, update:users_app_metadata, read:grants,
	// delete:grants.
	ManagementScopes []string
}

// API is a resource server: an audience and the scopes it defines.
type API struct {
	Identifier     string // the audience, e.g. "https://api.venue.example"
	Scopes         []string
	AccessTokenTTL time.Duration // 0 = Config.AccessTokenTTL
	// Opaque makes the provider issue opaque access tokens for this API,
	// which only /userinfo and /oauth/introspect understand.
	Opaque bool
}

// The grant types a Client may list.
const (
	grantPassword          = "password"
	grantClientCredentials = "client_credentials"
	grantRefreshToken      = "refresh_token"
	grantAuthorizationCode = "authorization_code"
)

var knownGrants = []string{grantPassword, grantClientCredentials, grantRefreshToken, grantAuthorizationCode}

// keyAlgorithms are the algorithms AddKey and Config.SigningAlgorithm take.
var keyAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// reservedClaims are set by the provider; User.Claims may not use them
// (Auth0 silently drops them; a test is better told).
var reservedClaims = []string{"iss", "sub", "aud", "iat", "exp", "nbf", "jti", "azp", "client_id", "scope", "permissions", "gty", "org_id", "org_name"}

// ErrInvalidConfig is the error New wraps when the Config is not usable;
// the message lists every problem.
var ErrInvalidConfig = errors.New("idptest: invalid Config")

// withDefaults returns a deep copy of c with its defaults filled in, or
// every problem found in it.
func (c Config) withDefaults() (Config, error) {
	c = c.clone()
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.AccessTokenTTL = orDefault(c.AccessTokenTTL, 24*time.Hour)
	c.IDTokenTTL = orDefault(c.IDTokenTTL, 10*time.Hour)
	c.RefreshTokenTTL = orDefault(c.RefreshTokenTTL, 30*24*time.Hour)
	c.AccessTokenType = orDefault(c.AccessTokenType, c.Dialect.accessTokenType())
	if c.Dialect.entra() && c.TenantID == "" {
		c.TenantID = newTenantID()
	}
	c.SigningAlgorithm = orDefault(c.SigningAlgorithm, "RS256")
	if err := c.validate(); err != nil {
		return c, fmt.Errorf("%w:\n%w", ErrInvalidConfig, err)
	}
	return c, nil
}

// validate reports every problem of c, joined.
func (c Config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !c.Dialect.valid() {
		add("unknown Dialect %v", c.Dialect)
	}
	if c.Dialect.entra() && !isGUID(c.TenantID) {
		add("TenantID %q: want a GUID", c.TenantID)
	}
	if c.AccessTokenType != "JWT" && c.AccessTokenType != "at+jwt" {
		add("AccessTokenType %q: want JWT or at+jwt", c.AccessTokenType)
	}
	if !slices.Contains(keyAlgorithms, c.SigningAlgorithm) {
		add("SigningAlgorithm %q: want one of %v", c.SigningAlgorithm, keyAlgorithms)
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"AccessTokenTTL", c.AccessTokenTTL}, {"IDTokenTTL", c.IDTokenTTL}, {"RefreshTokenTTL", c.RefreshTokenTTL},
		{"RefreshReuseInterval", c.RefreshReuseInterval}} {
		if d.d < 0 {
			add("%s is negative (%v)", d.name, d.d)
		}
	}
	for _, a := range c.APIs {
		if a.AccessTokenTTL < 0 {
			add("API %q: AccessTokenTTL is negative (%v)", a.Identifier, a.AccessTokenTTL)
		}
	}
	errs = append(errs, unique("user ID", c.Users, func(u User) string { return u.ID })...)
	errs = append(errs, unique("username", c.Users, func(u User) string { return u.Username })...)
	errs = append(errs, unique("client ID", c.Clients, func(cl Client) string { return cl.ID })...)
	errs = append(errs, unique("API identifier", c.APIs, func(a API) string { return a.Identifier })...)
	errs = append(errs, unique("role name", c.Roles, func(r Role) string { return r.Name })...)
	// The organization parameter takes an ID or a name: all must differ.
	orgKeys := make([]string, 0, 2*len(c.Organizations))
	for _, o := range c.Organizations {
		orgKeys = append(orgKeys, o.ID, o.Name)
	}
	errs = append(errs, unique("organization ID or name", orgKeys, func(s string) string { return s })...)

	isRole := func(name string) bool {
		return slices.ContainsFunc(c.Roles, func(r Role) bool { return r.Name == name })
	}
	isAPI := func(id string) bool {
		return slices.ContainsFunc(c.APIs, func(a API) bool { return a.Identifier == id })
	}
	for _, u := range c.Users {
		for _, r := range u.Roles {
			if !isRole(r) {
				add("user %q has unknown role %q", u.Username, r)
			}
		}
		for _, m := range u.Memberships {
			if !slices.ContainsFunc(c.Organizations, func(o Organization) bool { return o.ID == m.OrgID }) {
				add("user %q is a member of unknown organization %q", u.Username, m.OrgID)
			}
			for _, r := range m.Roles {
				if !isRole(r) {
					add("user %q has unknown role %q in %q", u.Username, r, m.OrgID)
				}
			}
		}
		for name := range u.Claims {
			if slices.Contains(reservedClaims, name) || slices.Contains(c.Dialect.reserved(), name) {
				add("user %q: custom claim %q is set by the provider", u.Username, name)
			}
		}
		if _, err := json.Marshal(u.Claims); err != nil {
			add("user %q: custom claims: %v", u.Username, err)
		}
	}
	for _, cl := range c.Clients {
		for _, g := range cl.Grants {
			if !slices.Contains(knownGrants, g) {
				add("client %q has unknown grant %q (want one of %v)", cl.ID, g, knownGrants)
			}
		}
		if cl.Secret == "" && slices.Contains(cl.Grants, grantClientCredentials) {
			add("client %q has the client_credentials grant but no secret", cl.ID)
		}
		for _, sc := range cl.ManagementScopes {
			if !slices.Contains(managementScopes, sc) {
				add("client %q has Management API scope %q (want some of %v)", cl.ID, sc, managementScopes)
			}
		}
		for aud, scopes := range cl.Scopes {
			i := slices.IndexFunc(c.APIs, func(a API) bool { return a.Identifier == aud })
			if i < 0 {
				add("client %q has scopes for unknown API %q", cl.ID, aud)
				continue
			}
			for _, sc := range scopes {
				if !slices.Contains(c.APIs[i].Scopes, sc) {
					add("client %q has scope %q, which API %q does not define", cl.ID, sc, aud)
				}
			}
		}
	}
	if c.DefaultAudience != "" && !isAPI(c.DefaultAudience) {
		add("DefaultAudience %q is not an API identifier", c.DefaultAudience)
	}
	return errors.Join(errs...)
}

// clone copies c deeply enough that the caller's later changes to its
// slices and maps do not reach the server. Custom claim values are copied
// later, through JSON (see newState).
func (c Config) clone() Config {
	c.Users = slices.Clone(c.Users)
	for i := range c.Users {
		u := &c.Users[i]
		u.Roles = slices.Clone(u.Roles)
		u.Memberships = slices.Clone(u.Memberships)
		for j := range u.Memberships {
			u.Memberships[j].Roles = slices.Clone(u.Memberships[j].Roles)
		}
		u.Claims = maps.Clone(u.Claims)
	}
	c.Clients = slices.Clone(c.Clients)
	for i := range c.Clients {
		cl := &c.Clients[i]
		cl.Grants = slices.Clone(cl.Grants)
		cl.ManagementScopes = slices.Clone(cl.ManagementScopes)
		scopes := make(map[string][]string, len(cl.Scopes))
		for aud, s := range cl.Scopes {
			scopes[aud] = slices.Clone(s)
		}
		cl.Scopes = scopes
	}
	c.APIs = slices.Clone(c.APIs)
	for i := range c.APIs {
		c.APIs[i].Scopes = slices.Clone(c.APIs[i].Scopes)
	}
	c.Organizations = slices.Clone(c.Organizations)
	c.Roles = slices.Clone(c.Roles)
	for i := range c.Roles {
		c.Roles[i].Permissions = slices.Clone(c.Roles[i].Permissions)
	}
	return c
}

// unique reports the empty and the repeated keys of items.
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

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
