package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/bearer"
)

// maxLoginBody bounds a login request's body.
const maxLoginBody = 64 << 10

// LoginHandler serves a first-party app's login: POST with username,
// password and optionally organization, form-encoded or as a JSON object.
// It answers 200 with {access_token, token_type, expires_in} — never the
// refresh token, which stays on the server — 400 invalid_request for a
// malformed request, and otherwise as [Service.WriteError] says: 401
// invalid_grant for wrong credentials, 403 with the provider's code
// (access_denied, mfa_required, …), 429 or 503 with Retry-After.
func (s *Service) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowPost(w, r) {
			return
		}
		c, err := readCredentials(w, r)
		if err != nil {
			s.m.requests[opLogin][outcomeInvalidRequest].Inc()
			s.writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		t, err := s.Login(r.Context(), c)
		s.answer(w, t, err, false)
	})
}

// RefreshHandler serves POST with Authorization: Bearer <access token>,
// possibly expired, and answers like LoginHandler with a new access token,
// or 401 invalid_token (with a Bearer challenge) when the client must log
// in again.
func (s *Service) RefreshHandler() http.Handler {
	return s.bearerHandler(opRefresh, func(w http.ResponseWriter, r *http.Request, token string) {
		t, err := s.Refresh(r.Context(), token)
		s.answer(w, t, err, true)
	})
}

// LogoutHandler serves POST with Authorization: Bearer <access token> and
// answers 204 once the login is ended, 401 for a token that does not
// verify, 503 when the session store (or the provider's keys) cannot be
// reached.
func (s *Service) LogoutHandler() http.Handler {
	return s.bearerHandler(opLogout, func(w http.ResponseWriter, r *http.Request, token string) {
		if err := s.Logout(r.Context(), token); err != nil {
			s.answer(w, nil, err, true)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// bearerHandler serves op with the request's bearer token; a request
// without one, or with a malformed one, is answered (and counted) here.
func (s *Service) bearerHandler(o op, serve func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowPost(w, r) {
			return
		}
		token, err := bearer.FromHeader(r.Header, maxTokenBytes)
		switch {
		case errors.Is(err, bearer.ErrMissing):
			s.m.requests[o][outcomeLoginRequired].Inc()
			w.Header().Set("WWW-Authenticate", bearer.Challenge(s.cfg.Realm, "", "", ""))
			s.writeError(w, http.StatusUnauthorized, "", "a bearer token is required")
			return
		case err != nil:
			s.m.requests[o][outcomeInvalidRequest].Inc()
			w.Header().Set("WWW-Authenticate", bearer.Challenge(s.cfg.Realm, "invalid_request", err.Error(), ""))
			s.writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		serve(w, r, token)
	})
}

// maxTokenBytes bounds an access token presented to refresh or logout.
const maxTokenBytes = 16 << 10

// answer writes tokens, or the refusal err calls for; bearerEndpoint says whether
// the client presented an access token (refresh, logout), whose 401 is RFC
// 6750's invalid_token.
func (s *Service) answer(w http.ResponseWriter, t *Tokens, err error, bearerEndpoint bool) {
	if err != nil {
		s.writeFailure(w, err, bearerEndpoint)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(t)
}

// defaultRetryAfter is the Retry-After of a 503 or 429 when the provider
// gave none.
const defaultRetryAfter = 5 * time.Second

// WriteError writes the answer the handlers give for err, an error of
// Login, ExchangeCode, Refresh or Logout, so that a web app's callback
// handler answers ExchangeCode's errors as they do:
//
//	ErrBadCredentials         401 invalid_grant
//	ErrLoginRequired          401 invalid_token at the bearer endpoints, else invalid_grant
//	ErrDenied                 403 with the provider's code (access_denied, mfa_required, consent_required, …)
//	ErrInvalidRequest         400 with the provider's code, or invalid_request
//	ErrMisconfigured          502 with the provider's code, or server_error
//	ErrRateLimited            429 too_many_requests, Retry-After
//	ErrStoreUnavailable       503 temporarily_unavailable naming the session store, Retry-After
//	anything else             503 temporarily_unavailable naming the identity provider, Retry-After
//
// Retry-After is the provider's when it gave one (a *claims.RetryError in
// err), else 5 seconds. Every 401 carries a Bearer challenge. Only the
// provider's error code reaches the client, never its description, and
// nothing from a token.
func (s *Service) WriteError(w http.ResponseWriter, err error) { s.writeFailure(w, err, false) }

func (s *Service) writeFailure(w http.ResponseWriter, err error, bearerEndpoint bool) {
	code := func(fallback string) string {
		var pe *ProviderError
		if errors.As(err, &pe) && pe.Code != "" {
			return pe.Code
		}
		return fallback
	}
	retry := func() {
		after, ok := claims.RetryAfterOf(err)
		if !ok {
			after = defaultRetryAfter
		}
		w.Header().Set("Retry-After", strconv.FormatInt(int64((after+time.Second-1)/time.Second), 10))
	}
	switch outcomeOf(context.Background(), err) {
	case outcomeLoginRequired, outcomeReuse:
		switch {
		case errors.Is(err, ErrBadCredentials):
			w.Header().Set("WWW-Authenticate", bearer.Challenge(s.cfg.Realm, "", "", ""))
			s.writeError(w, http.StatusUnauthorized, "invalid_grant", "wrong username or password")
		case bearerEndpoint:
			w.Header().Set("WWW-Authenticate", bearer.Challenge(s.cfg.Realm, "invalid_token", "log in again", ""))
			s.writeError(w, http.StatusUnauthorized, "invalid_token", "log in again")
		default:
			w.Header().Set("WWW-Authenticate", bearer.Challenge(s.cfg.Realm, "", "", ""))
			s.writeError(w, http.StatusUnauthorized, "invalid_grant", "log in again")
		}
	case outcomeDenied:
		s.writeError(w, http.StatusForbidden, code("access_denied"), "the identity provider denied the request")
	case outcomeInvalidRequest:
		s.writeError(w, http.StatusBadRequest, code("invalid_request"), "the request is malformed")
	case outcomeMisconfigured:
		s.writeError(w, http.StatusBadGateway, code("server_error"), "the identity provider refused the service's request; the service's configuration is at fault")
	case outcomeRateLimited:
		retry()
		s.writeError(w, http.StatusTooManyRequests, "too_many_requests", "the identity provider is limiting requests; retry later")
	case outcomeStoreUnavailable:
		retry()
		s.writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the session store could not be reached; retry later")
	default:
		retry()
		s.writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the identity provider could not be reached; retry later")
	}
}

func (s *Service) writeError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error,omitempty"`
		Description string `json:"error_description,omitempty"`
	}{code, description})
}

func allowPost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

var errCredentials = errors.New("username and password are required, as a form or a JSON object")

// readCredentials reads username, password and organization from a
// form-encoded or JSON body of at most maxLoginBody bytes.
func readCredentials(w http.ResponseWriter, r *http.Request) (Credentials, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	var c Credentials
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var body struct {
			Username     string `json:"username"`
			Password     string `json:"password"`
			Organization string `json:"organization"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return c, errCredentials
		}
		c = Credentials{body.Username, body.Password, body.Organization}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return c, errCredentials
		}
		c = Credentials{r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("organization")}
	default:
		return c, errCredentials
	}
	if c.Username == "" || c.Password == "" {
		return Credentials{}, errCredentials
	}
	return c, nil
}
