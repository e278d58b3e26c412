package grpcauth_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/grpcauth"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// The test service, defined without protoc: a unary Say and a
// bidirectional Chat over wrapperspb.StringValue, which both answer
// "<subject>: <message>" ("anonymous" when the call carries no Principal).
const (
	echoService = "/authgate.test.Echo/"
	say         = echoService + "Say"
	chat        = echoService + "Chat"
)

var echoDesc = grpc.ServiceDesc{
	ServiceName: "authgate.test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Say",
		Handler: func(srv any, ctx context.Context, dec func(any) error, intercept grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			handle := func(ctx context.Context, req any) (any, error) {
				return wrapperspb.String(whoami(ctx) + ": " + req.(*wrapperspb.StringValue).GetValue()), nil
			}
			if intercept == nil {
				return handle(ctx, in)
			}
			return intercept(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: say}, handle)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Chat",
		ServerStreams: true,
		ClientStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			for {
				in := new(wrapperspb.StringValue)
				if err := stream.RecvMsg(in); errors.Is(err, io.EOF) {
					return nil
				} else if err != nil {
					return err
				}
				if err := stream.SendMsg(wrapperspb.String(whoami(stream.Context()) + ": " + in.GetValue())); err != nil {
					return err
				}
			}
		},
	}},
}

// whoami reads the Principal as a handler would, through the HTTP
// middleware's accessor, which must work for gRPC calls too.
func whoami(ctx context.Context) string {
	if p, ok := middleware.PrincipalFrom(ctx); ok {
		return p.Subject
	}
	return "anonymous"
}

// orgOf reads the organization of a message "org/text".
func orgOf(_ context.Context, m *wrapperspb.StringValue) string {
	org, _, _ := strings.Cut(m.GetValue(), "/")
	return org
}

// env is a provider and a real Authenticator over its JWKS.
type env struct {
	t    testing.TB
	idp  *idptest.Server
	auth *authn.Authenticator
}

func newEnv(t testing.TB) *env {
	idp := idptest.Start(t, idptest.Demo())
	return &env{t: t, idp: idp, auth: newAuthenticator(t, idp)}
}

func newAuthenticator(t testing.TB, idp *idptest.Server) *authn.Authenticator {
	t.Helper()
	v, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{
		Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI},
		Mapping: claims.Mapping{FirstPartyClients: []string{"venue-app"}},
	}, tokenvalidator.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	a, err := authn.NewAuthenticator(v, authn.Config{}, authn.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The demo tenant's callers: a user through the first-party app, a partner
// app acting for a user of another organization, and a machine.
func (e *env) alice(mutate ...func(map[string]any)) string {
	return e.user(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Scopes: []string{"read:venues", "book:venues"}, Organization: "org_acme"}, mutate...)
}

func (e *env) partner() string {
	return e.user(idptest.ClaimsRequest{Username: "bob", ClientID: "partner-app", Audience: idptest.DemoAPI,
		Scopes: []string{"read:venues"}, Organization: "org_globex"})
}

func (e *env) worker() string {
	e.t.Helper()
	c, err := e.idp.MachineClaims("venue-worker", idptest.DemoAPI)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.mint(c)
}

func (e *env) user(req idptest.ClaimsRequest, mutate ...func(map[string]any)) string {
	e.t.Helper()
	c, err := e.idp.UserClaims(req)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range mutate {
		m(c)
	}
	return e.mint(c)
}

func (e *env) mint(c map[string]any) string {
	e.t.Helper()
	tok, err := e.idp.Mint(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// server serves the echo and health services on loopback behind the
// interceptors of cfg, and returns a client connection to it. Interceptors
// in outer run before grpcauth's.
func serve(t *testing.T, auth grpcauth.Authenticator, cfg grpcauth.Config, outer ...grpc.UnaryServerInterceptor) *grpc.ClientConn {
	t.Helper()
	in, err := grpcauth.New(auth, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append([]grpc.ServerOption{grpc.ChainUnaryInterceptor(outer...)}, in.ServerOptions()...)...)
	srv.RegisterService(&echoDesc, nil)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	if err := in.CheckMethods(srv); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	conn, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// withAuth returns a context whose calls send each of values as an
// authorization metadata value, and that ends with the test or after 10s.
func withAuth(t *testing.T, values ...string) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	for _, v := range values {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", v)
	}
	return ctx
}

func bearer(token string) string { return "Bearer " + token }

// reply is what a call got back.
type reply struct {
	text    string
	status  *status.Status
	trailer metadata.MD
}

func callSay(t *testing.T, conn *grpc.ClientConn, ctx context.Context, text string) reply {
	t.Helper()
	out := new(wrapperspb.StringValue)
	var trailer metadata.MD
	err := conn.Invoke(ctx, say, wrapperspb.String(text), out, grpc.Trailer(&trailer))
	return reply{out.GetValue(), status.Convert(err), trailer}
}

// errorInfo returns the ErrorInfo detail of s, if any.
func errorInfo(s *status.Status) *errdetails.ErrorInfo {
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// retryDelay returns the RetryInfo delay of s, or -1 when it has none.
func retryDelay(s *status.Status) time.Duration {
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok {
			return info.GetRetryDelay().AsDuration()
		}
	}
	return -1
}

// watch is an outer interceptor for one call: it tells when the call's
// context ends on the server, and what grpcauth's interceptor answered, as
// the server saw it (for calls whose client has gone and cannot see it).
type watch struct {
	deadline time.Time // the call's deadline on the server; read after ended
	ended    chan struct{}
	answered chan error
}

func newWatch() *watch { return &watch{ended: make(chan struct{}), answered: make(chan error, 1)} }

func (w *watch) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	w.deadline, _ = ctx.Deadline()
	context.AfterFunc(ctx, func() { close(w.ended) })
	resp, err := handler(ctx, req)
	w.answered <- err
	return resp, err
}
