package grpcauth_test

import (
	"context"
	"fmt"
	"net"

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
	"github.com/authgate/authgate/tokenvalidator"
)

// A gRPC server whose health service asks for a token with the read:venues
// scope, against the test provider; a service would take its Authenticator
// from authn.Setup (gate.Authenticator).
func Example() {
	ctx := context.Background()
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		panic(err)
	}
	defer idp.Close()
	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{idptest.DemoAPI}})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	auth, err := authn.NewAuthenticator(v, authn.Config{})
	if err != nil {
		panic(err)
	}

	interceptor, err := grpcauth.New(auth, grpcauth.Config{
		Methods: map[string][]grpcauth.Rule{
			"/grpc.health.v1.Health/": {grpcauth.RequireScopes("read:venues")},
		},
	})
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(interceptor.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	if err := interceptor.CheckMethods(srv); err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println("without a token:", status.Code(err), "-", status.Convert(err).Message())

	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI,
		Scopes: []string{"read:venues"}, Organization: "org_acme"})
	if err != nil {
		panic(err)
	}
	token, err := idp.Mint(c)
	if err != nil {
		panic(err)
	}
	callCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	resp, err := client.Check(callCtx, &healthpb.HealthCheckRequest{})
	fmt.Println("with alice's token:", resp.GetStatus(), err)
	// Output:
	// without a token: Unauthenticated - a bearer token is required
	// with alice's token: SERVING <nil>
}

// Rules checked inside a handler, for a decision that depends on more than
// the method: here a booking for another organization.
func ExampleAuthorize() {
	book := func(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		orgOfBooking := func(_ context.Context, r *wrapperspb.StringValue) string { return r.GetValue() }
		if err := grpcauth.Authorize(ctx, req, grpcauth.RequireScopes("book:venues"), grpcauth.RequireOrganization(orgOfBooking)); err != nil {
			return nil, err
		}
		return wrapperspb.String("booked"), nil
	}

	// What the interceptor puts in the handler's context.
	ctx := claims.NewContext(context.Background(), &claims.Principal{
		Subject: "auth0|alice", OrgID: "org_acme", Scopes: claims.ParseScope("read:venues book:venues"),
	})
	resp, err := book(ctx, wrapperspb.String("org_acme"))
	fmt.Println(resp.GetValue(), err)
	_, err = book(ctx, wrapperspb.String("org_globex"))
	fmt.Println(status.Code(err), "-", status.Convert(err).Message())
	// Output:
	// booked <nil>
	// PermissionDenied - the access token is not for this organization
}

// CheckMethods finds a method name in the Config that the server does not
// serve, which would otherwise leave the real method without its rules.
func ExampleInterceptor_CheckMethods() {
	gate := new(authn.Gate) // in a service: gate, err := authn.Setup(ctx, cfg)
	interceptor, err := grpcauth.New(gate.Authenticator, grpcauth.Config{
		Methods: map[string][]grpcauth.Rule{
			"/grpc.health.v1.Health/Chek": {grpcauth.RequireScopes("read:venues")},
		},
	})
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(interceptor.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	fmt.Println(interceptor.CheckMethods(srv))
	// Output:
	// grpcauth: no such service or method on the server: /grpc.health.v1.Health/Chek
}
