package idptest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// lookupAccess looks an access token up — an opaque one by its record, a
// JWT by verifying it against the published keys — and returns its claims
// while it is valid (not expired, not revoked); s.mu is held.
func (s *Server) lookupAccess(token string) (map[string]any, bool) {
	now := s.now()
	if o, ok := s.state.opaque[token]; ok {
		return o.claims, !o.revoked && now.Before(o.expires)
	}
	c, err := parseOwn(token, s.keyLocked)
	if err != nil || c["iss"] != s.Issuer() {
		return nil, false
	}
	exp, ok := c["exp"].(json.Number)
	if !ok {
		return nil, false
	}
	n, err := exp.Int64()
	return c, err == nil && now.Before(time.Unix(n, 0))
}

// serveUserinfo answers a valid access token with the user's profile. A JWT
// must have been issued with openid (its audience includes /userinfo, as
// at Auth0); an opaque token always qualifies.
func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	c, valid := s.lookupAccess(token)
	_, opaque := s.state.opaque[token]
	var u *User
	if valid && (opaque || hasAudience(c["aud"], s.Issuer()+"userinfo")) {
		if sub, _ := c["sub"].(string); s.state.byID[sub] != nil && !s.state.removed[s.state.byID[sub].Username] {
			u = s.state.byID[sub]
		}
	}
	s.mu.Unlock()
	if !ok || u == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	info := map[string]any{"sub": u.ID, "name": u.Name, "email": u.Email}
	if org, ok := c["org_id"]; ok {
		info["org_id"] = org
	}
	writeJSON(w, http.StatusOK, info)
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	case []string:
		return slices.Contains(a, want)
	}
	return false
}

// serveIntrospect is RFC 7662 for a confidential client: active access
// tokens (opaque or JWT) and refresh tokens; {"active":false} for anything
// else.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeGrantError(w, refuse(400, "invalid_request", "The body must be form-encoded."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.authenticateClient(r, r.PostForm)
	if err == nil && c.Secret == "" {
		err = refuse(401, "invalid_client", "Client authentication is required.")
	}
	if err != nil {
		writeGrantError(w, err)
		return
	}
	token := r.PostForm.Get("token")
	if rt, ok := s.state.refresh[token]; ok {
		if s.refreshState(rt) == RefreshActive {
			writeJSON(w, http.StatusOK, map[string]any{"active": true, "token_type": "refresh_token",
				"client_id": rt.client.ID, "sub": rt.user.ID, "scope": strings.Join(rt.scopes, " "), "exp": rt.expires.Unix()})
			return
		}
	}
	claims, active := s.lookupAccess(token)
	if !active {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	answer := map[string]any{"active": true, "token_type": "Bearer", "client_id": claims["azp"]}
	for _, name := range []string{"scope", "sub", "aud", "iss", "exp", "iat", "jti", "org_id", "org_name", "permissions"} {
		if v, ok := claims[name]; ok {
			answer[name] = v
		}
	}
	if sub, _ := claims["sub"].(string); s.state.byID[sub] != nil {
		answer["username"] = s.state.byID[sub].Username
	}
	writeJSON(w, http.StatusOK, answer)
}

// refreshState is RefreshTokenState with s.mu held.
func (s *Server) refreshState(rt *refreshToken) RefreshState {
	switch {
	case s.state.families[rt.family]:
		return RefreshRevoked
	case !s.now().Before(rt.expires):
		return RefreshExpired
	case !rt.rotatedAt.IsZero():
		return RefreshRotated
	}
	return RefreshActive
}

// serveRevoke is RFC 7009: a refresh token revokes its whole family (and the
// opaque access tokens issued from it); an opaque access token is revoked.
// The answer is 200 for any token once the client authenticated — even one
// of another client, which is then left alone.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeGrantError(w, refuse(400, "invalid_request", "The body must be form-encoded."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.authenticateClient(r, r.PostForm)
	if err != nil {
		writeGrantError(w, err)
		return
	}
	token := r.PostForm.Get("token")
	if rt, ok := s.state.refresh[token]; ok && rt.client.ID == c.ID {
		s.state.revokeFamily(rt.family)
	}
	if o, ok := s.state.opaque[token]; ok && o.claims["azp"] == c.ID {
		o.revoked = true
	}
	w.WriteHeader(http.StatusOK)
}
