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
	// DPoP selects the schemes accepted: DPoPOff (the default) Bearer
	// only; DPoPAllowed Bearer and DPoP (RFC 9449); DPoPRequired DPoP
	// only. Anything but DPoPOff needs WithProofVerifier. In every mode a
	// DPoP-bound token sent as Bearer is refused.
	DPoP DPoPMode
	// PublicURL is the base URL clients address the service by, which a
	// DPoP proof's htu must name followed by the request's path:
	// "https://api.example.com", or "https://example.com/venue-api" behind
	// a gateway that strips /venue-api. Default: the scheme (https when
	// the request came over TLS) and Host of each request, which is right
	// only when clients connect to this server directly; X-Forwarded-*
	// headers are never trusted.
	PublicURL string
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

	proofs     ProofVerifier // nil when DPoP is off
	challenges []string      // the schemes WWW-Authenticate names, in order
	algs       []string      // the DPoP challenge's algs
	publicBase string        // PublicURL normalized, without a trailing slash; "" for the request's own
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
	if err := m.setUpDPoP(); err != nil {
		return nil, err
	}
	return m, nil
}

// PrincipalFrom returns the Principal the middleware put in ctx.
func PrincipalFrom(ctx context.Context) (*claims.Principal, bool) {
	return claims.FromContext(ctx)
}

// Handler authenticates every request before next sees it: next runs with
// the Principal in the request's context, or not at all. With DPoP on, a
// request with a DPoP-bound token must also carry a proof that passes the
// ProofVerifier, checked after the token (whose validation is cached) on
// every request.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, scheme, err := m.token(r)
		if errors.Is(err, bearer.ErrMissing) {
			if m.cfg.Optional {
				next.ServeHTTP(w, r)
				return
			}
			m.Refuse(w, r, &Error{Status: http.StatusUnauthorized, Err: err})
			return
		}
		if err != nil {
			e := requestError(err)
			e.Scheme = scheme
			m.Refuse(w, r, e)
			return
		}
		p, err := m.auth.Authenticate(r.Context(), token)
		if err != nil {
			e := ErrorFor(err)
			e.Scheme = scheme
			m.Refuse(w, r, e)
			return
		}
		if e := m.confirm(w, r, token, scheme, p); e != nil {
			m.Refuse(w, r, e)
			return
		}
		next.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), p)))
	})
}

// token finds the request's one token among the enabled methods, and the
// scheme it came with: bearer.SchemeDPoP for "Authorization: DPoP" (when
// DPoP is on), bearer.SchemeBearer otherwise. A token sent by more than
// one method, or twice, is invalid_request (RFC 6750 §2) with no scheme:
// which one was meant cannot be told. With only the header enabled this
// does not allocate.
func (m *Middleware) token(r *http.Request) (token, scheme string, err error) {
	switch m.cfg.DPoP {
	case DPoPOff:
		scheme = bearer.SchemeBearer
		token, err = bearer.FromHeader(r.Header, m.cfg.MaxTokenBytes)
	default:
		scheme, token, err = bearer.Credentials(r.Header, m.cfg.MaxTokenBytes)
		if m.cfg.DPoP == DPoPRequired && scheme == bearer.SchemeBearer {
			return "", "", bearer.ErrMissing // not a scheme this service takes
		}
	}
	if (!m.cfg.AllowFormToken && !m.cfg.InsecureAllowQueryToken) || (err != nil && !errors.Is(err, bearer.ErrMissing)) {
		return token, scheme, err
	}
	other, n, ferr := m.bodyOrQueryToken(r)
	switch {
	case ferr != nil:
		return "", "", ferr
	case n == 0:
		return token, scheme, err
	case n > 1 || err == nil:
		return "", "", bearer.ErrMultiple
	}
	token, err = bearer.Shape(other, m.cfg.MaxTokenBytes)
	return token, bearer.SchemeBearer, err
}

// bodyOrQueryToken counts the tokens in the form body and the query, where
// they are enabled, and returns one of them.
func (m *Middleware) bodyOrQueryToken(r *http.Request) (token string, n int, err error) {
	if m.cfg.AllowFormToken && isFormPost(r) {
		if err := r.ParseForm(); err != nil {
			return "", 0, fmt.Errorf("middleware: reading the form body: %w", err)
		}
		if vs := r.PostForm["access_token"]; len(vs) > 0 {
			n, token = n+len(vs), vs[0]
		}
	}
	if m.cfg.InsecureAllowQueryToken {
		if vs := r.URL.Query()["access_token"]; len(vs) > 0 {
			n, token = n+len(vs), vs[0]
		}
	}
	return token, n, nil
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
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: bearer.Describe(claims.ReasonTooLarge), Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: err.Error(), Err: err}
}

// ErrorFor returns the refusal an Authenticator error calls for: 401
// invalid_token for a token that is not acceptable, 503
// temporarily_unavailable when it could not be checked (with the cause's
// own wait, see claims.RetryError), 499 when the client went away. It is the
// one place where the kinds of failure become HTTP statuses; a handler that
// authenticates by itself (an introspection endpoint, say) answers with it
// and [Middleware.Refuse].
func ErrorFor(err error) *Error {
	reason, invalid := claims.ReasonOf(err)
	switch {
	case invalid:
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: bearer.Describe(reason), Err: err}
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

// Refuse writes e as the middleware writes its own refusals: in its realm,
// with its challenges (Bearer, DPoP or both, as configured), with its
// Config.RetryAfter when a 503 names no wait, through its ErrorWriter.
func (m *Middleware) Refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	e.Realm, e.Challenges, e.Algs = m.cfg.Realm, m.challenges, m.algs
	if e.Status == http.StatusServiceUnavailable && e.RetryAfter == 0 {
		e.RetryAfter = m.cfg.RetryAfter
	}
	m.writeError(w, r, e)
}
