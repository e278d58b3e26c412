package grpcauth

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/authgate/authgate/claims"
)

type nobody struct{}

func (nobody) Authenticate(context.Context, string) (*claims.Principal, error) { return nil, nil }

// FuzzToken: whatever authorization metadata a client sends, token returns
// one non-empty token of at most MaxTokenBytes with no space in it, or an
// error; two values are always an error.
func FuzzToken(f *testing.F) {
	for _, seed := range [][2]string{
		{"Bearer abc", ""}, {"bearer abc", ""}, {"Bearer  abc", ""}, {"Bearer a b", ""},
		{"Bearer ", ""}, {"Basic abc", ""}, {"Bearer abc", "Bearer abc"}, {"Bearerabc", ""}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	const maxBytes = 64
	in, err := New(nobody{}, Config{MaxTokenBytes: maxBytes})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		md := metadata.MD{"authorization": {first}}
		if second != "" {
			md["authorization"] = append(md["authorization"], second)
		}
		token, err := in.token(metadata.NewIncomingContext(context.Background(), md))
		if err != nil {
			return
		}
		if second != "" {
			t.Fatalf("two values gave the token %q", token)
		}
		if token == "" || len(token) > maxBytes || strings.Contains(token, " ") {
			t.Fatalf("token %q from %q", token, first)
		}
	})
}
