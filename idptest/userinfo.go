package idptest

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
)

// serveUserinfo is /userinfo (GET or POST, the access token in an
// "Authorization: Bearer" header): the user's {sub, name, email, org_id}
// for an active access token of a user that carries the openid scope, or
// that was issued without an audience (such opaque tokens exist for
// /userinfo alone). Anything else is 401 invalid_token.
func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="idptest"`) // RFC 6750 §3.1: no error code
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "No bearer token."})
		return
	}
	c, ok := s.lookupAccess(token)
	ok = ok && s.userinfoAccepts(c)
	var info map[string]any
	if ok {
		s.mu.Lock()
		if u := s.st.byID[s.userIDOf(c)]; u != nil && !u.removed {
			info = map[string]any{"sub": u.ID, "name": u.Name, "email": u.Email}
		}
		s.mu.Unlock()
	}
	if info == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is not valid here."})
		return
	}
	if org, ok := c["org_id"]; ok {
		info["org_id"] = org
	}
	writeJSON(w, http.StatusOK, info)
}

// bearer returns the token of an "Authorization: Bearer …" header; the
// scheme is case-insensitive.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// lookupAccess returns the claims of an access token this provider issued
// — an opaque one it remembers, or a JWT signed by one of its published
// keys with its issuer and not addressed to a client, as ID tokens are
// (except at Dex, whose access tokens are addressed to the client) —
// and whether it is active: not expired (exp, and nbf when present) and not
// revoked.
func (s *Server) lookupAccess(token string) (map[string]any, bool) {
	now := s.Now()
	s.mu.Lock()
	o, opaque := s.st.opaque[token]
	active := opaque && !o.revoked && now.Before(o.expires)
	s.mu.Unlock()
	if opaque {
		return o.claims, active
	}
	c, ok := s.parseOwn(token)
	if !ok || c["iss"] != s.Issuer() {
		return nil, false
	}
	if aud, ok := c["aud"].(string); ok && s.cfg.Dialect != DialectDex {
		s.mu.Lock()
		_, idToken := s.st.clients[aud] // an ID token is for a client, not an API
		s.mu.Unlock()
		if idToken {
			return c, false
		}
	}
	if exp, ok := numericDate(c["exp"]); !ok || !now.Before(exp) {
		return c, false
	}
	if v, ok := c["nbf"]; ok {
		if nbf, ok := numericDate(v); !ok || now.Before(nbf) {
			return c, false
		}
	}
	return c, true
}

// numericDate reads a JWT NumericDate (seconds since the epoch) as it may
// appear in a claims map: decoded as json.Number, or as a Go number.
func numericDate(v any) (time.Time, bool) {
	var secs float64
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return time.Time{}, false
		}
		secs = f
	case int:
		secs = float64(n)
	case int64:
		secs = float64(n)
	case float64:
		secs = n
	default:
		return time.Time{}, false
	}
	// Within year 0 to 9999 (which also rules out NaN and infinities).
	if !(secs >= -62135596800 && secs <= 253402300799) {
		return time.Time{}, false
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)), true
}

// hasScope reports whether the scope claim of c, or its scp claim (Okta's
// array, Entra's string), holds scope.
func hasScope(c map[string]any, scope string) bool {
	for _, name := range []string{"scope", "scp"} {
		switch v := c[name].(type) {
		case string:
			if slices.Contains(strings.Fields(v), scope) {
				return true
			}
		case []string: // an opaque token's claims, as issued
			if slices.Contains(v, scope) {
				return true
			}
		case []any: // a JWT's claims, as parsed
			if slices.Contains(v, any(scope)) {
				return true
			}
		}
	}
	return false
}
