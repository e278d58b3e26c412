package idptest

import "net/http"

// introspectedClaims are the claims an active token's introspection
// answer repeats (RFC 7662 §2.2, and Auth0's own claims).
var introspectedClaims = []string{"scope", "sub", "aud", "iss", "exp", "iat", "nbf", "jti", "gty", "org_id", "org_name", "permissions", "cnf"}

// serveIntrospect is RFC 7662 token introspection, which Auth0 does not
// have. The caller authenticates as a confidential client. An active
// access token — opaque or JWT, issued here, unexpired, unrevoked — is
// answered with its claims; anything else, refresh tokens included, with
// {"active":false}.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, refuse(400, "invalid_request", "The body must be application/x-www-form-urlencoded."))
		return
	}
	s.mu.Lock()
	_, authenticated, err := s.identifyClientLocked(r, r.PostForm)
	s.mu.Unlock()
	if err == nil && !authenticated {
		err = refuse(401, "invalid_client", "Client authentication is required.")
	}
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	c, active := s.lookupAccess(r.PostForm.Get("token"))
	if !active {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	answer := s.introspectionClaims(c)
	answer["active"], answer["token_type"], answer["client_id"] = true, "Bearer", clientOf(c)
	if _, bound := c["cnf"]; bound {
		answer["token_type"] = "DPoP" // RFC 9449 §6.2
	}
	s.mu.Lock()
	if u := s.st.byID[s.userIDOf(c)]; u != nil {
		answer["username"] = u.Username
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, answer)
}

// clientOf returns the client an access token was issued to: its
// client_id claim (RFC 9068), else its azp (Auth0, Keycloak, Entra v2, Dex
// with several audiences), cid (Okta) or appid (Entra v1), else a Dex
// token's single aud.
func clientOf(c map[string]any) string {
	for _, name := range []string{"client_id", "azp", "cid", "appid"} {
		if id, ok := c[name].(string); ok {
			return id
		}
	}
	if sub, ok := c["sub"].(string); ok {
		if _, _, dex := parseDexSubject(sub); dex {
			id, _ := c["aud"].(string)
			return id
		}
	}
	return ""
}
