package idptest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// The Management API scopes Client.ManagementScopes may list: the subset of
// Auth0's that idptest serves.
var managementScopes = []string{"read:users", "update:users", "update:users_app_metadata", "read:grants", "delete:grants"}

// ManagementAudience returns the Management API's audience, Issuer() +
// "api/v2/", which a client with ManagementScopes asks for with the
// client_credentials grant.
func (s *Server) ManagementAudience() string { return s.Issuer() + "api/v2/" }

// ManagementURL returns the Management API's base URL, URL() + "/api/v2".
func (s *Server) ManagementURL() string { return s.url + "/api/v2" }

// userGrant is a user's recorded consent for a client (Auth0's "grant"):
// made by every authorization code, ended by DELETE /api/v2/grants/{id}.
type userGrant struct {
	id       string
	user     *user
	client   *Client
	audience string
	scopes   []string
}

// recordGrantLocked records that u consented to c for audience with
// scopes, widening the grant already recorded for them. s.mu is held.
func (s *Server) recordGrantLocked(u *user, c *Client, audience string, scopes []string) {
	for _, g := range s.st.grants {
		if g.user == u && g.client == c && g.audience == audience {
			for _, sc := range scopes {
				if !slices.Contains(g.scopes, sc) {
					g.scopes = append(g.scopes, sc)
				}
			}
			return
		}
	}
	id := "cgr_" + randomID(12)
	s.st.grants[id] = &userGrant{id: id, user: u, client: c, audience: audience, scopes: slices.Clone(scopes)}
}

// managementLocked registers the Management API and the clients' grants on
// it, once the server's URL is known. s.mu is held (or the server is not
// serving yet).
func (s *Server) managementLocked() {
	aud := s.ManagementAudience()
	s.st.apis[aud] = &API{Identifier: aud, Scopes: managementScopes}
	for _, c := range s.st.clients {
		if len(c.ManagementScopes) > 0 {
			c.Scopes[aud] = c.ManagementScopes
		}
	}
}

// writeManagementError answers as the Management API does:
// {statusCode, error, message, errorCode}.
func writeManagementError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{
		"statusCode": status, "error": http.StatusText(status), "message": message, "errorCode": code,
	})
}

// managementCaller checks the request's bearer token: an active access
// token issued here for the Management API with one of scopes. It answers
// 401 or 403 itself and reports false when the caller may not go on.
func (s *Server) managementCaller(w http.ResponseWriter, r *http.Request, scopes ...string) bool {
	token, ok := bearer(r)
	if !ok {
		writeManagementError(w, http.StatusUnauthorized, "", "Missing authentication")
		return false
	}
	c, active := s.lookupAccess(token)
	if !active || !audienceHas(c["aud"], s.ManagementAudience()) {
		writeManagementError(w, http.StatusUnauthorized, "", "Invalid token")
		return false
	}
	for _, sc := range scopes {
		if hasScope(c, sc) {
			return true
		}
	}
	writeManagementError(w, http.StatusForbidden, "insufficient_scope", "Insufficient scope, expected any of: "+strings.Join(scopes, ","))
	return false
}

func audienceHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	}
	return false
}

// userJSONLocked is a user as GET /api/v2/users/{id} answers it. s.mu is
// held.
func userJSONLocked(u *user) map[string]any {
	meta := u.appMetadata
	if meta == nil {
		meta = map[string]any{}
	}
	return map[string]any{
		"user_id": u.ID, "username": u.Username, "email": u.Email, "name": u.Name,
		"app_metadata": meta, "user_metadata": map[string]any{},
	}
}

// serveUser is GET /api/v2/users/{id} (scope read:users).
func (s *Server) serveUser(w http.ResponseWriter, r *http.Request) {
	if !s.managementCaller(w, r, "read:users") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.byID[r.PathValue("id")]
	if u == nil || u.removed {
		writeManagementError(w, http.StatusNotFound, "inexistent_user", "The user does not exist.")
		return
	}
	writeJSON(w, http.StatusOK, userJSONLocked(u))
}

// maxPatchBody bounds a PATCH /api/v2/users/{id} body.
const maxPatchBody = 1 << 20

// servePatchUser is PATCH /api/v2/users/{id} (scope update:users or
// update:users_app_metadata) with a JSON body {"app_metadata": {…}}, merged
// as Auth0 merges it: each top-level key replaces the stored one (objects
// are not merged deeper), and a null value deletes the key. Other fields
// are refused: idptest keeps only app_metadata.
func (s *Server) servePatchUser(w http.ResponseWriter, r *http.Request) {
	if !s.managementCaller(w, r, "update:users", "update:users_app_metadata") {
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, maxPatchBody)).Decode(&body); err != nil {
		writeManagementError(w, http.StatusBadRequest, "invalid_body", "Payload validation error: the body is not a JSON object.")
		return
	}
	var patch map[string]any
	for k, v := range body {
		if k != "app_metadata" {
			writeManagementError(w, http.StatusBadRequest, "invalid_body", "idptest updates only app_metadata, not "+k+".")
			return
		}
		if err := json.Unmarshal(v, &patch); err != nil {
			writeManagementError(w, http.StatusBadRequest, "invalid_body", "Payload validation error: app_metadata must be an object.")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.byID[r.PathValue("id")]
	if u == nil || u.removed {
		writeManagementError(w, http.StatusNotFound, "inexistent_user", "The user does not exist.")
		return
	}
	if u.appMetadata == nil {
		u.appMetadata = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(u.appMetadata, k)
		} else {
			u.appMetadata[k] = v
		}
	}
	writeJSON(w, http.StatusOK, userJSONLocked(u))
}

// AppMetadata returns the app_metadata of the user whose ID (sub) is
// userID as JSON, so that a test can look at what a service stored there;
// nil for an unknown user.
func (s *Server) AppMetadata(userID string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.byID[userID]
	if u == nil {
		return nil
	}
	b, _ := json.Marshal(userJSONLocked(u)["app_metadata"])
	return b
}

// serveGrants is GET /api/v2/grants (scope read:grants), filtered by the
// user_id, client_id and audience query parameters.
func (s *Server) serveGrants(w http.ResponseWriter, r *http.Request) {
	if !s.managementCaller(w, r, "read:grants") {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, g := range s.st.grants {
		if (q.Has("user_id") && g.user.ID != q.Get("user_id")) ||
			(q.Has("client_id") && g.client.ID != q.Get("client_id")) ||
			(q.Has("audience") && g.audience != q.Get("audience")) {
			continue
		}
		out = append(out, map[string]any{
			"id": g.id, "clientID": g.client.ID, "user_id": g.user.ID, "audience": g.audience, "scope": g.scopes,
		})
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	writeJSON(w, http.StatusOK, out)
}

// serveDeleteGrant is DELETE /api/v2/grants/{id} (scope delete:grants): the
// consent is forgotten and every refresh token the user holds through that
// client is revoked, with the opaque access tokens issued with them. It
// answers 204, also for an unknown id, as Auth0 does.
func (s *Server) serveDeleteGrant(w http.ResponseWriter, r *http.Request) {
	if !s.managementCaller(w, r, "delete:grants") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.st.grants[r.PathValue("id")]; ok {
		delete(s.st.grants, g.id)
		for _, rt := range s.st.refresh {
			if rt.user == g.user && rt.client == g.client {
				s.st.revokeFamily(rt.family)
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
