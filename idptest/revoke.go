package idptest

import "net/http"

// serveRevoke is RFC 7009 token revocation. The client authenticates (a
// public client names itself with client_id). A refresh token revokes its
// whole family and the opaque access tokens issued with it; an opaque
// access token is revoked. A JWT, an unknown token or another client's
// token changes nothing. The answer is 200 with an empty body in every
// one of these cases.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, refuse(400, "invalid_request", "The body must be application/x-www-form-urlencoded."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, authenticated, err := s.identifyClientLocked(r, r.PostForm)
	if err == nil && c.Secret != "" && !authenticated {
		err = refuse(401, "invalid_client", "Client authentication is required.")
	}
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeOAuthError(w, refuse(400, "invalid_request", "Missing required parameter: token"))
		return
	}
	if rt, ok := s.st.refresh[token]; ok && rt.client == c {
		s.st.revokeFamily(rt.family)
	}
	if o, ok := s.st.opaque[token]; ok && clientOf(o.claims) == c.ID {
		o.revoked = true
	}
	w.WriteHeader(http.StatusOK)
}
