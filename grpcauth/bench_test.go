package grpcauth_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/authgate/authgate/grpcauth"
)

// BenchmarkUnary is the unary interceptor's cost on a token already in the
// Authenticator's memory, with one rule, beside the Authenticator's own
// hit: the difference is what gRPC authentication adds to a call (reading
// the metadata, the context value, the rule).
//
//	cd grpcauth && go test -run '^$' -bench Unary -benchmem -count 6 .
func BenchmarkUnary(b *testing.B) {
	e := newEnv(b)
	token := e.alice()
	in, err := grpcauth.New(e.auth, grpcauth.Config{Methods: map[string][]grpcauth.Rule{say: {grpcauth.RequireScopes("read:venues")}}})
	if err != nil {
		b.Fatal(err)
	}
	unary := in.Unary()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
	info := &grpc.UnaryServerInfo{FullMethod: say}
	req := wrapperspb.String("hi")
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	if _, err := unary(ctx, req, info, handler); err != nil {
		b.Fatal(err)
	}
	b.Run("authenticator", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.auth.Authenticate(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("interceptor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := unary(ctx, req, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
}
