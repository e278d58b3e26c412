package idptest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// errGrant is a refusal the token endpoint turns into an OAuth error.
type errGrant struct {
	status      int
	code        string
	description string
}

func (e *errGrant) Error() string { return e.code + ": " + e.description }

func refuse(status int, code, description string) *errGrant {
	return &errGrant{status, code, description}
}

// userGrant resolves a user's token request; s.mu is held. Scopes are
// narrowed to what the user's roles allow (the OIDC scopes always pass);
// no scopes asked means all the user may have.
func (s *Server) userGrant(username, clientID, audience string, scopes []string, organization, gty string) (grant, error) {
	st := s.state
	u, ok := st.users[username]
	if !ok || st.removed[username] {
		return grant{}, refuse(403, "invalid_grant", "Wrong email or password.")
	}
	c, ok := st.clients[clientID]
	if !ok {
		return grant{}, refuse(401, "invalid_client", "Unknown client.")
	}
	if audience == "" {
		audience = s.cfg.DefaultAudience
	}
	var api *API
	if audience != "" {
		if api = st.apis[audience]; api == nil {
			return grant{}, refuse(403, "access_denied", fmt.Sprintf("Service not found: %s", audience))
		}
	}
	var org *Organization
	if organization != "" {
		if org = st.orgs[organization]; org == nil || !st.member(u, org) {
			return grant{}, refuse(403, "access_denied", "The user is not a member of the organization.")
		}
	}
	perms := st.userPermissions(u, api, org)
	if len(scopes) == 0 {
		scopes = perms
	}
	var granted []string
	for _, sc := range scopes {
		if (slices.Contains(oidcScopes, sc) || slices.Contains(perms, sc)) && !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	return grant{user: u, client: c, audience: audience, scopes: granted, org: org, gty: gty}, nil
}

// machineGrant resolves a client-credentials request; s.mu is held.
func (s *Server) machineGrant(c *Client, audience string, scopes []string) (grant, error) {
	if audience == "" {
		audience = s.cfg.DefaultAudience
	}
	if s.state.apis[audience] == nil {
		return grant{}, refuse(403, "access_denied", fmt.Sprintf("Service not found: %s", audience))
	}
	allowed := c.Scopes[audience]
	granted := allowed
	if len(scopes) > 0 {
		granted = nil
		for _, sc := range scopes {
			if slices.Contains(allowed, sc) {
				granted = append(granted, sc)
			}
		}
	}
	if len(granted) == 0 {
		return grant{}, refuse(403, "access_denied", "Client has not been granted scopes for this API.")
	}
	return grant{client: c, audience: audience, scopes: granted, gty: "client-credentials"}, nil
}

// accessClaims returns an access token's claims for g, shaped like
// Auth0's; s.mu is held.
func (s *Server) accessClaims(g grant) map[string]any {
	now := s.now()
	ttl := s.cfg.AccessTokenTTL
	if api := s.state.apis[g.audience]; api != nil && api.AccessTokenTTL > 0 {
		ttl = api.AccessTokenTTL
	}
	c := map[string]any{
		"iss": s.Issuer(),
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"azp": g.client.ID,
		"jti": randomID(12),
	}
	if len(g.scopes) > 0 {
		c["scope"] = strings.Join(g.scopes, " ")
	}
	if g.gty != "" {
		c["gty"] = g.gty
	}
	if g.user == nil {
		c["sub"] = g.client.ID + "@clients"
		c["aud"] = g.audience
		return c
	}
	maps.Copy(c, g.user.Claims)
	c["sub"] = g.user.ID
	switch {
	case g.audience == "":
		c["aud"] = s.Issuer() + "userinfo"
	case slices.Contains(g.scopes, "openid"):
		c["aud"] = []string{g.audience, s.Issuer() + "userinfo"}
	default:
		c["aud"] = g.audience
	}
	perms := s.state.userPermissions(g.user, s.state.apis[g.audience], g.org)
	if perms == nil {
		perms = []string{}
	}
	c["permissions"] = perms
	if g.org != nil {
		c["org_id"] = g.org.ID
		if s.cfg.OrgNameInToken {
			c["org_name"] = g.org.Name
		}
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

// issue mints the tokens of a grant: an access token (a JWT, or opaque
// without an API or for an Opaque API), an ID token when openid was granted,
// and a refresh token when withRefresh; s.mu is held.
func (s *Server) issue(g grant, withRefresh bool) (tokenResponse, error) {
	if withRefresh && g.family == "" {
		g.family = randomID(12)
	}
	claims := s.accessClaims(g)
	exp := time.Unix(claims["exp"].(int64), 0)
	resp := tokenResponse{Scope: strings.Join(g.scopes, " "), ExpiresIn: int64(exp.Sub(s.now()).Seconds()), TokenType: "Bearer"}
	if api := s.state.apis[g.audience]; api == nil || api.Opaque {
		resp.AccessToken = s.registerOpaque(claims, exp, g.family)
	} else {
		tok, err := s.signLocked(claims, mintOptions{})
		if err != nil {
			return resp, err
		}
		resp.AccessToken = tok
	}
	if g.user != nil && slices.Contains(g.scopes, "openid") {
		tok, err := s.signLocked(s.idClaims(g), mintOptions{header: map[string]any{"typ": "JWT"}})
		if err != nil {
			return resp, err
		}
		resp.IDToken = tok
	}
	if withRefresh {
		rt := randomID(32)
		s.state.refresh[rt] = &refreshToken{grant: g, expires: s.now().Add(s.cfg.RefreshTokenTTL)}
		resp.RefreshToken = rt
	}
	return resp, nil
}

func (s *Server) idClaims(g grant) map[string]any {
	now := s.now()
	c := map[string]any{
		"iss": s.Issuer(), "sub": g.user.ID, "aud": g.client.ID,
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

func (s *Server) registerOpaque(claims map[string]any, exp time.Time, family string) string {
	tok := randomID(24)
	s.state.opaque[tok] = &opaqueToken{claims: claims, expires: exp, family: family}
	return tok
}

// mayRefresh reports whether g gets a refresh token: a user's grant with
// offline_access, through a client allowed the refresh_token grant.
func mayRefresh(g grant) bool {
	return g.user != nil && slices.Contains(g.scopes, "offline_access") && slices.Contains(g.client.Grants, "refresh_token")
}
