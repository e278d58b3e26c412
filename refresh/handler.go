package refresh

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"

	"github.com/authgate/authgate/internal/bearer"
)

// maxLoginBody bounds a login request's body.
const maxLoginBody = 64 << 10

// LoginHandler serves a first-party app's login: POST with username,
// password and optionally organization, form-encoded or as a JSON object. It answers 200 with
// {access_token, token_type, expires_in} — never the refresh token, which
// stays on the server — or 400 invalid_grant for wrong credentials, 400
// invalid_request for a malformed request, 503 when the provider is down.
func (s *Service) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowPost(w, r) {
			return
		}
		c, err := readCredentials(w, r)
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		t, err := s.Login(r.Context(), c)
		s.answer(w, t, err)
	})
}

// RefreshHandler serves POST with Authorization: Bearer <access token>,
// possibly expired, and answers like LoginHandler with a new access token;
// 401 invalid_token when the client must log in again.
func (s *Service) RefreshHandler() http.Handler {
	return s.bearerHandler(func(w http.ResponseWriter, r *http.Request, token string) {
		t, err := s.Refresh(r.Context(), token)
		s.answer(w, t, err)
	})
}

// LogoutHandler serves POST with Authorization: Bearer <access token> and
// answers 204 once the login is ended.
func (s *Service) LogoutHandler() http.Handler {
	return s.bearerHandler(func(w http.ResponseWriter, r *http.Request, token string) {
		if err := s.Logout(r.Context(), token); err != nil {
			s.answer(w, nil, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Service) bearerHandler(serve func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowPost(w, r) {
			return
		}
		token, err := bearer.FromHeader(r.Header, maxTokenBytes)
		switch {
		case errors.Is(err, bearer.ErrMissing):
			w.Header().Set("WWW-Authenticate", bearer.Challenge(s.cfg.Realm, "", "", ""))
			s.writeError(w, http.StatusUnauthorized, "", "a bearer token is required")
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", bearer.Challenge(s.cfg.Realm, "invalid_request", err.Error(), ""))
			s.writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		serve(w, r, token)
	})
}

// maxTokenBytes bounds an access token presented to refresh or logout.
const maxTokenBytes = 16 << 10

// answer writes tokens, or the refusal err calls for.
func (s *Service) answer(w http.ResponseWriter, t *Tokens, err error) {
	switch {
	case err == nil:
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(t)
	case errors.Is(err, ErrBadCredentials):
		s.writeError(w, http.StatusBadRequest, "invalid_grant", "wrong username or password")
	case errors.Is(err, ErrLoginRequired):
		w.Header().Set("WWW-Authenticate", bearer.Challenge(s.cfg.Realm, "invalid_token", "log in again", ""))
		s.writeError(w, http.StatusUnauthorized, "invalid_token", "log in again")
	default:
		s.o.logger.Debug("refresh: answered 503")
		w.Header().Set("Retry-After", "5")
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
