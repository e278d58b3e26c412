package idptest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Dialect says whose tokens and endpoints the provider imitates: the
// issuer's form, the endpoints' paths, the access tokens' typ and claims,
// and how the token endpoint judges the scopes asked. Users, clients, APIs,
// roles and grants work alike in every dialect; tokens only say it in the
// provider's words. The zero Dialect is DialectAuth0.
//
// Each dialect's access tokens, for a user and for a client-credentials
// grant (custom claims of the user are added in every dialect):
//
//	Auth0     as described in the package documentation.
//	RFC9068   typ at+jwt; iss URL() without a trailing slash; sub (the
//	          user's ID, or the client id for client credentials), aud,
//	          client_id, scope, iat, exp, jti; no azp, no gty. Endpoints as
//	          panva/oidc-provider's: /jwks, /token, /me, /token/introspection,
//	          /token/revocation.
//	Okta      iss URL()/oauth2/default; ver, jti, aud, iat, exp, cid (the
//	          client), scp (an array); a user's sub is the login (Email, else
//	          Username) and uid the user's ID; a client's sub is its id.
//	Keycloak  iss URL()/realms/idptest; azp, scope, typ "Bearer", aud [the
//	          API, "account"]; realm_access.roles holds the default roles
//	          and the user's role names, resource_access.<API>.roles the
//	          permissions (a client's granted scopes for a service account),
//	          resource_access.account.roles the account roles; a service
//	          account's sub is a GUID derived from the client,
//	          preferred_username "service-account-<client>" and client_id.
//	Entra     v2: iss URL()/<TenantID>/v2.0, azp, azpacr, ver "2.0".
//	EntraV1   v1: iss https://sts.windows.net/<TenantID>/ (not this server,
//	          as at Microsoft, whose v1 metadata names that issuer), appid,
//	          appidacr, ver "1.0". Both: tid, oid (the user's ID), a sub
//	          pairwise per API, scp (the API's scopes, space-delimited,
//	          present in every user token) and roles (the permissions);
//	          app-only tokens have roles (the client's granted scopes), sub =
//	          oid (a GUID derived from the client) and no scp.
//	Dex       iss URL()/dex, endpoints /dex/keys, /dex/token, /dex/userinfo;
//	          tokens shaped like ID tokens: aud the client id (a string), azp
//	          only when aud has several entries (cross-client scopes), sub
//	          Dex's encoding of (user ID, connector "local") — or of (client
//	          id, "") for client credentials — no scope claim; email, name,
//	          preferred_username and groups (the user's role names, in
//	          organizations and outside them) with their scopes. The
//	          audience and organization parameters are ignored: access
//	          tokens are always JWTs. The token endpoint refuses scopes Dex
//	          does not know — invalid_request "Unrecognized scope(s)" for the
//	          password grant, invalid_scope for the others — and a password
//	          grant without openid.
//
// Userinfo and introspection understand every dialect's tokens;
// introspection answers with all the token's claims outside the Auth0
// dialect.
type Dialect int

// The dialects.
const (
	DialectAuth0 Dialect = iota
	DialectRFC9068
	DialectOkta
	DialectKeycloak
	DialectEntra   // Microsoft Entra ID, v2.0 access tokens
	DialectEntraV1 // Microsoft Entra ID, v1.0 access tokens
	DialectDex
)

var dialectNames = [...]string{
	DialectAuth0: "auth0", DialectRFC9068: "rfc9068", DialectOkta: "okta", DialectKeycloak: "keycloak",
	DialectEntra: "entra", DialectEntraV1: "entra-v1", DialectDex: "dex",
}

// String returns the dialect's name, such as "keycloak".
func (d Dialect) String() string {
	if d >= 0 && int(d) < len(dialectNames) {
		return dialectNames[d]
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

func (d Dialect) valid() bool { return d >= 0 && int(d) < len(dialectNames) }

func (d Dialect) entra() bool { return d == DialectEntra || d == DialectEntraV1 }

// accessTokenType is the default typ header of the dialect's access tokens.
func (d Dialect) accessTokenType() string {
	if d == DialectRFC9068 {
		return "at+jwt"
	}
	return "JWT"
}

// reserved lists the claims the dialect sets, which User.Claims may not use.
func (d Dialect) reserved() []string {
	switch d {
	case DialectOkta:
		return []string{"ver", "cid", "uid", "scp", "auth_time"}
	case DialectKeycloak:
		return []string{"typ", "acr", "sid", "realm_access", "resource_access", "preferred_username", "email", "email_verified", "name", "clientHost", "clientAddress"}
	case DialectEntra, DialectEntraV1:
		return []string{"aio", "rh", "uti", "tid", "oid", "ver", "scp", "roles", "name", "preferred_username", "azpacr", "appid", "appidacr", "unique_name", "upn"}
	case DialectDex:
		return []string{"email", "email_verified", "groups", "name", "preferred_username", "federated_claims"}
	}
	return nil
}

// dialectPaths are the paths of the endpoints under URL().
type dialectPaths struct {
	discovery, jwks, token, userinfo, introspect, revoke string
}

// auth0Paths are the paths of the Auth0 dialect, which every dialect
// serves too (see routeDialect).
var auth0Paths = dialectPaths{
	discovery: "/.well-known/openid-configuration", jwks: "/.well-known/jwks.json", token: "/oauth/token",
	userinfo: "/userinfo", introspect: "/oauth/introspect", revoke: "/oauth/revoke",
}

// paths returns the dialect's endpoint paths. An endpoint the imitated
// provider lacks (Entra's introspection, Dex's revocation) keeps Auth0's.
func (s *Server) paths() dialectPaths {
	p := auth0Paths
	switch s.cfg.Dialect {
	case DialectRFC9068:
		p = dialectPaths{p.discovery, "/jwks", "/token", "/me", "/token/introspection", "/token/revocation"}
	case DialectOkta:
		const b = "/oauth2/default"
		p = dialectPaths{b + p.discovery, b + "/v1/keys", b + "/v1/token", b + "/v1/userinfo", b + "/v1/introspect", b + "/v1/revoke"}
	case DialectKeycloak:
		const b, oc = "/realms/idptest", "/realms/idptest/protocol/openid-connect"
		p = dialectPaths{b + p.discovery, oc + "/certs", oc + "/token", oc + "/userinfo", oc + "/token/introspect", oc + "/revoke"}
	case DialectEntra:
		t := "/" + s.cfg.TenantID
		p.discovery, p.jwks, p.token, p.userinfo = t+"/v2.0"+p.discovery, t+"/discovery/v2.0/keys", t+"/oauth2/v2.0/token", "/oidc/userinfo"
	case DialectEntraV1:
		t := "/" + s.cfg.TenantID
		p.discovery, p.jwks, p.token, p.userinfo = t+p.discovery, "/common/discovery/keys", t+"/oauth2/token", t+"/openid/userinfo"
	case DialectDex:
		const b = "/dex"
		p.discovery, p.jwks, p.token, p.userinfo, p.introspect = b+p.discovery, b+"/keys", b+"/token", b+"/userinfo", b+"/token/introspect"
	}
	return p
}

// issuer returns the dialect's issuer.
func (s *Server) issuer() string {
	switch s.cfg.Dialect {
	case DialectRFC9068:
		return s.url
	case DialectOkta:
		return s.url + "/oauth2/default"
	case DialectKeycloak:
		return s.url + "/realms/idptest"
	case DialectEntra:
		return s.url + "/" + s.cfg.TenantID + "/v2.0"
	case DialectEntraV1:
		return "https://sts.windows.net/" + s.cfg.TenantID + "/"
	case DialectDex:
		return s.url + "/dex"
	}
	return s.url + "/"
}

// TenantID returns Config.TenantID: the tenant of the Entra dialects' tid
// claim and issuer ("" in other dialects).
func (s *Server) TenantID() string { return s.cfg.TenantID }

// IssuerTemplate returns the Entra dialects' multi-tenant issuer template:
// Issuer() with the tenant id replaced by "{tenantid}", as Microsoft's
// "common" metadata writes it. It is "" in other dialects.
func (s *Server) IssuerTemplate() string {
	if !s.cfg.Dialect.entra() {
		return ""
	}
	return strings.Replace(s.Issuer(), s.cfg.TenantID, "{tenantid}", 1)
}

// routeDialect serves the dialect's paths beside Auth0's, which stay
// available in every dialect.
func (s *Server) routeDialect(mux *http.ServeMux) {
	p := s.paths()
	for _, r := range []struct {
		methods    []string
		path, auth string
		e          Endpoint
		h          http.HandlerFunc
	}{
		{[]string{"GET"}, p.discovery, auth0Paths.discovery, EndpointDiscovery, s.serveDiscovery},
		{[]string{"GET"}, p.jwks, auth0Paths.jwks, EndpointJWKS, s.serveJWKS},
		{[]string{"POST"}, p.token, auth0Paths.token, EndpointToken, s.serveToken},
		{[]string{"GET", "POST"}, p.userinfo, auth0Paths.userinfo, EndpointUserinfo, s.serveUserinfo},
		{[]string{"POST"}, p.introspect, auth0Paths.introspect, EndpointIntrospect, s.serveIntrospect},
		{[]string{"POST"}, p.revoke, auth0Paths.revoke, EndpointRevoke, s.serveRevoke},
	} {
		if r.path == r.auth {
			continue
		}
		for _, m := range r.methods {
			mux.Handle(m+" "+r.path, s.endpoint(r.e, r.h))
		}
	}
}

// opaque reports whether g's access token is opaque: a grant without an
// API (such a token is good only at /userinfo, as at Auth0) or for an
// Opaque one. Dex's access tokens are always JWTs.
func (s *Server) opaque(g grant) bool {
	if g.api == nil {
		return s.cfg.Dialect != DialectDex
	}
	return g.api.Opaque
}

// dialectClaims returns the claims of g's access token in the dialect,
// built from a0, the claims the Auth0 dialect would issue (whose iss, iat,
// exp and jti it keeps, whose permissions it may use, and whose other
// claims outside reservedClaims are the user's custom claims). s.mu is held.
func (s *Server) dialectClaims(g grant, a0 map[string]any) map[string]any {
	c := map[string]any{}
	for name, v := range a0 {
		if !slices.Contains(reservedClaims, name) {
			c[name] = v
		}
	}
	c["iss"], c["iat"], c["exp"] = a0["iss"], a0["iat"], a0["exp"]
	if g.api != nil {
		c["aud"] = g.api.Identifier
	}
	perms, _ := a0["permissions"].([]string) // a user's
	jti, _ := a0["jti"].(string)
	switch s.cfg.Dialect {
	case DialectRFC9068:
		rfc9068Claims(c, g, jti)
	case DialectOkta:
		oktaClaims(c, g, jti)
	case DialectKeycloak:
		s.keycloakClaims(c, g, jti, perms)
	case DialectEntra, DialectEntraV1:
		s.entraClaims(c, g, jti, perms)
	case DialectDex:
		s.dexClaims(c, g)
	}
	return c
}

func rfc9068Claims(c map[string]any, g grant, jti string) {
	c["jti"], c["client_id"], c["sub"] = jti, g.client.ID, g.client.ID
	if g.user != nil {
		c["sub"] = g.user.ID
	}
	if len(g.scopes) > 0 {
		c["scope"] = strings.Join(g.scopes, " ")
	}
}

func oktaClaims(c map[string]any, g grant, jti string) {
	c["ver"], c["jti"], c["cid"], c["scp"], c["sub"] = 1, "AT."+jti, g.client.ID, append([]string{}, g.scopes...), g.client.ID
	if u := g.user; u != nil {
		c["sub"], c["uid"], c["auth_time"] = orDefault(u.Email, u.Username), u.ID, c["iat"]
	}
}

func (s *Server) keycloakClaims(c map[string]any, g grant, jti string, perms []string) {
	cl := g.client
	c["jti"], c["typ"], c["azp"], c["acr"], c["scope"] = jti, "Bearer", cl.ID, "1", strings.Join(g.scopes, " ")
	realm := []string{"default-roles-idptest", "offline_access", "uma_authorization"}
	clientRoles := g.scopes
	if u := g.user; u != nil {
		c["sub"], c["sid"], c["preferred_username"], c["email"], c["email_verified"], c["name"] = u.ID, randomID(16), strings.ToLower(u.Username), u.Email, u.Email != "", u.Name
		realm = append(realm, s.st.roleNames(u, g.org)...)
		clientRoles = perms
	} else {
		c["sub"], c["preferred_username"] = derivedGUID("service-account", cl.ID), "service-account-"+strings.ToLower(cl.ID)
		c["client_id"], c["clientHost"], c["clientAddress"] = cl.ID, "127.0.0.1", "127.0.0.1"
	}
	access := map[string]any{"account": map[string]any{"roles": []string{"manage-account", "view-profile"}}}
	c["aud"] = "account"
	if g.api != nil {
		c["aud"] = []string{g.api.Identifier, "account"}
		access[g.api.Identifier] = map[string]any{"roles": append([]string{}, clientRoles...)}
	}
	c["realm_access"], c["resource_access"] = map[string]any{"roles": realm}, access
}

func (s *Server) entraClaims(c map[string]any, g grant, jti string, perms []string) {
	cl := g.client
	c["aio"], c["rh"], c["uti"], c["tid"], c["nbf"] = randomID(24), randomID(12), jti, s.cfg.TenantID, c["iat"]
	acr := "1" // a confidential client; "0" is a public one
	if cl.Secret == "" {
		acr = "0"
	}
	if s.cfg.Dialect == DialectEntra {
		c["ver"], c["azp"], c["azpacr"] = "2.0", cl.ID, acr
	} else {
		c["ver"], c["appid"], c["appidacr"] = "1.0", cl.ID, acr
	}
	roles := g.scopes
	if u := g.user; u != nil {
		var scp []string // the API's scopes only: OIDC scopes are Graph's
		for _, sc := range g.scopes {
			if !slices.Contains(oidcScopes, sc) {
				scp = append(scp, sc)
			}
		}
		aud, _ := c["aud"].(string)
		c["oid"], c["sub"], c["name"], c["scp"] = u.ID, pairwise("sub", aud, u.ID), u.Name, strings.Join(scp, " ")
		if s.cfg.Dialect == DialectEntra {
			c["preferred_username"] = u.Email
		} else {
			c["unique_name"], c["upn"] = u.Email, u.Email
		}
		roles = perms
	} else {
		oid := derivedGUID("service-principal", cl.ID)
		c["oid"], c["sub"] = oid, oid
	}
	if len(roles) > 0 {
		c["roles"] = append([]string{}, roles...)
	}
}

func (s *Server) dexClaims(c map[string]any, g grant) {
	cl := g.client
	var auds []string
	for _, sc := range g.scopes {
		if peer, ok := strings.CutPrefix(sc, dexAudiencePrefix); ok && !slices.Contains(auds, peer) {
			auds = append(auds, peer)
		}
	}
	if !slices.Contains(auds, cl.ID) {
		auds = append(auds, cl.ID)
	}
	if len(auds) == 1 {
		c["aud"] = auds[0]
	} else {
		c["aud"], c["azp"] = auds, cl.ID
	}
	u := g.user
	if u == nil {
		c["sub"] = dexSubject(cl.ID, "")
		return
	}
	c["sub"] = dexSubject(u.ID, dexConnector)
	for _, sc := range g.scopes {
		switch sc {
		case "email":
			c["email"], c["email_verified"] = u.Email, true
		case "profile":
			c["name"], c["preferred_username"] = u.Name, u.Username
		case "groups":
			c["groups"] = s.st.allRoles(u)
		case "federated:id":
			c["federated_claims"] = map[string]any{"connector_id": dexConnector, "user_id": u.ID}
		}
	}
}

// idTokenSubject is the sub of g's ID token: the user's ID, or Dex's
// encoding of it.
func (s *Server) idTokenSubject(g grant) string {
	if s.cfg.Dialect == DialectDex {
		return dexSubject(g.user.ID, dexConnector)
	}
	return g.user.ID
}

// userIDOf returns the ID of the user an access token's claims c name, ""
// for a client's token: Okta's uid, Entra's oid, Dex's decoded sub,
// elsewhere sub.
func (s *Server) userIDOf(c map[string]any) string {
	name := "sub"
	switch s.cfg.Dialect {
	case DialectOkta:
		name = "uid"
	case DialectEntra, DialectEntraV1:
		name = "oid"
	case DialectDex:
		sub, _ := c["sub"].(string)
		user, conn, ok := parseDexSubject(sub)
		if !ok || conn == "" {
			return ""
		}
		return user
	}
	id, _ := c[name].(string)
	return id
}

// userinfoAccepts reports whether /userinfo answers for an active access
// token with claims c: one that carries openid, or was issued for
// /userinfo alone (Auth0); any at Dex, whose access tokens are ID tokens.
func (s *Server) userinfoAccepts(c map[string]any) bool {
	return hasScope(c, "openid") || c["aud"] == s.userinfoAudience() || s.cfg.Dialect == DialectDex
}

// introspectionClaims returns the claims an introspection answer repeats
// from the token's: those of introspectedClaims at Auth0, all of them in
// other dialects (as Keycloak and Okta answer).
func (s *Server) introspectionClaims(c map[string]any) map[string]any {
	if s.cfg.Dialect != DialectAuth0 {
		return maps.Clone(c)
	}
	out := map[string]any{}
	for _, name := range introspectedClaims {
		if v, ok := c[name]; ok {
			out[name] = v
		}
	}
	return out
}

// Dex's scopes (its server/oauth2.go).
const (
	dexConnector      = "local" // the connector every idptest user logs in with
	dexAudiencePrefix = "audience:server:client_id:"
)

var dexScopes = []string{"openid", "offline_access", "email", "profile", "groups", "federated:id"}

// dexGrantLocked resolves a token request in the Dex dialect as Dex does:
// every scope asked must be one Dex knows (a cross-client audience must
// name a known client), a user's grant must ask openid, and the audience
// and organization parameters do not exist. The error code is
// invalid_request for the password grant, invalid_scope for the others.
// u is nil for client credentials. s.mu is held.
func (s *Server) dexGrantLocked(u *user, c *Client, scopes []string, gty string) (grant, error) {
	code := "invalid_scope"
	if gty == grantPassword {
		code = "invalid_request"
	}
	var unknown, untrusted, granted []string
	for _, sc := range scopes {
		switch peer, cross := strings.CutPrefix(sc, dexAudiencePrefix); {
		case u == nil && (sc == "offline_access" || sc == "federated:id"):
			return grant{}, refuse(400, code, "client_credentials grant does not support "+sc+" scope.")
		case cross && s.st.clients[peer] == nil:
			untrusted = append(untrusted, sc)
		case !cross && !slices.Contains(dexScopes, sc):
			unknown = append(unknown, sc)
		}
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	switch {
	case u != nil && !slices.Contains(scopes, "openid"):
		return grant{}, refuse(400, code, `Missing required scope(s) ["openid"].`)
	case len(unknown) > 0:
		return grant{}, refuse(400, code, fmt.Sprintf("Unrecognized scope(s) %q", unknown))
	case len(untrusted) > 0:
		return grant{}, refuse(400, code, fmt.Sprintf("Client can't request scope(s) %q", untrusted))
	}
	if u == nil {
		gty = "client-credentials"
	}
	return grant{user: u, client: c, scopes: granted, gty: gty}, nil
}

// dexSubject is Dex's sub: base64url of the protobuf IDTokenSubject
// {user_id = 1, conn_id = 2}, an empty conn_id left out.
func dexSubject(user, conn string) string {
	b := binary.AppendUvarint([]byte{0x0a}, uint64(len(user)))
	b = append(b, user...)
	if conn != "" {
		b = binary.AppendUvarint(append(b, 0x12), uint64(len(conn)))
		b = append(b, conn...)
	}
	return b64.EncodeToString(b)
}

// parseDexSubject undoes dexSubject: ok is false for a sub that is not
// such an encoding.
func parseDexSubject(sub string) (user, conn string, ok bool) {
	b, err := b64.DecodeString(sub)
	if err != nil {
		return "", "", false
	}
	fields := map[byte]string{}
	for len(b) > 0 {
		tag := b[0]
		n, w := binary.Uvarint(b[1:])
		if (tag != 0x0a && tag != 0x12) || w <= 0 || n > uint64(len(b)-1-w) {
			return "", "", false
		}
		if _, dup := fields[tag]; dup {
			return "", "", false
		}
		fields[tag] = string(b[1+w : 1+w+int(n)])
		b = b[1+w+int(n):]
	}
	return fields[0x0a], fields[0x12], fields[0x0a] != ""
}

// derivedGUID returns a GUID-shaped id derived from parts, stable across
// runs: Keycloak's service-account users and Entra's service principals.
func derivedGUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// pairwise returns an opaque identifier derived from parts, shaped like
// Entra's pairwise sub.
func pairwise(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return b64.EncodeToString(h[:])[:43]
}

// isGUID reports whether s has the form 8-4-4-4-12 of hexadecimal digits.
// (claims has the same check; idptest imports none of authgate's packages.)
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// newTenantID returns a random tenant id (a version 4 GUID).
func newTenantID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// roleNames returns the names of u's roles in org (its tenant-level roles
// without one). st is guarded by Server.mu.
func (st *state) roleNames(u *user, org *Organization) []string {
	if org == nil {
		return slices.Clone(u.Roles)
	}
	var roles []string
	for _, m := range u.Memberships {
		if m.OrgID == org.ID {
			roles = slices.Clone(m.Roles)
		}
	}
	return roles
}

// allRoles returns the names of all u's roles, tenant-level and in every
// organization, sorted: Dex's groups, which know no organizations.
func (st *state) allRoles(u *user) []string {
	all := slices.Clone(u.Roles)
	for _, m := range u.Memberships {
		all = append(all, m.Roles...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}
