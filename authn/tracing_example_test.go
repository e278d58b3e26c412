package authn_test

import (
	"context"
	"fmt"
	"log"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/idptest"
)

// Tracing: give Setup the service's TracerProvider (here the SDK's, with
// an in-memory exporter; in production, the one whose exporter sends to
// your collector). A token that misses the in-process tier is validated
// under an "authgate.validate" span, a child of the request's span; a hit
// makes none. Setup's key-set fetch, the provider calls, memcached calls
// and refreshes are spans too. No span ever holds a token.
func ExampleWithTracerProvider() {
	idp, err := idptest.New(idptest.Demo()) // stands in for https://tenant.auth0.com/
	if err != nil {
		log.Fatal(err)
	}
	defer idp.Close()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())

	gate, err := authn.Setup(context.Background(), authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI},
		authn.WithTracerProvider(tp))
	if err != nil {
		log.Fatal(err)
	}
	defer gate.Close()

	token := accessToken(idp, idp, "alice")
	// The request's span, as the service's HTTP instrumentation (otelhttp,
	// say) starts it.
	ctx, request := tp.Tracer("venue-api").Start(context.Background(), "GET /v1/venues")
	for range 2 { // a miss, then a hit
		if _, err := gate.Authenticator.Authenticate(ctx, token); err != nil {
			log.Fatal(err)
		}
	}
	request.End()

	for _, s := range spans.GetSpans() {
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		switch s.Name {
		case "authgate.jwks.fetch":
			fmt.Println(s.Name, attrs["authgate.jwks.trigger"], attrs["authgate.jwks.keys"], "keys")
		case "authgate.validate":
			fmt.Println(s.Name, attrs["authgate.token.kind"], attrs["authgate.outcome"], "child of the request:",
				s.Parent.SpanID() == request.SpanContext().SpanID())
		default:
			fmt.Println(s.Name)
		}
	}
	// Output:
	// GET
	// GET
	// authgate.jwks.fetch start 1 keys
	// authgate.validate jwt ok child of the request: true
	// GET /v1/venues
}
