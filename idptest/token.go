package idptest

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// serveToken is /oauth/token: the password, client_credentials,
// authorization_code and refresh_token grants.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if err := r.ParseForm(); err != nil {
		writeGrantError(w, refuse(400, "invalid_request", "The body must be form-encoded."))
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.grant(r, f)
	if err != nil {
		writeGrantError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) grant(r *http.Request, f url.Values) (tokenResponse, error) {
	gt := f.Get("grant_type")
	switch gt {
	case "password", "http://auth0.com/oauth/grant-type/password-realm", "client_credentials", "authorization_code", "refresh_token":
	default:
		return tokenResponse{}, refuse(400, "unsupported_grant_type", "Unsupported grant type: "+gt)
	}
	c, err := s.authenticateClient(r, f)
	if err != nil {
		return tokenResponse{}, err
	}
	if strings.HasPrefix(gt, "http://auth0.com/") {
		gt = "password"
	}
	if !hasGrant(c, gt) {
		return tokenResponse{}, refuse(403, "unauthorized_client", "Grant type '"+gt+"' not allowed for the client.")
	}
	scopes := strings.Fields(f.Get("scope"))
	switch gt {
	case "password":
		u := s.state.users[f.Get("username")]
		if u == nil || s.state.removed[u.Username] || subtle.ConstantTimeCompare([]byte(u.Password), []byte(f.Get("password"))) != 1 {
			return tokenResponse{}, refuse(403, "invalid_grant", "Wrong email or password.")
		}
		g, err := s.userGrant(u.Username, c.ID, f.Get("audience"), scopes, f.Get("organization"), "password")
		if err != nil {
			return tokenResponse{}, err
		}
		return s.issue(g, mayRefresh(g))
	case "client_credentials":
		if c.Secret == "" {
			return tokenResponse{}, refuse(401, "invalid_client", "Client authentication is required.")
		}
		g, err := s.machineGrant(c, f.Get("audience"), scopes)
		if err != nil {
			return tokenResponse{}, err
		}
		return s.issue(g, false)
	case "authorization_code":
		return s.exchangeCode(c, f)
	default:
		return s.refreshGrant(c, f.Get("refresh_token"), scopes)
	}
}

// authenticateClient accepts client_secret_basic, client_secret_post, or a
// bare client_id for public clients.
func (s *Server) authenticateClient(r *http.Request, f url.Values) (*Client, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both are form-encoded before Basic.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if errors.Join(err1, err2) != nil {
			return nil, refuse(401, "invalid_client", "Malformed client credentials.")
		}
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	c := s.state.clients[id]
	switch {
	case c == nil:
		return nil, refuse(401, "invalid_client", "Unknown client.")
	case c.Secret == "" && secret == "":
		return c, nil
	case subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1:
		return nil, refuse(401, "invalid_client", "Unauthorized.")
	}
	return c, nil
}

func (s *Server) exchangeCode(c *Client, f url.Values) (tokenResponse, error) {
	code, ok := s.state.codes[f.Get("code")]
	delete(s.state.codes, f.Get("code")) // single use, whatever happens next
	switch {
	case !ok || !s.now().Before(code.expires):
		return tokenResponse{}, refuse(403, "invalid_grant", "Invalid authorization code.")
	case code.client.ID != c.ID:
		return tokenResponse{}, refuse(403, "invalid_grant", "The code was issued to another client.")
	case code.redirectURI != "" && code.redirectURI != f.Get("redirect_uri"):
		return tokenResponse{}, refuse(403, "invalid_grant", "redirect_uri does not match.")
	case code.challenge != "" && S256Challenge(f.Get("code_verifier")) != code.challenge:
		return tokenResponse{}, refuse(403, "invalid_grant", "Failed to verify code verifier.")
	case code.challenge == "" && c.Secret == "":
		return tokenResponse{}, refuse(401, "invalid_client", "A public client must use PKCE.")
	case s.state.removed[code.user.Username]:
		return tokenResponse{}, refuse(403, "invalid_grant", "The user was deleted.")
	}
	return s.issue(code.grant, mayRefresh(code.grant))
}

// refreshGrant exchanges a refresh token. With rotation, the presented token
// is marked rotated and a new one of the same family is returned; a rotated
// token still works within the reuse interval and is reuse after it, which
// revokes the whole family.
func (s *Server) refreshGrant(c *Client, token string, scopes []string) (tokenResponse, error) {
	invalid := refuse(400, "invalid_grant", "Unknown or invalid refresh token.")
	rt, ok := s.state.refresh[token]
	now := s.now()
	switch {
	case !ok || rt.client.ID != c.ID || s.state.families[rt.family] || !now.Before(rt.expires):
		return tokenResponse{}, invalid
	case s.state.removed[rt.user.Username]:
		return tokenResponse{}, refuse(403, "invalid_grant", "The user was deleted.")
	case !rt.rotatedAt.IsZero() && now.Sub(rt.rotatedAt) > s.cfg.RefreshReuseInterval:
		s.state.revokeFamily(rt.family)
		return tokenResponse{}, invalid
	}
	g := rt.grant
	if len(scopes) > 0 {
		for _, sc := range scopes {
			if !slices.Contains(rt.scopes, sc) {
				return tokenResponse{}, refuse(403, "invalid_scope", "Scope '"+sc+"' was not granted.")
			}
		}
		g.scopes = scopes
	}
	rotate := !c.DisableRotation
	if rotate && rt.rotatedAt.IsZero() {
		rt.rotatedAt = now
	}
	resp, err := s.issue(g, rotate)
	if err != nil {
		return resp, err
	}
	if rotate {
		// The new token lives as long as the family's first did.
		s.state.refresh[resp.RefreshToken].expires = rt.expires
	}
	return resp, nil
}

func hasGrant(c *Client, grant string) bool { return slices.Contains(c.Grants, grant) }

func writeGrantError(w http.ResponseWriter, err error) {
	var ge *errGrant
	if !errors.As(err, &ge) {
		ge = refuse(500, "server_error", err.Error())
	}
	writeJSON(w, ge.status, map[string]string{"error": ge.code, "error_description": ge.description})
}
