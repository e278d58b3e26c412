package middleware

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/bearer"
)

// Authenticator turns a bearer token into a Principal. *authn.Authenticator
// implements it. Its errors must match claims.ErrInvalidToken for tokens
// that are not acceptable and claims.ErrUnavailable when the token could not
// be checked; anything else is answered like ErrUnavailable.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*claims.Principal, error)
}

// Config holds the middleware's settings. The zero Config reads the token
// from the Authorization header only, refuses requests without one, and
// uses the realm "api".
type Config struct {
	// Realm is sent in every WWW-Authenticate challenge. Default "api".
	Realm string
	// Optional lets requests without any token through, with no Principal in
	// their context; a token that is present must still be valid.
	Optional bool
	// AllowFormToken also accepts a token in the access_token field of a
	// form-encoded request body (RFC 6750 §2.2; not for GET). Reading it
	// consumes the body into r.PostForm.
	AllowFormToken bool
	// InsecureAllowQueryToken also accepts a token in the access_token query
	// parameter (RFC 6750 §2.3). Tokens in URLs end up in logs and browser
	// history; RFC 9700 §4.3.2 says clients must not send them.
	InsecureAllowQueryToken bool
	// MaxTokenBytes bounds the token's length; a longer token is refused
	// with 401 invalid_token before it is hashed or sent anywhere. Default
	// 16 KiB.
	MaxTokenBytes int
	// RetryAfter is sent with 503 answers whose cause names no wait of its
	// own (see claims.RetryError). Default 5s.
	RetryAfter time.Duration
}

// Option configures the middleware's collaborators.
type Option interface{ apply(*Middleware) }

type optionFunc func(*Middleware)

func (f optionFunc) apply(m *Middleware) { f(m) }

// WithErrorWriter replaces the function that writes every refusal. Default:
// [WriteError], which writes the RFC 6750 challenge and a JSON body.
func WithErrorWriter(w ErrorWriter) Option {
	return optionFunc(func(m *Middleware) { m.writeError = w })
}

// Middleware authenticates requests and authorizes them with its Require…
// helpers. It is safe for concurrent use.
type Middleware struct {
	auth       Authenticator
	cfg        Config
	writeError ErrorWriter
}

// New returns a middleware that authenticates with auth.
func New(auth Authenticator, cfg Config, opts ...Option) (*Middleware, error) {
	if auth == nil {
		return nil, errors.New("middleware: nil Authenticator")
	}
	if cfg.Realm == "" {
		cfg.Realm = "api"
	}
	if !bearer.Quotable(cfg.Realm) {
		return nil, fmt.Errorf("middleware: realm %q has characters a quoted-string cannot carry", cfg.Realm)
	}
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = 16 << 10
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.MaxTokenBytes < 0 || cfg.RetryAfter < 0 {
		return nil, errors.New("middleware: negative MaxTokenBytes or RetryAfter")
	}
	m := &Middleware{auth: auth, cfg: cfg, writeError: WriteError}
	for _, opt := range opts {
		opt.apply(m)
	}
	if m.writeError == nil {
		return nil, errors.New("middleware: nil ErrorWriter")
	}
	return m, nil
}

// PrincipalFrom returns the Principal the middleware put in ctx.
func PrincipalFrom(ctx context.Context) (*claims.Principal, bool) {
	return claims.FromContext(ctx)
}

// Handler authenticates every request before next sees it: next runs with
// the Principal in the request's context, or not at all.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := m.token(r)
		if errors.Is(err, bearer.ErrMissing) {
			if m.cfg.Optional {
				next.ServeHTTP(w, r)
				return
			}
			m.refuse(w, r, &Error{Status: http.StatusUnauthorized, Err: err})
			return
		}
		if err != nil {
			m.refuse(w, r, requestError(err))
			return
		}
		p, err := m.auth.Authenticate(r.Context(), token)
		if err != nil {
			m.refuse(w, r, authError(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), p)))
	})
}

// token finds the request's one bearer token among the enabled methods. A
// token sent by more than one method, or twice, is invalid_request (RFC
// 6750 §2). With only the header enabled this does not allocate.
func (m *Middleware) token(r *http.Request) (string, error) {
	token, err := bearer.FromHeader(r.Header, m.cfg.MaxTokenBytes)
	if (!m.cfg.AllowFormToken && !m.cfg.InsecureAllowQueryToken) || (err != nil && !errors.Is(err, bearer.ErrMissing)) {
		return token, err
	}
	sent := 0
	if err == nil {
		sent++
	}
	if m.cfg.AllowFormToken && isFormPost(r) {
		if err := r.ParseForm(); err != nil {
			return "", fmt.Errorf("middleware: reading the form body: %w", err)
		}
		if vs := r.PostForm["access_token"]; len(vs) > 0 {
			sent, token = sent+len(vs), vs[0]
		}
	}
	if m.cfg.InsecureAllowQueryToken {
		if vs := r.URL.Query()["access_token"]; len(vs) > 0 {
			sent, token = sent+len(vs), vs[0]
		}
	}
	switch sent {
	case 0:
		return "", bearer.ErrMissing
	case 1:
		return bearer.Shape(token, m.cfg.MaxTokenBytes)
	default:
		return "", bearer.ErrMultiple
	}
}

// isFormPost reports whether r may carry a form-body token: RFC 6750 §2.2
// allows it only in a single-part form-encoded body, never with GET.
func isFormPost(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// requestError answers a request that did not present one usable token. A
// token longer than MaxTokenBytes is a token the service will not accept —
// 401 invalid_token, as the validators answer one that reaches them — while
// two tokens, an empty credential or an unreadable form are malformed
// requests (400 invalid_request, RFC 6750 §3.1).
func requestError(err error) *Error {
	if errors.Is(err, bearer.ErrTooLarge) {
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: describe(claims.ReasonTooLarge), Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: err.Error(), Err: err}
}

// authError maps an Authenticator error to the answer: the one place where
// the kinds of failure become HTTP statuses.
func authError(err error) *Error {
	reason, invalid := claims.ReasonOf(err)
	switch {
	case invalid:
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: describe(reason), Err: err}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return &Error{Status: statusClientClosedRequest, Err: err}
	default:
		return unavailable("the token could not be checked; retry later", err)
	}
}

// unavailable answers a dependency that failed: 503, with the wait the
// cause asked for (a provider's Retry-After, a spent budget), or else the
// configured default.
func unavailable(description string, err error) *Error {
	after, _ := claims.RetryAfterOf(err)
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable,
		Description: description, RetryAfter: after, Err: err}
}

// statusClientClosedRequest is nginx's code for a request whose client left.
const statusClientClosedRequest = 499

// describe gives a short error_description: enough for an honest client to
// act on, nothing that helps an attacker probe the validator.
func describe(r claims.Reason) string {
	switch r {
	case claims.ReasonExpired:
		return "the access token expired"
	case claims.ReasonNotYetValid:
		return "the access token is not valid yet"
	default:
		return "the access token is invalid"
	}
}

func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	e.Realm = m.cfg.Realm
	if e.Status == http.StatusServiceUnavailable && e.RetryAfter == 0 {
		e.RetryAfter = m.cfg.RetryAfter
	}
	m.writeError(w, r, e)
}
