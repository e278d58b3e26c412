package grpcauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

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

// Config holds the interceptors' settings. The zero Config authenticates
// every method and refuses calls without a token.
type Config struct {
	// Public lists the methods served without authentication: full method
	// names ("/grpc.health.v1.Health/Check"), or a service name with a
	// trailing slash ("/grpc.health.v1.Health/") for all of its methods. Their
	// token, if any, is not read, so a provider outage cannot fail them.
	Public []string
	// Methods attaches authorization rules to methods, keyed like Public. A
	// call must pass every rule of its service's entry and of its method's
	// entry; methods without an entry need only a valid token.
	Methods map[string][]Rule
	// Optional lets calls without any token through, with no Principal in
	// their context; a token that is present must still be valid, and a
	// method with rules still refuses a call without one.
	Optional bool
	// MaxTokenBytes bounds the token's length; longer is InvalidArgument.
	// Default 16 KiB.
	MaxTokenBytes int
	// RetryAfter is the retry hint sent with Unavailable answers whose cause
	// names no wait of its own (see claims.RetryError). Default 5s.
	RetryAfter time.Duration
}

// Interceptor authenticates gRPC calls and authorizes them with the rules
// of Config.Methods. It is safe for concurrent use.
type Interceptor struct {
	auth     Authenticator
	cfg      Config
	policies map[string]*policy // by full method name or "/service/"
}

// policy is what a method asks of its callers.
type policy struct {
	public bool
	call   []Rule // checked once, before the handler runs
	msg    []Rule // checked on each request message
}

// New returns the interceptors that authenticate with auth. It refuses a
// method name that is not of the form "/service/method" or "/service/", and
// a method that is both public and has rules.
func New(auth Authenticator, cfg Config) (*Interceptor, error) {
	if auth == nil {
		return nil, errors.New("grpcauth: nil Authenticator")
	}
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = 16 << 10
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.MaxTokenBytes < 0 || cfg.RetryAfter < 0 {
		return nil, errors.New("grpcauth: negative MaxTokenBytes or RetryAfter")
	}
	i := &Interceptor{auth: auth, cfg: cfg, policies: make(map[string]*policy)}
	at := func(name string) (*policy, error) {
		if !validName(name) {
			return nil, fmt.Errorf(`grpcauth: %q is not a method name ("/package.Service/Method") or a service ("/package.Service/")`, name)
		}
		p := i.policies[name]
		if p == nil {
			p = new(policy)
			i.policies[name] = p
		}
		return p, nil
	}
	for _, name := range cfg.Public {
		p, err := at(name)
		if err != nil {
			return nil, err
		}
		p.public = true
	}
	for name, rules := range cfg.Methods {
		p, err := at(name)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			switch {
			case r.check == nil:
				return nil, fmt.Errorf("grpcauth: %s: a zero Rule (use the Require… constructors)", name)
			case r.perMessage:
				p.msg = append(p.msg, r)
			default:
				p.call = append(p.call, r)
			}
		}
	}
	// A method's entry also carries its service's rules, so that a call
	// looks up one policy.
	for name, p := range i.policies {
		svc := serviceOf(name)
		if svc == name {
			continue
		}
		if sp := i.policies[svc]; sp != nil {
			p.public = p.public || sp.public
			p.call = append(slices.Clip(sp.call), p.call...)
			p.msg = append(slices.Clip(sp.msg), p.msg...)
		}
	}
	for name, p := range i.policies {
		if p.public && len(p.call)+len(p.msg) > 0 {
			return nil, fmt.Errorf("grpcauth: %s is public and has rules; it cannot be both", name)
		}
	}
	return i, nil
}

// validName reports whether name is "/service/method" or "/service/".
func validName(name string) bool {
	svc, method, ok := strings.Cut(strings.TrimPrefix(name, "/"), "/")
	return strings.HasPrefix(name, "/") && ok && svc != "" && !strings.Contains(method, "/")
}

// serviceOf returns "/service/" for "/service/method".
func serviceOf(fullMethod string) string {
	return fullMethod[:strings.LastIndexByte(fullMethod, '/')+1]
}

func (i *Interceptor) policy(fullMethod string) *policy {
	if p := i.policies[fullMethod]; p != nil {
		return p
	}
	if p := i.policies[serviceOf(fullMethod)]; p != nil {
		return p
	}
	return &noPolicy
}

var noPolicy policy

// ServerOptions returns the unary and the stream interceptor as server
// options, to be passed to grpc.NewServer together so that no kind of call
// goes unauthenticated. They chain after interceptors given before them.
func (i *Interceptor) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(i.Unary()), grpc.ChainStreamInterceptor(i.Stream())}
}

// Unary returns the interceptor for unary calls: the handler runs with the
// Principal in its context (claims.FromContext), or not at all.
func (i *Interceptor) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		pol := i.policy(info.FullMethod)
		if pol.public {
			return handler(ctx, req)
		}
		ctx, p, err := i.authenticate(ctx, pol)
		if err == nil {
			err = check(ctx, p, req, pol.msg)
		}
		if err != nil {
			if err.Code == codes.Unavailable {
				_ = grpc.SetTrailer(ctx, pushback(err.RetryAfter))
			}
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream returns the interceptor for streaming calls: the handler's stream
// carries the Principal in its Context, and each request message it
// receives is checked against the method's per-message rules (such as
// RequireOrganization); RecvMsg fails with PermissionDenied for one that is
// refused, and for every message after it.
func (i *Interceptor) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		pol := i.policy(info.FullMethod)
		if pol.public {
			return handler(srv, ss)
		}
		ctx, p, err := i.authenticate(ss.Context(), pol)
		if err != nil {
			if err.Code == codes.Unavailable {
				ss.SetTrailer(pushback(err.RetryAfter))
			}
			return err
		}
		return handler(srv, &serverStream{ServerStream: ss, ctx: ctx, p: p, rules: pol.msg})
	}
}

// authenticate reads the call's token, authenticates it and checks the
// policy's call rules. It returns ctx with the Principal in it; with no
// Principal when the call is let through by Config.Optional.
func (i *Interceptor) authenticate(ctx context.Context, pol *policy) (context.Context, *claims.Principal, *Error) {
	token, err := i.token(ctx)
	var p *claims.Principal
	switch {
	case errors.Is(err, bearer.ErrMissing):
		if !i.cfg.Optional {
			return ctx, nil, &Error{Code: codes.Unauthenticated, Description: "a bearer token is required", Err: err}
		}
	case errors.Is(err, bearer.ErrTooLarge):
		// A token the service will not accept, as the HTTP middleware and
		// the validators answer it.
		return ctx, nil, &Error{Code: codes.Unauthenticated, Reason: ReasonInvalidToken, Description: bearer.Describe(claims.ReasonTooLarge), Err: err}
	case err != nil:
		return ctx, nil, &Error{Code: codes.InvalidArgument, Reason: ReasonInvalidRequest, Description: err.Error(), Err: err}
	default:
		if p, err = i.auth.Authenticate(ctx, token); err != nil {
			return ctx, nil, i.authError(ctx, err)
		}
		if p.Confirmation.Bound() {
			// A DPoP-bound token (RFC 9449) is good only with a proof of
			// its key, which gRPC metadata does not carry here: as a bearer
			// token it is refused, as the HTTP middleware refuses it.
			return ctx, nil, &Error{Code: codes.Unauthenticated, Reason: ReasonInvalidToken,
				Description: "a DPoP-bound token cannot be used as a bearer token", Err: errBoundAsBearer}
		}
		ctx = claims.NewContext(ctx, p)
	}
	if p == nil && len(pol.msg) > 0 {
		return ctx, nil, noPrincipal()
	}
	if e := check(ctx, p, nil, pol.call); e != nil {
		return ctx, nil, e
	}
	return ctx, p, nil
}

// token returns the call's one bearer token from its authorization
// metadata, under the rules of the HTTP middleware: scheme
// case-insensitive, another scheme counts as none, and two values or two
// tokens in one value are InvalidArgument.
func (i *Interceptor) token(ctx context.Context) (string, error) {
	values := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(values) == 0 {
		return "", bearer.ErrMissing
	}
	return bearer.FromHeader(http.Header{"Authorization": values}, i.cfg.MaxTokenBytes)
}

// errBoundAsBearer is the cause of refusing a DPoP-bound token.
var errBoundAsBearer = errors.New("grpcauth: a DPoP-bound token presented as a bearer token")

// authError maps an Authenticator error to the answer: the one place where
// the kinds of failure become gRPC codes.
func (i *Interceptor) authError(ctx context.Context, err error) *Error {
	reason, invalid := claims.ReasonOf(err)
	switch {
	case invalid:
		return &Error{Code: codes.Unauthenticated, Reason: ReasonInvalidToken, Description: bearer.Describe(reason), Err: err}
	case ctx.Err() != nil:
		// The client went away, or its deadline passed; nobody reads this
		// answer, but the code says why the call ended.
		// A client cancels its call when its deadline passes, and that may
		// reach the server before the server's own timer fires.
		code := codes.Canceled
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			code = codes.DeadlineExceeded
		}
		return &Error{Code: code, Description: "the call ended before its token was checked", Err: err}
	default:
		// A wait the cause asked for (a provider's Retry-After, a spent
		// budget) beats the configured default.
		after, ok := claims.RetryAfterOf(err)
		if !ok {
			after = i.cfg.RetryAfter
		}
		return &Error{Code: codes.Unavailable, Reason: ReasonTemporarilyUnavailable,
			Description: "the token could not be checked; retry later", RetryAfter: after, Err: err}
	}
}

// pushback is the trailer that tells a gRPC client with a retry policy how
// long to wait before it retries (gRFC A6: grpc-retry-pushback-ms).
func pushback(after time.Duration) metadata.MD {
	return metadata.Pairs("grpc-retry-pushback-ms", strconv.FormatInt(after.Milliseconds(), 10))
}

// serverStream is a handler's view of an authenticated stream.
type serverStream struct {
	grpc.ServerStream
	ctx   context.Context
	p     *claims.Principal
	rules []Rule // per-message
	// refused is the refusal of an earlier message; like RecvMsg itself,
	// it is used by one goroutine at a time.
	refused *Error
}

// Context returns the stream's context with the Principal in it.
func (s *serverStream) Context() context.Context { return s.ctx }

// RecvMsg receives a message and checks it against the per-message rules.
func (s *serverStream) RecvMsg(m any) error {
	if s.refused != nil {
		return s.refused
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if e := check(s.ctx, s.p, m, s.rules); e != nil {
		s.refused = e
		return e
	}
	return nil
}

// ServiceInfoProvider lists a server's services; *grpc.Server implements it.
type ServiceInfoProvider interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}

// CheckMethods returns an error naming every entry of Config.Public and
// Config.Methods that matches no service or method registered on s: a typo
// there would leave a method with authentication only, or refuse a public
// one. Call it once the services are registered.
func (i *Interceptor) CheckMethods(s ServiceInfoProvider) error {
	known := make(map[string]bool)
	for svc, info := range s.GetServiceInfo() {
		known["/"+svc+"/"] = true
		for _, m := range info.Methods {
			known["/"+svc+"/"+m.Name] = true
		}
	}
	var unknown []string
	for name := range i.policies {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("grpcauth: no such service or method on the server: %s", strings.Join(unknown, ", "))
}
