package idptest

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// grantPasswordRealm is Auth0's password grant with a realm (connection),
// served here as the plain password grant.
const grantPasswordRealm = "http://auth0.com/oauth/grant-type/password-realm"

// oauthError is an OAuth 2.0 error answer (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) Error() string { return "idptest: " + e.code + ": " + e.description }

func refuse(status int, code, description string) *oauthError {
	return &oauthError{status: status, code: code, description: description}
}

// writeOAuthError answers err as {error, error_description}.
func writeOAuthError(w http.ResponseWriter, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		oe = refuse(http.StatusInternalServerError, "server_error", err.Error())
	}
	if oe.code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="idptest"`)
	}
	writeJSON(w, oe.status, map[string]string{"error": oe.code, "error_description": oe.description})
}

// serveToken is /oauth/token: the password, client_credentials,
// authorization_code and refresh_token grants, answered as Auth0 does.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if te := s.tokenErr.Load(); te != nil {
		te.write(w)
		return
	}
	resp, err := s.token(r)
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) token(r *http.Request) (tokenResponse, error) {
	if err := r.ParseForm(); err != nil {
		return tokenResponse{}, refuse(400, "invalid_request", "The body must be application/x-www-form-urlencoded.")
	}
	f := r.PostForm
	gt := f.Get("grant_type")
	switch {
	case gt == "":
		return tokenResponse{}, refuse(400, "invalid_request", "Missing required parameter: grant_type")
	case gt == grantPasswordRealm:
		gt = grantPassword
	case !slices.Contains(knownGrants, gt):
		return tokenResponse{}, refuse(400, "unsupported_grant_type", "Unsupported grant type: "+gt)
	}
	jkt, err := s.dpopProof(r)
	if err != nil {
		return tokenResponse{}, err
	}
	s.mu.Lock()
	is, err := s.boundGrantLocked(r, gt, f, jkt)
	s.mu.Unlock()
	if err != nil {
		return tokenResponse{}, err
	}
	return s.signIssuance(is)
}

// grantLocked authenticates the client and runs grant type gt; s.mu is
// held.
func (s *Server) grantLocked(r *http.Request, gt string, f url.Values) (issuance, error) {
	c, authenticated, err := s.identifyClientLocked(r, f)
	if err != nil {
		return issuance{}, err
	}
	// A confidential client authenticates, except that PKCE may stand in
	// for its secret when it exchanges an authorization code.
	if c.Secret != "" && !authenticated && gt != grantAuthorizationCode {
		return issuance{}, refuse(401, "invalid_client", "Client authentication is required.")
	}
	if !slices.Contains(c.Grants, gt) {
		return issuance{}, refuse(403, "unauthorized_client", "Grant type '"+gt+"' not allowed for the client.")
	}
	scopes := strings.Fields(f.Get("scope"))
	switch gt {
	case grantPassword:
		return s.passwordGrantLocked(c, f, scopes)
	case grantClientCredentials:
		g, err := s.machineGrantLocked(c, f.Get("audience"), scopes)
		if err != nil {
			return issuance{}, err
		}
		return s.issueLocked(g, false), nil
	case grantAuthorizationCode:
		return s.codeGrantLocked(c, authenticated, f)
	default:
		return s.refreshGrantLocked(c, f.Get("refresh_token"), scopes)
	}
}

// identifyClientLocked finds the calling client by HTTP Basic
// (client_secret_basic, RFC 6749 §2.3.1) or by the form's client_id and
// client_secret (client_secret_post). authenticated is false when no
// secret was given, as a public client calls; a wrong secret is an error.
// s.mu is held.
func (s *Server) identifyClientLocked(r *http.Request, f url.Values) (c *Client, authenticated bool, err error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// Both are form-encoded before Basic encoding (RFC 6749 §2.3.1).
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		switch {
		case err1 != nil || err2 != nil:
			return nil, false, refuse(401, "invalid_client", "Malformed client credentials.")
		case f.Has("client_secret"):
			return nil, false, refuse(400, "invalid_request", "Use only one client authentication method.")
		case f.Get("client_id") != "" && f.Get("client_id") != id:
			return nil, false, refuse(400, "invalid_request", "client_id does not match the Authorization header.")
		}
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	c = s.st.clients[id]
	switch {
	case c == nil:
		return nil, false, refuse(401, "invalid_client", "Unknown client.")
	case secret == "" && !basic:
		return c, false, nil
	case c.Secret == "" || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1:
		return nil, false, refuse(401, "invalid_client", "Unauthorized.")
	}
	return c, true, nil
}

// passwordGrantLocked is the resource-owner password grant; s.mu is held.
func (s *Server) passwordGrantLocked(c *Client, f url.Values, scopes []string) (issuance, error) {
	u := s.st.users[f.Get("username")]
	var want []byte
	if u != nil && !u.removed {
		want = []byte(u.Password)
	}
	// Compared even for an unknown user, and an empty password never
	// matches.
	if subtle.ConstantTimeCompare(want, []byte(f.Get("password"))) != 1 || len(want) == 0 {
		return issuance{}, refuse(403, "invalid_grant", "Wrong email or password.")
	}
	g, err := s.userGrantLocked(u, c, f.Get("audience"), scopes, f.Get("organization"), grantPassword)
	if err != nil {
		return issuance{}, err
	}
	return s.issueLocked(g, mayRefresh(g)), nil
}
