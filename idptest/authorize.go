package idptest

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// authorizeSettings are the test's answers for /authorize, which has no
// login page: who logs in when the request names nobody, and whether the
// user refuses consent. Server.mu guards them.
type authorizeSettings struct {
	defaultUser string
	deny        bool
}

// AuthorizeURL returns the URL of the authorization endpoint.
func (s *Server) AuthorizeURL() string { return s.url + "/authorize" }

// SetDefaultUser names the user /authorize logs in when the request has no
// login_hint; "" (the default) makes such a request answer
// error=login_required.
func (s *Server) SetDefaultUser(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.authorize.defaultUser = username
}

// DenyConsent makes /authorize answer error=access_denied, as when the
// user clicks "Decline" on the consent screen, until called with false.
func (s *Server) DenyConsent(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.authorize.deny = deny
}

// serveAuthorize is GET /authorize without a page: it logs in the user
// named by login_hint (a username or email) or the default user, and
// redirects to redirect_uri with a code and the state, as the browser flow
// would after a login and a consent. It takes Auth0's parameters:
// response_type=code, client_id, redirect_uri, scope, state, audience,
// organization (ID or name), nonce, and PKCE's code_challenge with
// code_challenge_method=S256. An unknown client or an unusable redirect_uri
// is answered 400 with no redirect (where it would go cannot be trusted);
// every other failure is a redirect with error, error_description and
// state (RFC 6749 §4.1.2.1). With Config.IssuerInAuthorizationResponse
// every redirect also carries iss (RFC 9207).
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || redirect.Host == "" || redirect.Fragment != "" ||
		(redirect.Scheme != "http" && redirect.Scheme != "https") {
		writeOAuthError(w, refuse(400, "invalid_request", "redirect_uri must be an absolute http(s) URL without a fragment."))
		return
	}
	s.mu.Lock()
	c, known := s.st.clients[q.Get("client_id")]
	settings := s.st.authorize
	username := s.loginHintLocked(q.Get("login_hint"))
	s.mu.Unlock()
	if !known {
		writeOAuthError(w, refuse(400, "invalid_request", "Unknown client."))
		return
	}
	back := func(params url.Values) {
		if st := q.Get("state"); st != "" {
			params.Set("state", st)
		}
		if s.cfg.IssuerInAuthorizationResponse {
			params.Set("iss", s.Issuer())
		}
		u := *redirect
		query := u.Query()
		for k, v := range params {
			query[k] = v
		}
		u.RawQuery = query.Encode()
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, description string) {
		back(url.Values{"error": {code}, "error_description": {description}})
	}
	method := q.Get("code_challenge_method")
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "Only response_type=code is supported.")
	case q.Get("code_challenge") != "" && method != "S256", q.Get("code_challenge") == "" && method != "":
		fail("invalid_request", "PKCE needs a code_challenge with code_challenge_method=S256.")
	case settings.deny:
		fail("access_denied", "The user declined the consent.")
	case username == "":
		fail("login_required", "No login_hint names a user, and no default user is set.")
	default:
		code, err := s.AuthorizationCode(AuthorizeRequest{
			ClientID: c.ID, Username: username, RedirectURI: redirect.String(),
			Audience: q.Get("audience"), Scopes: strings.Fields(q.Get("scope")),
			Organization: q.Get("organization"), Nonce: q.Get("nonce"),
			CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: method,
		})
		var oe *oauthError
		switch {
		case errors.As(err, &oe):
			fail(oe.code, oe.description)
		case err != nil:
			// An unknown or removed user, a client without the grant.
			fail("access_denied", strings.TrimPrefix(err.Error(), "idptest: "))
		default:
			back(url.Values{"code": {code}})
		}
	}
}

// loginHintLocked returns the username hint names (a username or an
// email), the default user when hint is empty, or "" for nobody. s.mu is
// held.
func (s *Server) loginHintLocked(hint string) string {
	if hint == "" {
		return s.st.authorize.defaultUser
	}
	if _, ok := s.st.users[hint]; ok {
		return hint
	}
	for name, u := range s.st.users {
		if u.Email != "" && strings.EqualFold(u.Email, hint) {
			return name
		}
	}
	return hint // unknown: AuthorizationCode refuses it
}
