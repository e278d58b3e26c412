package idptest

import (
	"fmt"
	"slices"
	"time"
)

// refreshToken is a refresh token and where it stands in its family.
type refreshToken struct {
	grant               // what it refreshes, with the scopes first granted
	expires   time.Time // the family's absolute end
	rotatedAt time.Time // zero until a refresh replaced it
	jkt       string    // the DPoP key it is bound to (a public client's), or ""
}

// RefreshState says where a refresh token stands.
type RefreshState int

// The states of a refresh token, as RefreshTokenState reports them.
const (
	RefreshUnknown RefreshState = iota // never issued here
	RefreshActive                      // usable
	RefreshRotated                     // replaced by a newer one of its family (usable within the reuse interval)
	RefreshRevoked                     // its family was revoked: by reuse or at /oauth/revoke
	RefreshExpired                     // past the family's lifetime
)

// String returns the state's name, such as "revoked".
func (r RefreshState) String() string {
	switch r {
	case RefreshUnknown:
		return "unknown"
	case RefreshActive:
		return "active"
	case RefreshRotated:
		return "rotated"
	case RefreshRevoked:
		return "revoked"
	case RefreshExpired:
		return "expired"
	}
	return fmt.Sprintf("RefreshState(%d)", int(r))
}

// RefreshTokenState reports where a refresh token stands, so that a test
// can check that a family was revoked or a token rotated.
func (s *Server) RefreshTokenState(token string) RefreshState {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.st.refresh[token]
	if !ok {
		return RefreshUnknown
	}
	return s.refreshStateLocked(rt)
}

// RefreshTokens returns every refresh token issued to the user whose ID
// (sub) is userID through clientID, in no set order, so that a test can
// check what became of them with RefreshTokenState — also those a service
// keeps on its server and never shows.
func (s *Server) RefreshTokens(userID, clientID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for tok, rt := range s.st.refresh {
		if rt.user != nil && rt.user.ID == userID && rt.client.ID == clientID {
			out = append(out, tok)
		}
	}
	return out
}

// refreshStateLocked is RefreshTokenState for a known token; s.mu is held.
func (s *Server) refreshStateLocked(rt *refreshToken) RefreshState {
	switch {
	case s.st.revokedFamilies[rt.family]:
		return RefreshRevoked
	case !s.Now().Before(rt.expires):
		return RefreshExpired
	case !rt.rotatedAt.IsZero():
		return RefreshRotated
	}
	return RefreshActive
}

// newRefreshLocked issues a refresh token of g's family; s.mu is held.
func (s *Server) newRefreshLocked(g grant, expires time.Time) string {
	tok := randomID(32)
	s.st.refresh[tok] = &refreshToken{grant: g, expires: expires}
	return tok
}

// refreshGrantLocked exchanges a refresh token (Auth0's rotation rules).
// With rotation the presented token is marked rotated and a new one of the
// same family is returned; a rotated token presented again still works
// while less than RefreshReuseInterval has passed since its rotation, and
// after that is reuse, which revokes the whole family. A narrower scope
// narrows the access token only: the new refresh token keeps the scopes
// first granted (RFC 6749 §6). s.mu is held.
func (s *Server) refreshGrantLocked(c *Client, token string, scopes []string) (issuance, error) {
	if token == "" {
		return issuance{}, refuse(400, "invalid_request", "Missing required parameter: refresh_token")
	}
	invalid := refuse(400, "invalid_grant", "Unknown or invalid refresh token.")
	rt, ok := s.st.refresh[token]
	if !ok || rt.client != c {
		return issuance{}, invalid
	}
	now := s.Now()
	switch s.refreshStateLocked(rt) {
	case RefreshRevoked, RefreshExpired:
		return issuance{}, invalid
	case RefreshRotated:
		if !now.Before(rt.rotatedAt.Add(s.cfg.RefreshReuseInterval)) {
			s.st.revokeFamily(rt.family)
			return issuance{}, invalid
		}
	}
	if rt.user.removed {
		return issuance{}, refuse(403, "invalid_grant", "The user was deleted.")
	}
	g := rt.grant
	if len(scopes) > 0 {
		g.scopes = nil
		for _, sc := range scopes {
			if !slices.Contains(rt.scopes, sc) {
				return issuance{}, refuse(400, "invalid_scope", "Scope '"+sc+"' was not granted to the refresh token; the scope parameter may only narrow it.")
			}
			if !slices.Contains(g.scopes, sc) {
				g.scopes = append(g.scopes, sc)
			}
		}
	}
	is := s.issueLocked(g, false)
	if !c.DisableRotation {
		if rt.rotatedAt.IsZero() {
			rt.rotatedAt = now
		}
		is.resp.RefreshToken = s.newRefreshLocked(rt.grant, rt.expires)
	}
	return is, nil
}
