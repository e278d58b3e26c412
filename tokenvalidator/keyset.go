package tokenvalidator

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"

	"github.com/authgate/authgate/claims"
)

// minRSABits is the smallest RSA modulus a published key may have.
const minRSABits = 2048

// verifyKey is one usable public key of an issuer, ready for jws.
type verifyKey struct {
	// alg is the JWK's own "alg", or "" when it names none; then any
	// algorithm of the key's family may be used (if allowed).
	alg    jwa.SignatureAlgorithm
	family []jwa.SignatureAlgorithm // what the key's type and curve can verify
	raw    any                      // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// accepts reports whether the key may verify a signature made with alg: one
// algorithm per key (RFC 8725 §3.1), the JWK's own when it names one.
func (k *verifyKey) accepts(alg jwa.SignatureAlgorithm) bool {
	if k.alg != "" {
		return alg == k.alg
	}
	return slices.Contains(k.family, alg)
}

// keyIndex is an immutable snapshot of the usable keys of one JWKS.
type keyIndex map[string]*verifyKey

// keySet holds an issuer's keys. jwk.Cache fetches and refreshes the JWKS in
// the background; every good fetch becomes a keyIndex published through an
// atomic pointer, so validation reads keys without a lock and never waits on
// the cache (whose Get blocks while a fetch is in flight). A token with an
// unknown kid may force one fetch per unknownKeyInterval; requests wait for
// that one fetch at most unknownKeyWait, never for the next allowed slot.
type keySet struct {
	issuer             string
	explicitURL        string
	refreshInterval    time.Duration
	fetchTimeout       time.Duration
	unknownKeyInterval time.Duration
	unknownKeyWait     time.Duration
	o                  options

	cache     *jwk.Cache
	stopCache context.CancelFunc
	index     atomic.Pointer[keyIndex]
	wg        sync.WaitGroup // counts the fetch goroutine in flight

	mu          sync.Mutex    // guards the fields below; never held across I/O
	url         string        // the registered JWKS URL; "" until discovery succeeds
	fetching    chan struct{} // closed when the fetch in flight ends; nil when none
	cancelFetch context.CancelFunc
	lastForced  time.Time // when the last forced fetch started
	lastErr     error     // why the latest fetch failed; nil after a success
	closed      bool
}

func newKeySet(cfg JWKSConfig, o options) *keySet {
	ctx, cancel := context.WithCancel(context.Background())
	ks := &keySet{
		issuer:             cfg.Issuer,
		explicitURL:        cfg.JWKSURL,
		refreshInterval:    cfg.RefreshInterval,
		fetchTimeout:       cfg.FetchTimeout,
		unknownKeyInterval: cfg.UnknownKeyInterval,
		unknownKeyWait:     cfg.UnknownKeyWait,
		o:                  o,
		stopCache:          cancel,
		lastErr:            errors.New("not fetched yet"),
	}
	ks.cache = jwk.NewCache(ctx,
		jwk.WithRefreshWindow(cfg.RefreshInterval),
		jwk.WithErrSink(errSink(ks.backgroundFailed)))
	return ks
}

// errSink adapts a function to jwk's ErrSink.
type errSink func(error)

func (f errSink) Error(err error) { f(err) }

// start forces the first fetch and waits for it within ctx. A failure leaves
// the key set usable: later requests retry, rate-limited.
func (ks *keySet) start(ctx context.Context) error {
	select {
	case <-ks.forceFetch(true):
	case <-ctx.Done():
		return ctx.Err()
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.lastErr
}

// key returns the key published under kid. For an unknown kid it joins the
// fetch in flight, or starts one if the rate limit allows, and waits for it
// at most unknownKeyWait. The error is ErrUnavailable when the key set cannot
// be trusted to be current (the latest fetch failed), otherwise
// ReasonUnknownKey.
func (ks *keySet) key(ctx context.Context, kid string) (*verifyKey, error) {
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	if done := ks.forceFetch(false); done != nil {
		timer := time.NewTimer(ks.unknownKeyWait)
		defer timer.Stop()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, unavailable("waiting for the JWKS", ctx.Err())
		case <-timer.C:
			return nil, unavailable("waiting for the JWKS", errors.New("fetch still in flight"))
		}
		if k := ks.lookup(kid); k != nil {
			return k, nil
		}
	}
	ks.mu.Lock()
	err := ks.lastErr
	ks.mu.Unlock()
	if err != nil {
		return nil, unavailable("JWKS", err)
	}
	return nil, invalid(claims.ReasonUnknownKey, errors.New("no published key has the token's kid"))
}

func (ks *keySet) lookup(kid string) *verifyKey {
	if idx := ks.index.Load(); idx != nil {
		return (*idx)[kid]
	}
	return nil
}

// forceFetch returns a channel closed when the fetch in flight ends, starting
// a fetch when none is in flight and the rate limit (or force) allows. It
// returns nil when no fetch runs and none may start.
func (ks *keySet) forceFetch(force bool) <-chan struct{} {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.closed {
		return nil
	}
	if ks.fetching != nil {
		return ks.fetching
	}
	if !force {
		// Only fetches that unknown kids force count against the limit:
		// the first fetch must not delay a key rotated just after start.
		now := ks.o.now()
		if now.Sub(ks.lastForced) < ks.unknownKeyInterval {
			return nil
		}
		ks.lastForced = now
	}
	ctx, cancel := context.WithTimeout(context.Background(), ks.fetchTimeout)
	done := make(chan struct{})
	ks.fetching, ks.cancelFetch = done, cancel
	ks.wg.Add(1)
	go ks.fetch(ctx, cancel, done)
	return done
}

// fetch runs on its own context, so that no caller's cancellation fails the
// fetch the others wait for.
func (ks *keySet) fetch(ctx context.Context, cancel context.CancelFunc, done chan struct{}) {
	defer ks.wg.Done()
	defer cancel()
	url, err := ks.jwksURL(ctx)
	if err == nil {
		_, err = ks.cache.Refresh(ctx, url)
	}
	ks.mu.Lock()
	ks.fetching, ks.cancelFetch = nil, nil
	if err != nil {
		ks.lastErr = err
	}
	ks.mu.Unlock()
	if err != nil {
		ks.o.logger.Warn("tokenvalidator: JWKS fetch failed", zap.String("issuer", ks.issuer), zap.Error(err))
	}
	close(done)
}

// jwksURL returns the registered JWKS URL, discovering and registering it on
// first use. Only the fetch goroutine calls it, one at a time.
func (ks *keySet) jwksURL(ctx context.Context) (string, error) {
	ks.mu.Lock()
	url := ks.url
	ks.mu.Unlock()
	if url != "" {
		return url, nil
	}
	url = ks.explicitURL
	if url == "" {
		md, err := Discover(ctx, ks.o.httpClient, ks.issuer)
		if err != nil {
			return "", err
		}
		url = md.JWKSURI
	}
	err := ks.cache.Register(url,
		jwk.WithHTTPClient(ks.o.httpClient),
		jwk.WithRefreshInterval(ks.refreshInterval),
		jwk.WithPostFetcher(jwk.PostFetchFunc(ks.publish)))
	if err != nil {
		return "", fmt.Errorf("registering the JWKS URL: %w", err)
	}
	ks.mu.Lock()
	ks.url = url
	ks.mu.Unlock()
	return url, nil
}

// publish is jwk.Cache's post-fetch hook: it turns a freshly fetched set into
// the index validation reads. A set without one usable key is refused, which
// keeps the previous set serving.
func (ks *keySet) publish(_ string, set jwk.Set) (jwk.Set, error) {
	idx := ks.buildIndex(set)
	if len(idx) == 0 {
		return nil, errors.New("the JWKS holds no usable signing key")
	}
	old := ks.index.Swap(&idx)
	ks.mu.Lock()
	ks.lastErr = nil
	ks.mu.Unlock()
	if old == nil || !slices.Equal(slices.Sorted(maps.Keys(*old)), slices.Sorted(maps.Keys(idx))) {
		ks.o.logger.Info("tokenvalidator: JWKS keys updated",
			zap.String("issuer", ks.issuer), zap.Strings("kids", slices.Sorted(maps.Keys(idx))))
	}
	return set, nil
}

func (ks *keySet) backgroundFailed(err error) {
	ks.mu.Lock()
	ks.lastErr = err
	ks.mu.Unlock()
	ks.o.logger.Warn("tokenvalidator: JWKS refresh failed; the last good keys keep serving",
		zap.String("issuer", ks.issuer), zap.Error(err))
}

func (ks *keySet) buildIndex(set jwk.Set) keyIndex {
	idx := make(keyIndex, set.Len())
	for i := range set.Len() {
		key, _ := set.Key(i)
		kid := key.KeyID()
		k, err := newVerifyKey(key)
		switch {
		case err != nil:
		case kid == "":
			err = errors.New("no kid")
		case idx[kid] != nil:
			err = errors.New("kid published twice; the first is used")
		}
		if err != nil {
			ks.o.logger.Warn("tokenvalidator: JWKS key ignored",
				zap.String("issuer", ks.issuer), zap.String("kid", kid), zap.Error(err))
			continue
		}
		idx[kid] = k
	}
	return idx
}

// newVerifyKey accepts only public signature keys: RSA of at least 2048 bits,
// EC on P-256/384/521, Ed25519. Symmetric keys are never taken from a JWKS
// (that is how HS256-signed forgeries get verified with a public key).
func newVerifyKey(key jwk.Key) (*verifyKey, error) {
	if use := key.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, fmt.Errorf("use %q is not sig", use)
	}
	if key.KeyType() != jwa.RSA && key.KeyType() != jwa.EC && key.KeyType() != jwa.OKP {
		return nil, fmt.Errorf("key type %q is not a public-key type", key.KeyType())
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, err
	}
	var raw any
	if err := pub.Raw(&raw); err != nil {
		return nil, err
	}
	k := &verifyKey{raw: raw}
	switch pk := raw.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too small", pk.N.BitLen())
		}
		k.family = []jwa.SignatureAlgorithm{jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512}
	case *ecdsa.PublicKey:
		switch pk.Curve {
		case elliptic.P256():
			k.family = []jwa.SignatureAlgorithm{jwa.ES256}
		case elliptic.P384():
			k.family = []jwa.SignatureAlgorithm{jwa.ES384}
		case elliptic.P521():
			k.family = []jwa.SignatureAlgorithm{jwa.ES512}
		default:
			return nil, errors.New("unsupported curve")
		}
	case ed25519.PublicKey:
		k.family = []jwa.SignatureAlgorithm{jwa.EdDSA}
	default:
		return nil, fmt.Errorf("unsupported key %T", raw)
	}
	if a := key.Algorithm().String(); a != "" {
		alg := jwa.SignatureAlgorithm(a)
		if !slices.Contains(k.family, alg) {
			return nil, fmt.Errorf("alg %q does not fit the key", a)
		}
		k.alg = alg
	}
	return k, nil
}

// close stops the background refresh and any fetch in flight.
func (ks *keySet) close() {
	ks.mu.Lock()
	ks.closed = true
	if ks.cancelFetch != nil {
		ks.cancelFetch()
	}
	ks.mu.Unlock()
	ks.wg.Wait()
	ks.stopCache()
}
