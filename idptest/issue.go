package idptest

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// userGrantLocked resolves a user's token request: the API named by
// audience ("" = none: the token will be good only at /userinfo), the
// organization (ID or name; the user must be a member) and the scopes —
// those asked that the user's roles allow there, plus the OIDC scopes
// asked. s.mu is held.
func (s *Server) userGrantLocked(u *user, c *Client, audience string, scopes []string, organization, gty string) (grant, error) {
	if s.cfg.Dialect == DialectDex {
		return s.dexGrantLocked(u, c, scopes, gty)
	}
	g := grant{user: u, client: c, gty: gty}
	if audience != "" {
		if g.api = s.st.apis[audience]; g.api == nil {
			return grant{}, refuse(403, "access_denied", "Service not found: "+audience)
		}
	}
	if organization != "" {
		if g.org = s.st.orgs[organization]; g.org == nil {
			return grant{}, refuse(403, "access_denied", "No organization named "+organization+".")
		}
		if !member(u, g.org) {
			return grant{}, refuse(403, "access_denied", "The user is not a member of the organization.")
		}
	}
	allowed := s.st.permissions(u, g.api, g.org)
	for _, sc := range scopes {
		if (slices.Contains(oidcScopes, sc) || slices.Contains(allowed, sc)) && !slices.Contains(g.scopes, sc) {
			g.scopes = append(g.scopes, sc)
		}
	}
	return g, nil
}

// machineGrantLocked resolves a client-credentials request: the audience
// (else DefaultAudience) and the scopes the client was granted there,
// narrowed to those asked if any. s.mu is held.
func (s *Server) machineGrantLocked(c *Client, audience string, scopes []string) (grant, error) {
	if s.cfg.Dialect == DialectDex {
		return s.dexGrantLocked(nil, c, scopes, grantClientCredentials)
	}
	if audience == "" {
		audience = s.cfg.DefaultAudience
	}
	if audience == "" {
		return grant{}, refuse(403, "access_denied", "No audience parameter was provided, and no default audience has been configured.")
	}
	g := grant{client: c, api: s.st.apis[audience], gty: "client-credentials"}
	if g.api == nil {
		return grant{}, refuse(403, "access_denied", "Service not found: "+audience)
	}
	for _, sc := range c.Scopes[audience] {
		if len(scopes) == 0 || slices.Contains(scopes, sc) {
			g.scopes = append(g.scopes, sc)
		}
	}
	if len(g.scopes) == 0 {
		return grant{}, refuse(403, "access_denied", "Client is not authorized to access \""+audience+"\" with these scopes.")
	}
	return g, nil
}

// accessClaims returns the claims of an access token for g issued at now,
// in the Config.Dialect, and the token's expiry. s.mu is held.
func (s *Server) accessClaims(g grant, now time.Time) (map[string]any, time.Time) {
	c, exp := s.auth0AccessClaims(g, now)
	if s.cfg.Dialect != DialectAuth0 {
		c = s.dialectClaims(g, c)
	}
	return c, exp
}

// auth0AccessClaims returns the claims of an access token for g issued at
// now, shaped like Auth0's, and the token's expiry. s.mu is held.
func (s *Server) auth0AccessClaims(g grant, now time.Time) (map[string]any, time.Time) {
	ttl := s.cfg.AccessTokenTTL
	if g.api != nil && g.api.AccessTokenTTL > 0 {
		ttl = g.api.AccessTokenTTL
	}
	exp := now.Add(ttl)
	c := map[string]any{}
	if g.user != nil && g.user.claims != nil {
		// Decoded afresh, so no two tokens share a value; it was encoded
		// from a map by newState and cannot fail.
		_ = json.Unmarshal(g.user.claims, &c)
	}
	c["iss"] = s.Issuer()
	c["iat"] = now.Unix()
	c["exp"] = exp.Unix()
	c["azp"] = g.client.ID
	c["jti"] = randomID(16)
	if s.cfg.AccessTokenType == "at+jwt" {
		c["client_id"] = g.client.ID // RFC 9068 §2.2
	}
	if len(g.scopes) > 0 {
		c["scope"] = strings.Join(g.scopes, " ")
	}
	if g.gty != "" {
		c["gty"] = g.gty
	}
	if g.user == nil {
		c["sub"] = g.client.ID + "@clients"
		if g.api != nil { // nil only in DialectDex
			c["aud"] = g.api.Identifier
		}
		return c, exp
	}
	c["sub"] = g.user.ID
	switch {
	case g.api == nil:
		c["aud"] = s.userinfoAudience()
	case slices.Contains(g.scopes, "openid"):
		c["aud"] = []string{g.api.Identifier, s.userinfoAudience()}
	default:
		c["aud"] = g.api.Identifier
	}
	c["permissions"] = s.st.permissions(g.user, g.api, g.org)
	if g.org != nil {
		c["org_id"] = g.org.ID
		if s.cfg.OrgNameInToken {
			c["org_name"] = g.org.Name
		}
	}
	return c, exp
}

// idClaims returns the claims of g's ID token issued at now.
func (s *Server) idClaims(g grant, now time.Time) map[string]any {
	c := map[string]any{
		"iss": s.Issuer(), "sub": s.idTokenSubject(g), "aud": g.client.ID,
		"iat": now.Unix(), "exp": now.Add(s.cfg.IDTokenTTL).Unix(),
		"name": g.user.Name, "email": g.user.Email,
	}
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	if g.org != nil {
		c["org_id"] = g.org.ID
	}
	return c
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

// issuance is a token answer whose JWTs are still to be signed, which
// happens after s.mu is released.
type issuance struct {
	resp   tokenResponse
	access map[string]any // claims of a JWT access token; nil when it is opaque
	id     map[string]any // claims of the ID token; nil without openid
}

// issueLocked records the tokens of g — an opaque access token (without an
// API, or for an Opaque one), a refresh token when withRefresh — and
// returns them with the claims of the JWTs to sign. A grant that belongs
// to a refresh-token family passes it on to its opaque access token. s.mu
// is held.
func (s *Server) issueLocked(g grant, withRefresh bool) issuance {
	now := s.Now()
	if withRefresh && g.family == "" {
		g.family = randomID(16)
	}
	claims, exp := s.accessClaims(g, now)
	is := issuance{resp: tokenResponse{
		Scope:     strings.Join(g.scopes, " "),
		ExpiresIn: int64(exp.Sub(now) / time.Second),
		TokenType: "Bearer",
	}}
	if s.opaque(g) {
		is.resp.AccessToken = s.registerOpaqueLocked(claims, exp, g.family)
	} else {
		is.access = claims
	}
	if g.user != nil && slices.Contains(g.scopes, "openid") {
		is.id = s.idClaims(g, now)
	}
	if withRefresh {
		is.resp.RefreshToken = s.newRefreshLocked(g, now.Add(s.cfg.RefreshTokenTTL))
	}
	return is
}

// signIssuance signs the JWTs of is with the signing key.
func (s *Server) signIssuance(is issuance) (tokenResponse, error) {
	s.keysMu.Lock()
	k := s.signer
	s.keysMu.Unlock()
	var err error
	if is.access != nil {
		if is.resp.AccessToken, err = k.signJWT(is.access, s.cfg.AccessTokenType); err != nil {
			return tokenResponse{}, err
		}
	}
	if is.id != nil {
		if is.resp.IDToken, err = k.signJWT(is.id, "JWT"); err != nil {
			return tokenResponse{}, err
		}
	}
	return is.resp, nil
}

// registerOpaqueLocked remembers an opaque access token; s.mu is held.
// The token is random base64url: never three dot-separated parts.
func (s *Server) registerOpaqueLocked(claims map[string]any, exp time.Time, family string) string {
	tok := randomID(32)
	s.st.opaque[tok] = &opaqueToken{claims: claims, expires: exp, family: family}
	return tok
}

// mayRefresh reports whether g earns a refresh token: a user's grant that
// asked offline_access, through a client allowed the refresh_token grant.
func mayRefresh(g grant) bool {
	return g.user != nil && slices.Contains(g.scopes, "offline_access") && slices.Contains(g.client.Grants, grantRefreshToken)
}
