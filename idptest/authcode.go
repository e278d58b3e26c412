package idptest

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// AuthorizeRequest stands in for a user's login in the browser (the
// /authorize redirect and the login page): AuthorizationCode turns it into
// a code for the token endpoint's authorization_code grant.
type AuthorizeRequest struct {
	ClientID     string
	Username     string
	RedirectURI  string   // if set, the code exchange must present the same redirect_uri
	Audience     string   // "" = no API: the access token is good only at /userinfo
	Scopes       []string // e.g. openid offline_access read:venues
	Organization string   // ID or name; "" = none
	Nonce        string   // copied into the ID token
	// CodeChallenge and CodeChallengeMethod ("S256", the only one
	// supported) set up PKCE (RFC 7636); see S256Challenge.
	CodeChallenge       string
	CodeChallengeMethod string
}

// authCode is an authorization code not yet exchanged.
type authCode struct {
	grant
	redirectURI string
	challenge   string // PKCE S256 code challenge; "" without PKCE
	expires     time.Time
}

// codeTTL is how long an authorization code can be exchanged.
const codeTTL = 5 * time.Minute

// AuthorizationCode logs req.Username in through req.ClientID, as the
// browser flow would, and returns an authorization code: single-use, valid
// for five minutes of the server's clock. A partner client's code gives
// tokens whose azp is the partner's client ID.
func (s *Server) AuthorizationCode(req AuthorizeRequest) (string, error) {
	if req.CodeChallenge != "" || req.CodeChallengeMethod != "" {
		if req.CodeChallengeMethod != "S256" || req.CodeChallenge == "" {
			return "", fmt.Errorf("idptest: PKCE needs a CodeChallenge with CodeChallengeMethod S256, not %q", req.CodeChallengeMethod)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.clients[req.ClientID]
	if !ok {
		return "", fmt.Errorf("idptest: unknown client %q", req.ClientID)
	}
	if !slices.Contains(c.Grants, grantAuthorizationCode) {
		return "", fmt.Errorf("idptest: client %q may not use the authorization_code grant", req.ClientID)
	}
	u, ok := s.st.users[req.Username]
	if !ok || u.removed {
		return "", fmt.Errorf("idptest: unknown user %q", req.Username)
	}
	g, err := s.userGrantLocked(u, c, req.Audience, req.Scopes, req.Organization, "")
	if err != nil {
		return "", err
	}
	g.nonce = req.Nonce
	s.recordGrantLocked(u, c, req.Audience, g.scopes)
	code := randomID(32)
	s.st.codes[code] = &authCode{grant: g, redirectURI: req.RedirectURI, challenge: req.CodeChallenge, expires: s.Now().Add(codeTTL)}
	return code, nil
}

// S256Challenge returns the PKCE S256 code challenge of verifier
// (RFC 7636 §4.2): base64url(SHA-256(verifier)), for
// AuthorizeRequest.CodeChallenge.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64.EncodeToString(sum[:])
}

// codeGrantLocked exchanges an authorization code. The code is used up
// whatever the outcome. The client must have authenticated unless the
// code was made with PKCE, whose verifier is then required. s.mu is held.
func (s *Server) codeGrantLocked(c *Client, authenticated bool, f url.Values) (issuance, error) {
	ac, ok := s.st.codes[f.Get("code")]
	delete(s.st.codes, f.Get("code"))
	switch {
	case !ok || !s.Now().Before(ac.expires):
		return issuance{}, refuse(403, "invalid_grant", "Invalid authorization code")
	case ac.client != c:
		return issuance{}, refuse(403, "invalid_grant", "The authorization code was issued to another client.")
	case ac.redirectURI != "" && f.Get("redirect_uri") != ac.redirectURI:
		return issuance{}, refuse(403, "invalid_grant", "redirect_uri does not match the one of the authorization request.")
	case ac.challenge != "" && subtle.ConstantTimeCompare([]byte(S256Challenge(f.Get("code_verifier"))), []byte(ac.challenge)) != 1:
		return issuance{}, refuse(403, "invalid_grant", "Failed to verify code verifier")
	case ac.challenge == "" && !authenticated:
		return issuance{}, refuse(401, "invalid_client", "Client authentication or PKCE is required.")
	case ac.user.removed:
		return issuance{}, refuse(403, "invalid_grant", "The user was deleted.")
	}
	return s.issueLocked(ac.grant, mayRefresh(ac.grant)), nil
}
