package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/tracing"
	"github.com/authgate/authgate/refresh"
	"github.com/authgate/authgate/tokenvalidator"
)

// discovered is an issuer's OpenID discovery document, fetched when first
// needed and kept once fetched. A failed fetch is tried again on demand,
// one at a time, no sooner than a backoff (1s, doubling up to 30s) after
// the last failure, so that a flood of requests while the provider is down
// is not a flood of fetches. It is safe for concurrent use.
type discovered struct {
	issuer string
	client *http.Client
	base   context.Context // every fetch's parent; cancelled by close
	stop   context.CancelFunc
	wg     sync.WaitGroup // the fetch in flight

	mu       sync.Mutex // guards the fields below; never held across I/O
	md       *tokenvalidator.Metadata
	fetching chan struct{} // closed when the fetch in flight ends; nil when none
	lastErr  error
	retryAt  time.Time
	backoff  time.Duration
}

// discoveryTimeout bounds one fetch of a discovery document.
const discoveryTimeout = 10 * time.Second

func newDiscovered(issuer string, client *http.Client, tracer trace.Tracer) *discovered {
	if client == nil {
		client = &http.Client{Timeout: discoveryTimeout}
	}
	client = tracing.Client(client, tracer)
	base, stop := context.WithCancel(context.Background())
	return &discovered{issuer: issuer, client: client, base: base, stop: stop}
}

// get returns the document, fetching it if it has not been yet. While the
// provider cannot be asked again yet, the error is a *claims.RetryError.
func (d *discovered) get(ctx context.Context) (*tokenvalidator.Metadata, error) {
	for {
		d.mu.Lock()
		if d.md != nil {
			md := d.md
			d.mu.Unlock()
			return md, nil
		}
		if d.fetching == nil {
			if wait := time.Until(d.retryAt); wait > 0 {
				err := d.lastErr
				d.mu.Unlock()
				return nil, &claims.RetryError{After: wait, Err: err}
			}
			d.fetching = make(chan struct{})
			d.wg.Add(1)
			go d.fetch(d.fetching)
		}
		done := d.fetching
		d.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, fmt.Errorf("authn: waiting for discovery of %q: %w: %w", d.issuer, claims.ErrUnavailable, ctx.Err())
		}
		d.mu.Lock()
		md, err := d.md, d.lastErr
		d.mu.Unlock()
		if md != nil || err != nil {
			if md != nil {
				return md, nil
			}
			return nil, err
		}
	}
}

// fetch asks for the document on a context of its own, so that no
// caller's cancellation fails it for the others.
func (d *discovered) fetch(done chan struct{}) {
	defer d.wg.Done()
	ctx, cancel := context.WithTimeout(d.base, discoveryTimeout)
	defer cancel()
	md, err := tokenvalidator.Discover(ctx, d.client, d.issuer)
	d.mu.Lock()
	if err == nil {
		d.md, d.lastErr = md, nil
	} else {
		d.backoff = min(max(2*d.backoff, time.Second), 30*time.Second)
		d.lastErr, d.retryAt = err, time.Now().Add(d.backoff)
	}
	d.fetching = nil
	d.mu.Unlock()
	close(done)
}

// close ends a fetch in flight and waits for it.
func (d *discovered) close() {
	d.stop()
	d.wg.Wait()
}

// refreshEndpoints is refresh.Config.Endpoints for the issuer.
func (d *discovered) refreshEndpoints(ctx context.Context) (refresh.Endpoints, error) {
	md, err := d.get(ctx)
	if err != nil {
		return refresh.Endpoints{}, err
	}
	return refresh.Endpoints{TokenURL: md.TokenEndpoint, RevocationURL: md.RevocationEndpoint}, nil
}

// opaque checks an issuer's opaque access tokens where its discovery
// document says: at its RFC 7662 introspection endpoint when it lists one
// and the service has a client there, else at its userinfo endpoint (as
// Auth0, which has no introspection). The validator is built once the
// document is known; until then tokens are answered unavailable.
type opaque struct {
	is    IssuerConfig
	ep    *discovered
	vopts []tokenvalidator.Option

	mu sync.Mutex // guards v
	v  tokenvalidator.Validator
}

func newOpaque(is IssuerConfig, ep *discovered, vopts []tokenvalidator.Option) *opaque {
	return &opaque{is: is, ep: ep, vopts: vopts}
}

var errNoOpaque = claims.Invalid(claims.ReasonMalformed, errors.New("the issuer has neither an introspection endpoint (with a client) nor a userinfo endpoint: opaque tokens are not accepted"))

// Validate checks token at the issuer.
func (o *opaque) Validate(ctx context.Context, token string) (tokenvalidator.Result, error) {
	v, err := o.validator(ctx)
	if err != nil {
		return tokenvalidator.Result{}, err
	}
	return v.Validate(ctx, token)
}

func (o *opaque) validator(ctx context.Context) (tokenvalidator.Validator, error) {
	o.mu.Lock()
	v := o.v
	o.mu.Unlock()
	if v != nil {
		return v, nil
	}
	md, err := o.ep.get(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case md.IntrospectionEndpoint != "" && o.is.ClientID != "":
		v, err = tokenvalidator.NewIntrospection(tokenvalidator.IntrospectionConfig{
			URL: md.IntrospectionEndpoint, ClientID: o.is.ClientID, ClientSecret: o.is.ClientSecret,
			Issuer: o.is.Issuer, Audiences: o.is.Audiences, Mapping: o.is.Mapping, Budget: o.is.Budget,
		}, o.vopts...)
	case md.UserinfoEndpoint != "":
		v, err = tokenvalidator.NewUserInfo(tokenvalidator.UserInfoConfig{
			URL: md.UserinfoEndpoint, Issuer: o.is.Issuer, Mapping: o.is.Mapping, Budget: o.is.Budget,
		}, o.vopts...)
	default:
		return nil, errNoOpaque
	}
	if err != nil {
		return nil, fmt.Errorf("authn: issuer %q: %w: %w", o.is.Issuer, claims.ErrUnavailable, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.v == nil {
		o.v = v
	}
	return o.v, nil
}

// Policy describes what the issuer's opaque tokens are accepted for. It is
// fixed before discovery says which endpoint checks them, so it names the
// issuer, the client and the mapping but admits any audience on a shared
// hit: userinfo proves none, and introspection checks it when it answers.
func (o *opaque) Policy() tokenvalidator.Policy {
	return tokenvalidator.Policy{Rules: []tokenvalidator.Rule{{
		Issuer: o.is.Issuer,
		Detail: fmt.Sprintf("method=%q;audiences=%q;client=%q;mapping=%q;", "opaque by discovery",
			o.is.Audiences, o.is.ClientID, o.is.Mapping.Canonical()),
	}}}
}
