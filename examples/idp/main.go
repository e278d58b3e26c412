// Command idp runs idptest's demo identity provider — an in-process stand-in
// for Auth0 — so that a service can be tried by hand against it.
//
//	go run ./examples/idp              # listens on 127.0.0.1:9999
//	ADDR=127.0.0.1:8081 go run ./examples/idp
//
// It prints the issuer, the demo users, clients and API, and a curl line for
// a password grant, then serves until interrupted (Ctrl-C).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/authgate/authgate/idptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "idp:", err)
		os.Exit(1)
	}
}

// run serves the demo provider on $ADDR until ctx ends.
func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg := idptest.Demo()
	cfg.Addr = getenv("ADDR")
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:9999"
	}
	idp, err := idptest.New(cfg)
	if err != nil {
		return err
	}
	defer idp.Close()
	printDemo(out, idp, cfg)
	<-ctx.Done()
	return idp.Close()
}

// printDemo describes the running provider and its demo tenant.
func printDemo(out io.Writer, idp *idptest.Server, cfg idptest.Config) {
	fmt.Fprintf(out, "Identity provider (idptest demo tenant)\n\n")
	fmt.Fprintf(out, "  issuer         %s\n", idp.Issuer())
	fmt.Fprintf(out, "  discovery      %s\n", idp.DiscoveryURL())
	fmt.Fprintf(out, "  jwks           %s\n", idp.JWKSURL())
	fmt.Fprintf(out, "  token          %s\n", idp.TokenURL())
	fmt.Fprintf(out, "  userinfo       %s\n", idp.UserinfoURL())
	fmt.Fprintf(out, "  introspection  %s\n", idp.IntrospectionURL())
	fmt.Fprintf(out, "  revocation     %s\n", idp.RevocationURL())

	fmt.Fprintln(out)
	_ = cfg.Describe(out)
	fmt.Fprintf(out, "\nA password grant for alice in org_acme:\n\n")
	fmt.Fprintf(out, "curl -s %s -d grant_type=password -d username=alice -d password=alice-password"+
		" -d client_id=venue-app -d client_secret=venue-app-secret --data-urlencode audience=%s"+
		" -d organization=org_acme --data-urlencode 'scope=openid profile offline_access read:venues book:venues'\n\n",
		idp.TokenURL(), idptest.DemoAPI)
	fmt.Fprintf(out, "Serving until interrupted (Ctrl-C).\n")
}
