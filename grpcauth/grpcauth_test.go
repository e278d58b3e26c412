package grpcauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/grpcauth"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

// TestUnary covers every answer to a unary call that the token alone
// decides, against a real provider and Authenticator.
func TestUnary(t *testing.T) {
	e := newEnv(t)
	conn := serve(t, e.auth, grpcauth.Config{})
	alice := e.alice()
	expired := e.alice(func(c map[string]any) {
		c["iat"] = e.idp.Now().Add(-2 * time.Hour).Unix()
		c["exp"] = e.idp.Now().Add(-time.Hour).Unix()
	})
	bound := e.alice(func(c map[string]any) {
		c["cnf"] = map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
	})
	forged, err := e.idp.Mint(map[string]any{"iss": e.idp.Issuer(), "sub": "auth0|alice", "aud": idptest.DemoAPI,
		"exp": e.idp.Now().Add(time.Hour).Unix()}, idptest.WithUnpublishedKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		values  []string // authorization metadata
		code    codes.Code
		reason  string // ErrorInfo reason; "" = no ErrorInfo
		message string // status message, or the reply on OK
	}{
		{"valid", []string{bearer(alice)}, codes.OK, "", "auth0|alice: hi"},
		{"scheme in any case", []string{"bEARER " + alice}, codes.OK, "", "auth0|alice: hi"},
		{"spaces before the token", []string{"Bearer   " + alice}, codes.OK, "", "auth0|alice: hi"},
		{"no token", nil, codes.Unauthenticated, "", "a bearer token is required"},
		{"another scheme", []string{"Basic YWxpY2U6cGFzc3dvcmQ="}, codes.Unauthenticated, "", "a bearer token is required"},
		{"two values", []string{bearer(alice), bearer(alice)}, codes.InvalidArgument, "INVALID_REQUEST", "more than one bearer token"},
		{"two tokens in one value", []string{bearer(alice + " " + alice)}, codes.InvalidArgument, "INVALID_REQUEST", "bearer credential must be one token"},
		{"empty credential", []string{"Bearer "}, codes.InvalidArgument, "INVALID_REQUEST", "bearer credential must be one token"},
		{"too large", []string{bearer(strings.Repeat("a", 16<<10+1))}, codes.Unauthenticated, "INVALID_TOKEN", "the access token is invalid"},
		{"DPoP-bound, as a bearer token", []string{bearer(bound)}, codes.Unauthenticated, "INVALID_TOKEN", "a DPoP-bound token cannot be used as a bearer token"},
		{"expired", []string{bearer(expired)}, codes.Unauthenticated, "INVALID_TOKEN", "the access token expired"},
		{"unknown key", []string{bearer(forged)}, codes.Unauthenticated, "INVALID_TOKEN", "the access token is invalid"},
		{"not a JWT", []string{bearer("not-a-jwt")}, codes.Unauthenticated, "INVALID_TOKEN", "the access token is invalid"},
		{"bad characters", []string{bearer("a\"b")}, codes.Unauthenticated, "INVALID_TOKEN", "the access token is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := callSay(t, conn, withAuth(t, tc.values...), "hi")
			if got.status.Code() != tc.code {
				t.Fatalf("code = %v (%q), want %v", got.status.Code(), got.status.Message(), tc.code)
			}
			if tc.code == codes.OK {
				if got.text != tc.message {
					t.Errorf("reply = %q, want %q", got.text, tc.message)
				}
				return
			}
			if got.status.Message() != tc.message {
				t.Errorf("message = %q, want %q", got.status.Message(), tc.message)
			}
			info := errorInfo(got.status)
			switch {
			case tc.reason == "" && info != nil:
				t.Errorf("ErrorInfo %v, want none", info)
			case tc.reason != "" && (info == nil || info.GetReason() != tc.reason || info.GetDomain() != grpcauth.ErrorDomain):
				t.Errorf("ErrorInfo %v, want reason %s in domain %s", info, tc.reason, grpcauth.ErrorDomain)
			}
			if d := retryDelay(got.status); d >= 0 {
				t.Errorf("RetryInfo %v on a %v", d, tc.code)
			}
		})
	}
}

// TestUnavailable: a provider that cannot be reached is Unavailable, never
// Unauthenticated, with a retry hint in the details and in the trailer a
// gRPC client's retry policy reads; public methods still answer.
func TestUnavailable(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	idp.SetFault(idptest.EndpointDiscovery, idptest.FaultUnavailable)
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultUnavailable)
	e := &env{t: t, idp: idp, auth: newAuthenticator(t, idp)}
	conn := serve(t, e.auth, grpcauth.Config{Public: []string{"/grpc.health.v1.Health/"}})

	got := callSay(t, conn, withAuth(t, bearer(e.alice())), "hi")
	if got.status.Code() != codes.Unavailable {
		t.Fatalf("code = %v (%q), want Unavailable", got.status.Code(), got.status.Message())
	}
	if info := errorInfo(got.status); info.GetReason() != "TEMPORARILY_UNAVAILABLE" {
		t.Errorf("ErrorInfo = %v", info)
	}
	delay := retryDelay(got.status)
	if delay <= 0 {
		t.Fatalf("RetryInfo delay = %v, want > 0", delay)
	}
	if pb := got.trailer.Get("grpc-retry-pushback-ms"); len(pb) != 1 || pb[0] != strconv.FormatInt(delay.Milliseconds(), 10) {
		t.Errorf("grpc-retry-pushback-ms = %q, want the RetryInfo delay %v", pb, delay)
	}

	health, err := healthpb.NewHealthClient(conn).Check(withAuth(t), &healthpb.HealthCheckRequest{})
	if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("public health check while the provider is down: %v, %v", health, err)
	}
}

// fixed answers every token with err: the retry hint's source is the
// error's, so the error is set by hand here.
type fixed struct{ err error }

func (f fixed) Authenticate(context.Context, string) (*claims.Principal, error) { return nil, f.err }

func TestRetryHint(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want time.Duration
	}{
		{"the configured wait", fmt.Errorf("tokenvalidator: %w: dial tcp: refused", claims.ErrUnavailable), 7 * time.Second},
		{"the cause's wait", fmt.Errorf("tokenvalidator: %w", &claims.RetryError{After: 42 * time.Second}), 42 * time.Second},
		{"an error of no known kind", errors.New("enricher exploded"), 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := serve(t, fixed{tc.err}, grpcauth.Config{RetryAfter: 7 * time.Second})
			got := callSay(t, conn, withAuth(t, bearer("tok")), "hi")
			if got.status.Code() != codes.Unavailable || got.status.Message() != "the token could not be checked; retry later" {
				t.Fatalf("status = %v", got.status)
			}
			if d := retryDelay(got.status); d != tc.want {
				t.Errorf("RetryInfo delay = %v, want %v", d, tc.want)
			}
			if pb := got.trailer.Get("grpc-retry-pushback-ms"); len(pb) != 1 || pb[0] != strconv.FormatInt(tc.want.Milliseconds(), 10) {
				t.Errorf("grpc-retry-pushback-ms = %q", pb)
			}
			if strings.Contains(got.status.Message(), "refused") || strings.Contains(got.status.Message(), "exploded") {
				t.Errorf("the cause reached the client: %q", got.status.Message())
			}
		})
	}
}

// TestClientGone: a client that cancels, or whose deadline passes, while its
// token is being checked is answered Canceled or DeadlineExceeded (read on
// the server, as the client has gone), not Unavailable, whatever the check
// ends with.
func TestClientGone(t *testing.T) {
	e := newEnv(t)
	defer e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultNone)
	for _, tc := range []struct {
		name   string
		cancel bool // cancel the call, or let its deadline pass
		want   codes.Code
	}{
		{"canceled", true, codes.Canceled},
		{"deadline", false, codes.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI})
			if err != nil {
				t.Fatal(err)
			}
			parent := withAuth(t, bearer(e.idp.OpaqueToken(c)))
			var ctx context.Context
			var cancel context.CancelFunc
			if tc.cancel {
				ctx, cancel = context.WithCancel(parent)
			} else {
				ctx, cancel = context.WithTimeout(parent, time.Second)
			}
			defer cancel()
			// Opaque tokens, so that the check waits on the provider.
			v, err := tokenvalidator.NewIntrospection(tokenvalidator.IntrospectionConfig{
				URL: e.idp.IntrospectionURL(), ClientID: "venue-app", ClientSecret: "venue-app-secret", Timeout: time.Minute,
			}, tokenvalidator.WithClock(e.idp.Now))
			if err != nil {
				t.Fatal(err)
			}
			a, err := authn.NewAuthenticator(v, authn.Config{}, authn.WithClock(e.idp.Now))
			if err != nil {
				t.Fatal(err)
			}
			w := newWatch()
			conn := serve(t, a, grpcauth.Config{}, w.intercept)
			e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultHang)
			calls := e.idp.Calls(idptest.EndpointIntrospect)
			done := make(chan codes.Code, 1)
			go func() { done <- callSay(t, conn, ctx, "hi").status.Code() }()
			for i := 0; e.idp.Calls(idptest.EndpointIntrospect) == calls; i++ {
				if i == 1000 {
					t.Fatal("the call never reached the provider")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tc.cancel {
				cancel()
			}
			if got := <-done; got != tc.want {
				t.Errorf("client saw %v", got)
			}
			// Whatever the check ends with, the call had ended first. The
			// client's cancel on its deadline may reach the server before
			// the server's deadline passes: wait for both.
			<-w.ended
			if !tc.cancel {
				time.Sleep(time.Until(w.deadline))
			}
			e.idp.SetFault(idptest.EndpointIntrospect, idptest.FaultError)
			if err := <-w.answered; status.Code(err) != tc.want {
				t.Fatalf("server answered %v, want %v", err, tc.want)
			}
		})
	}
}

// TestRules covers each Require… rule, allowing and refusing, on a unary
// method.
func TestRules(t *testing.T) {
	e := newEnv(t)
	alice, partner, worker := e.alice(), e.partner(), e.worker()
	for _, tc := range []struct {
		name  string
		rule  grpcauth.Rule
		token string
		text  string // the request: "org/text" for RequireOrganization
		want  codes.Code
		desc  string // the status message of a refusal
		scope string // the ErrorInfo's scope of a refusal
	}{
		{"scopes allow", grpcauth.RequireScopes("read:venues", "book:venues"), alice, "", codes.OK, "", ""},
		{"scopes deny", grpcauth.RequireScopes("read:venues", "book:venues"), partner, "", codes.PermissionDenied,
			"the access token lacks a required scope", "read:venues book:venues"},
		{"any scope allow", grpcauth.RequireAnyScope("book:venues", "read:venues"), worker, "", codes.OK, "", ""},
		{"any scope deny", grpcauth.RequireAnyScope("book:venues", "manage:venues"), worker, "", codes.PermissionDenied,
			"the access token has none of the accepted scopes", "book:venues manage:venues"},
		{"permissions allow", grpcauth.RequirePermissions("book:venues"), alice, "", codes.OK, "", ""},
		{"permissions deny", grpcauth.RequirePermissions("book:venues"), partner, "", codes.PermissionDenied,
			"the access token lacks a required permission", ""},
		{"org allow", grpcauth.RequireOrganization(orgOf), alice, "org_acme/hi", codes.OK, "", ""},
		{"org deny: another tenant", grpcauth.RequireOrganization(orgOf), partner, "org_acme/hi", codes.PermissionDenied,
			"the access token is not for this organization", ""},
		{"org deny: token without org", grpcauth.RequireOrganization(orgOf), worker, "org_acme/hi", codes.PermissionDenied, "", ""},
		{"org deny: no org in the request", grpcauth.RequireOrganization(orgOf), alice, "/hi", codes.PermissionDenied, "", ""},
		{"org deny: a request of another type", grpcauth.RequireOrganization(func(context.Context, *healthpb.HealthCheckRequest) string { return "org_acme" }),
			alice, "org_acme/hi", codes.PermissionDenied, "", ""},
		{"kind allow user", grpcauth.RequireKind(claims.KindUser, claims.KindDelegated), alice, "", codes.OK, "", ""},
		{"kind allow delegated", grpcauth.RequireKind(claims.KindUser, claims.KindDelegated), partner, "", codes.OK, "", ""},
		{"kind deny machine", grpcauth.RequireKind(claims.KindUser, claims.KindDelegated), worker, "", codes.PermissionDenied,
			"this kind of caller may not make this request", ""},
		{"partners allow listed", grpcauth.RequirePartners("partner-app"), partner, "", codes.OK, "", ""},
		{"partners deny unlisted", grpcauth.RequirePartners("other-partner"), partner, "", codes.PermissionDenied,
			"this partner app may not make this request", ""},
		{"partners ignore users", grpcauth.RequirePartners(), alice, "", codes.OK, "", ""},
		{"audience allow", grpcauth.RequireAudience("https://other.example", idptest.DemoAPI), alice, "", codes.OK, "", ""},
		{"audience deny", grpcauth.RequireAudience("https://other.example"), alice, "", codes.PermissionDenied,
			"the access token is not for this API", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := serve(t, e.auth, grpcauth.Config{Methods: map[string][]grpcauth.Rule{say: {tc.rule}}})
			got := callSay(t, conn, withAuth(t, bearer(tc.token)), tc.text)
			if got.status.Code() != tc.want {
				t.Fatalf("code = %v (%q), want %v", got.status.Code(), got.status.Message(), tc.want)
			}
			if tc.want == codes.OK {
				return
			}
			info := errorInfo(got.status)
			if info.GetReason() != "INSUFFICIENT_SCOPE" || info.GetMetadata()["scope"] != tc.scope {
				t.Errorf("ErrorInfo = %v, want INSUFFICIENT_SCOPE with scope %q", info, tc.scope)
			}
			if tc.desc != "" && got.status.Message() != tc.desc {
				t.Errorf("message = %q, want %q", got.status.Message(), tc.desc)
			}
		})
	}
}

// TestServiceAndMethodRules: a method's call must pass its service's rules
// and its own.
func TestServiceAndMethodRules(t *testing.T) {
	e := newEnv(t)
	conn := serve(t, e.auth, grpcauth.Config{Methods: map[string][]grpcauth.Rule{
		echoService: {grpcauth.RequireScopes("read:venues")},
		say:         {grpcauth.RequireKind(claims.KindUser)},
	}})
	for _, tc := range []struct {
		name  string
		token string
		want  codes.Code
	}{
		{"both pass", e.alice(), codes.OK},
		{"the method's refuses", e.partner(), codes.PermissionDenied},
		{"the service's refuses", e.alice(func(c map[string]any) { c["scope"] = "book:venues" }), codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := callSay(t, conn, withAuth(t, bearer(tc.token)), "hi").status.Code(); got != tc.want {
				t.Errorf("code = %v, want %v", got, tc.want)
			}
		})
	}
}

// chatWith opens a Chat stream and sends each of msgs, reading the reply to
// each; it returns the replies and the status the stream ended with.
func chatWith(t *testing.T, conn *grpc.ClientConn, ctx context.Context, msgs ...string) ([]string, *status.Status, metadata.MD) {
	t.Helper()
	stream, err := conn.NewStream(ctx, &echoDesc.Streams[0], chat)
	if err != nil {
		t.Fatal(err)
	}
	var replies []string
	for _, m := range msgs {
		if err := stream.SendMsg(wrapperspb.String(m)); err != nil {
			break // the server ended the stream; RecvMsg says how
		}
		out := new(wrapperspb.StringValue)
		if err := stream.RecvMsg(out); err != nil {
			return replies, status.Convert(err), stream.Trailer()
		}
		replies = append(replies, out.GetValue())
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	err = stream.RecvMsg(new(wrapperspb.StringValue))
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return replies, status.Convert(err), stream.Trailer()
}

func TestStreams(t *testing.T) {
	e := newEnv(t)
	alice, partner := e.alice(), e.partner()
	rules := map[string][]grpcauth.Rule{chat: {grpcauth.RequireScopes("read:venues"), grpcauth.RequireOrganization(orgOf)}}
	for _, tc := range []struct {
		name    string
		cfg     grpcauth.Config
		values  []string
		msgs    []string
		replies []string
		code    codes.Code
	}{
		{"the Principal reaches the handler", grpcauth.Config{}, []string{bearer(alice)}, []string{"a", "b"},
			[]string{"auth0|alice: a", "auth0|alice: b"}, codes.OK},
		{"no token", grpcauth.Config{}, nil, []string{"a"}, nil, codes.Unauthenticated},
		{"two values", grpcauth.Config{}, []string{bearer(alice), bearer(alice)}, []string{"a"}, nil, codes.InvalidArgument},
		{"invalid token", grpcauth.Config{}, []string{bearer("not-a-jwt")}, []string{"a"}, nil, codes.Unauthenticated},
		{"a call rule refuses at the start", grpcauth.Config{Methods: map[string][]grpcauth.Rule{chat: {grpcauth.RequireScopes("manage:venues")}}},
			[]string{bearer(alice)}, []string{"a"}, nil, codes.PermissionDenied},
		{"every message is checked", grpcauth.Config{Methods: rules}, []string{bearer(alice)},
			[]string{"org_acme/1", "org_acme/2", "org_globex/3", "org_acme/4"},
			[]string{"auth0|alice: org_acme/1", "auth0|alice: org_acme/2"}, codes.PermissionDenied},
		{"another tenant's first message", grpcauth.Config{Methods: rules}, []string{bearer(partner)}, []string{"org_acme/1"},
			nil, codes.PermissionDenied},
		{"optional, no token", grpcauth.Config{Optional: true}, nil, []string{"a"}, []string{"anonymous: a"}, codes.OK},
		{"optional, no token, rules", grpcauth.Config{Optional: true, Methods: rules}, nil, []string{"org_acme/1"}, nil, codes.Unauthenticated},
		{"public", grpcauth.Config{Public: []string{chat}}, []string{bearer("not-a-jwt")}, []string{"a"}, []string{"anonymous: a"}, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := serve(t, e.auth, tc.cfg)
			replies, st, _ := chatWith(t, conn, withAuth(t, tc.values...), tc.msgs...)
			if st.Code() != tc.code {
				t.Fatalf("stream ended with %v (%q), want %v", st.Code(), st.Message(), tc.code)
			}
			if strings.Join(replies, "|") != strings.Join(tc.replies, "|") {
				t.Errorf("replies = %q, want %q", replies, tc.replies)
			}
		})
	}
}

func TestStreamUnavailable(t *testing.T) {
	conn := serve(t, fixed{&claims.RetryError{After: 3 * time.Second}}, grpcauth.Config{})
	_, st, trailer := chatWith(t, conn, withAuth(t, bearer("tok")), "a")
	if st.Code() != codes.Unavailable || retryDelay(st) != 3*time.Second {
		t.Fatalf("status = %v, RetryInfo %v", st, retryDelay(st))
	}
	if pb := trailer.Get("grpc-retry-pushback-ms"); len(pb) != 1 || pb[0] != "3000" {
		t.Errorf("grpc-retry-pushback-ms = %q", pb)
	}
}

// TestPublic: a public method is served without reading the token, whole
// services by their prefix; other methods are still guarded.
func TestPublic(t *testing.T) {
	e := newEnv(t)
	conn := serve(t, fixed{errors.New("must not be called")}, grpcauth.Config{Public: []string{"/grpc.health.v1.Health/", say}})
	health := healthpb.NewHealthClient(conn)
	if r, err := health.Check(withAuth(t), &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v, %v", r, err)
	}
	watch, err := health.Watch(withAuth(t, "Bearer a b"), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v, %v", r, err)
	}
	if got := callSay(t, conn, withAuth(t, bearer(e.alice())), "hi"); got.status.Code() != codes.OK || got.text != "anonymous: hi" {
		t.Errorf("public Say: %v %q", got.status, got.text)
	}
	if _, st, _ := chatWith(t, conn, withAuth(t, bearer(e.alice())), "a"); st.Code() != codes.Unavailable {
		t.Errorf("Chat, not public: %v", st)
	}
}

func TestOptional(t *testing.T) {
	e := newEnv(t)
	conn := serve(t, e.auth, grpcauth.Config{Optional: true})
	for _, tc := range []struct {
		name   string
		values []string
		code   codes.Code
		text   string
	}{
		{"no token", nil, codes.OK, "anonymous: hi"},
		{"another scheme", []string{"Basic YWxpY2U6cGFzc3dvcmQ="}, codes.OK, "anonymous: hi"},
		{"a valid token", []string{bearer(e.alice())}, codes.OK, "auth0|alice: hi"},
		{"an invalid token", []string{bearer("not-a-jwt")}, codes.Unauthenticated, ""},
		{"a malformed one", []string{"Bearer a b"}, codes.InvalidArgument, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := callSay(t, conn, withAuth(t, tc.values...), "hi")
			if got.status.Code() != tc.code || got.text != tc.text {
				t.Errorf("got %v %q, want %v %q", got.status.Code(), got.text, tc.code, tc.text)
			}
		})
	}
	guarded := serve(t, e.auth, grpcauth.Config{Optional: true, Methods: map[string][]grpcauth.Rule{say: {grpcauth.RequireScopes("read:venues")}}})
	if got := callSay(t, guarded, withAuth(t), "hi"); got.status.Code() != codes.Unauthenticated || errorInfo(got.status) != nil {
		t.Errorf("a method with rules, no token: %v", got.status)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	auth := fixed{}
	if _, err := grpcauth.New(nil, grpcauth.Config{}); err == nil {
		t.Error("nil Authenticator accepted")
	}
	for name, cfg := range map[string]grpcauth.Config{
		"negative MaxTokenBytes":              {MaxTokenBytes: -1},
		"negative RetryAfter":                 {RetryAfter: -time.Second},
		"no leading slash":                    {Public: []string{"authgate.test.Echo/Say"}},
		"service without a slash":             {Public: []string{"/authgate.test.Echo"}},
		"empty service":                       {Public: []string{"//Say"}},
		"three parts":                         {Methods: map[string][]grpcauth.Rule{"/a/b/c": {grpcauth.RequireScopes("x")}}},
		"public method with rules":            {Public: []string{say}, Methods: map[string][]grpcauth.Rule{say: {grpcauth.RequireScopes("x")}}},
		"method of a public service":          {Public: []string{echoService}, Methods: map[string][]grpcauth.Rule{say: {grpcauth.RequireScopes("x")}}},
		"rules for a public method's service": {Public: []string{say}, Methods: map[string][]grpcauth.Rule{echoService: {grpcauth.RequireScopes("x")}}},
		"zero Rule":                           {Methods: map[string][]grpcauth.Rule{say: {{}}}},
	} {
		if _, err := grpcauth.New(auth, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckMethods(t *testing.T) {
	srv := grpc.NewServer()
	srv.RegisterService(&echoDesc, nil)
	in, err := grpcauth.New(fixed{}, grpcauth.Config{
		Public:  []string{"/grpc.health.v1.Health/", say},
		Methods: map[string][]grpcauth.Rule{"/authgate.test.Echo/Chta": {grpcauth.RequireScopes("x")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = in.CheckMethods(srv)
	const want = "grpcauth: no such service or method on the server: /authgate.test.Echo/Chta, /grpc.health.v1.Health/"
	if err == nil || err.Error() != want {
		t.Errorf("CheckMethods = %v\nwant %s", err, want)
	}
}

// TestAuthorize: the rules inside a handler, with the refusals the
// interceptor would send.
func TestAuthorize(t *testing.T) {
	alice := &claims.Principal{Subject: "auth0|alice", OrgID: "org_acme", Kind: claims.KindUser, Scopes: claims.ParseScope("read:venues")}
	ctx := claims.NewContext(t.Context(), alice)
	msg := wrapperspb.String("org_acme/hi")
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		msg   any
		rules []grpcauth.Rule
		want  codes.Code
	}{
		{"no rules", t.Context(), msg, nil, codes.OK},
		{"all pass", ctx, msg, []grpcauth.Rule{grpcauth.RequireScopes("read:venues"), grpcauth.RequireOrganization(orgOf)}, codes.OK},
		{"one refuses", ctx, msg, []grpcauth.Rule{grpcauth.RequireOrganization(orgOf), grpcauth.RequireKind(claims.KindMachine)}, codes.PermissionDenied},
		{"no message for a message rule", ctx, nil, []grpcauth.Rule{grpcauth.RequireOrganization(orgOf)}, codes.PermissionDenied},
		{"no Principal", t.Context(), msg, []grpcauth.Rule{grpcauth.RequireScopes("read:venues")}, codes.Unauthenticated},
		{"a zero Rule", ctx, msg, []grpcauth.Rule{{}}, codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := grpcauth.Authorize(tc.ctx, tc.msg, tc.rules...)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("Authorize = %v, want %v", err, tc.want)
			}
			if tc.want == codes.OK && err != nil {
				t.Fatalf("Authorize = %#v, want nil", err)
			}
		})
	}
}

func TestErrorKeepsTheCauseFromTheClient(t *testing.T) {
	cause := fmt.Errorf("tokenvalidator: %w: dial tcp 10.0.0.1:443: refused", claims.ErrUnavailable)
	e := &grpcauth.Error{Code: codes.Unavailable, Reason: grpcauth.ReasonTemporarilyUnavailable,
		Description: "the token could not be checked; retry later", RetryAfter: 1500 * time.Millisecond, Err: cause}
	if got := e.Error(); got != "grpcauth: the token could not be checked; retry later" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(e, claims.ErrUnavailable) {
		t.Error("the cause is not reachable with errors.Is")
	}
	st := status.Convert(fmt.Errorf("logging: %w", e))
	if st.Code() != codes.Unavailable || strings.Contains(st.Message(), "10.0.0.1") || retryDelay(st) != 1500*time.Millisecond {
		t.Errorf("wrapped status = %v (details %v)", st, st.Details())
	}
}
