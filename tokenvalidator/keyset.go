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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/authgate/authgate/claims"
)

// minRSABits is the smallest RSA modulus a published key may have.
const minRSABits = 2048

// ErrNoUsableKey is wrapped by the error of a key-set fetch (and so of
// [JWKS.Ready]) that found no key able to verify a token: no public
// signature key of a supported type and size whose algorithm is allowed.
// Unlike an unreachable provider it does not match claims.ErrUnavailable:
// it is a configuration problem, here or at the provider.
var ErrNoUsableKey = errors.New("tokenvalidator: the JWKS holds no usable signing key")

var rsaAlgorithms = []jwa.SignatureAlgorithm{jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512}

// verifyKey is one published public key, ready for jws.
type verifyKey struct {
	// alg is the one algorithm the key verifies (RFC 8725 §3.1): the JWK's
	// own "alg", or for a key that names none, JWKSConfig.RSAKeyAlgorithm
	// for RSA, the curve's for EC, EdDSA for OKP.
	alg jwa.SignatureAlgorithm
	raw any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// keyIndex is an immutable snapshot of the keys of one JWKS.
type keyIndex map[string]*verifyKey

// keySet holds an issuer's keys. Every good fetch becomes a keyIndex
// published through an atomic pointer, so validation reads keys without a
// lock. All fetches — the first, the periodic refresh, those forced by
// unknown kids or by VerifyIssued — go through one single-flight path, so
// at most one is in flight. (Not jwk.Cache: in jwx v2.1.7 / httprc v1.0.6
// each forced Refresh queues one more periodic refresh that never stops,
// so every unknown-kid fetch would add a background fetch for good.)
//
// A token with an unknown kid may force one fetch per unknownKeyInterval,
// and after a failed fetch one per backoff (1s, doubling up to the
// interval); requests wait for that one fetch at most unknownKeyWait,
// never for the next allowed slot.
type keySet struct {
	issuer             string
	explicitURL        string
	rsaAlg             jwa.SignatureAlgorithm
	allowed            map[jwa.SignatureAlgorithm]bool
	refreshInterval    time.Duration
	fetchTimeout       time.Duration
	unknownKeyInterval time.Duration
	unknownKeyWait     time.Duration
	leeway             time.Duration
	o                  options
	m                  *keySetInstruments

	index   atomic.Pointer[keyIndex]
	stop    chan struct{}  // closed by close: ends the refresh loop
	fetched chan struct{}  // signalled (without blocking) when a fetch ends
	wg      sync.WaitGroup // counts the refresh loop and the fetch in flight

	mu           sync.Mutex    // guards the fields below; never held across I/O
	url          string        // the JWKS URL; "" until discovery succeeds
	fetching     chan struct{} // closed when the fetch in flight ends; nil when none
	fetchStarted time.Time     // when the fetch in flight started
	cancelFetch  context.CancelFunc
	nextUnknown  time.Time // the earliest start of a fetch an unknown kid may force
	lastEnded    time.Time // when the latest fetch ended
	failures     int       // consecutive failed fetches
	asOf         time.Time // when the fetch of the published keys started; zero before the first success
	lastErr      error     // why the latest fetch failed; nil after a success
	closed       bool
}

func newKeySet(cfg JWKSConfig, allowed map[jwa.SignatureAlgorithm]bool, o options) *keySet {
	ks := &keySet{
		issuer:             cfg.Issuer,
		explicitURL:        cfg.JWKSURL,
		rsaAlg:             jwa.SignatureAlgorithm(cfg.RSAKeyAlgorithm),
		allowed:            allowed,
		refreshInterval:    cfg.RefreshInterval,
		fetchTimeout:       cfg.FetchTimeout,
		unknownKeyInterval: cfg.UnknownKeyInterval,
		unknownKeyWait:     cfg.UnknownKeyWait,
		leeway:             cfg.Leeway,
		o:                  o,
		m:                  newKeySetInstruments(o.reg),
		stop:               make(chan struct{}),
		fetched:            make(chan struct{}, 1),
		lastErr:            errors.New("not fetched yet"),
	}
	ks.m.ages.add(ks)
	return ks
}

// start makes the first fetch and starts the refresh loop, waiting for the
// fetch within ctx. A failure leaves the key set usable: the loop retries
// after a backoff, and requests may too.
func (ks *keySet) start(ctx context.Context) error {
	done, _ := ks.fetchFor(ctx, triggerStart, "")
	ks.wg.Add(1)
	go ks.refreshLoop()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return ks.err()
}

// refreshLoop fetches the keys refreshInterval after the latest fetch
// ended, or after a backoff while fetches fail. Its timers are real, but
// whether a fetch is due is read from the injected clock, so that a test
// with a frozen clock sees no background fetch.
func (ks *keySet) refreshLoop() {
	defer ks.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait, idle := ks.refreshWait()
		if idle && wait <= 0 {
			ks.fetchFor(context.Background(), triggerRefresh, "")
			continue
		}
		var tick <-chan time.Time
		if idle {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-tick:
		case <-ks.fetched: // a fetch ended: the next one is due at another time
		case <-ks.stop:
			return
		}
	}
}

// refreshWait returns how long until the next background fetch is due, and
// false while a fetch is in flight.
func (ks *keySet) refreshWait() (time.Duration, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.fetching != nil || ks.closed {
		return 0, false
	}
	delay := ks.refreshInterval
	if ks.failures > 0 {
		delay = ks.backoff(ks.failures)
	}
	return ks.lastEnded.Add(delay).Sub(ks.o.now()), true
}

// backoff is the wait after n consecutive failed fetches: 1s, doubling up
// to the unknown-kid interval (but never under a second).
func (ks *keySet) backoff(n int) time.Duration {
	limit := max(ks.unknownKeyInterval, time.Second)
	if n > 20 {
		return limit
	}
	return min(time.Second<<(n-1), limit)
}

func (ks *keySet) err() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.lastErr
}

// age returns how long ago the published keys were fetched, and false when
// none were ever fetched.
func (ks *keySet) age() (time.Duration, bool) {
	ks.mu.Lock()
	asOf := ks.asOf
	ks.mu.Unlock()
	if asOf.IsZero() {
		return 0, false
	}
	return ks.o.now().Sub(asOf), true
}

// ready is nil once keys are published; otherwise it waits for the fetch in
// flight, if any, within ctx and says why there are none.
func (ks *keySet) ready(ctx context.Context) error {
	if ks.index.Load() != nil {
		return nil
	}
	ks.mu.Lock()
	done := ks.fetching
	ks.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("tokenvalidator: waiting for the key set of issuer %q: %w", ks.issuer, ctx.Err())
		}
	}
	if ks.index.Load() != nil {
		return nil
	}
	return fmt.Errorf("tokenvalidator: no key set for issuer %q: %w", ks.issuer, ks.err())
}

// key returns the key published under kid. For an unknown kid it joins the
// fetch in flight or starts one — when the rate limit allows, or always for
// a token fresh from the token endpoint (issued) — and waits for it (at
// most unknownKeyWait unless issued). When the kid is still unknown,
// unknownKid decides the answer; payload is the token's unverified claims.
func (ks *keySet) key(ctx context.Context, kid string, issued bool, payload []byte) (*verifyKey, error) {
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	if tid, _ := stringMember(payload, "tid"); !issuerMatches(ks.issuer, payloadIssuer(payload), tid) {
		// Not a token of this issuer (another tenant's, say): no rotation
		// of ours explains its kid, and it is worth no fetch.
		ks.m.unknown[unknownRefused].Inc()
		return nil, invalid(claims.ReasonIssuer, errors.New("unknown kid in a token of another issuer"))
	}
	trigger := triggerUnknownKid
	if issued {
		trigger = triggerIssued
	}
	called := ks.o.now()
	for range 2 {
		done, started := ks.fetchFor(ctx, trigger, kid)
		if done == nil {
			break
		}
		if err := ks.wait(ctx, done, issued); err != nil {
			ks.m.unknown[unknownUnavailable].Inc()
			return nil, err
		}
		if k := ks.lookup(kid); k != nil {
			ks.m.unknown[unknownFound].Inc()
			return k, nil
		}
		// An issued token gets one more fetch when the one it joined
		// began before it arrived and so may predate the rotation.
		if !issued || !started.Before(called) {
			break
		}
	}
	return nil, ks.unknownKid(issued, payload)
}

// wait waits for the fetch done: at most unknownKeyWait, or, for an issued
// token, as long as the fetch takes (FetchTimeout bounds it).
func (ks *keySet) wait(ctx context.Context, done <-chan struct{}, issued bool) error {
	var timeout <-chan time.Time
	if !issued {
		timer := time.NewTimer(ks.unknownKeyWait)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return unavailable("waiting for the JWKS", ctx.Err())
	case <-timeout:
		return retry("waiting for the JWKS", time.Second, errors.New("the key-set fetch is still in flight"))
	}
}

// unknownKid answers a token whose kid is not in the key set and for which
// no fetch may start now. It is 503 (a *claims.RetryError whose After is
// when the next fetch is allowed) when the key set cannot be trusted to be
// current — the latest fetch failed — or when it was fetched before the
// token says it was issued (iat, unverified, with Leeway for clock skew):
// a rotation this instance cannot have seen yet. Otherwise the kid is
// unknown for good: 401. An attacker who picks iat earns only 503s, and no
// extra fetch.
func (ks *keySet) unknownKid(issued bool, payload []byte) error {
	ks.mu.Lock()
	lastErr, asOf, next := ks.lastErr, ks.asOf, ks.nextUnknown
	ks.mu.Unlock()
	after := next.Sub(ks.o.now())
	switch {
	case lastErr != nil:
		ks.m.unknown[unknownUnavailable].Inc()
		return retry("JWKS", after, lastErr)
	case issued:
		// The provider's token endpoint issued it (an authenticated
		// channel): its JWKS lags behind, say behind a cache. Not the
		// token's fault, and not the user's.
		ks.m.unknown[unknownRetry].Inc()
		return retry("JWKS", after, errors.New("the provider's JWKS does not publish the key of a token it has just issued"))
	case issuedAfter(payload, asOf.Add(-ks.leeway-time.Second)):
		ks.m.unknown[unknownRetry].Inc()
		return retry("JWKS", after, errors.New("unknown kid in a token issued after the key set was fetched: the provider may have rotated its keys"))
	}
	ks.m.unknown[unknownRefused].Inc()
	return invalid(claims.ReasonUnknownKey, errors.New("no published key has the token's kid"))
}

// closedChan is a fetch that has ended: fetchFor's answer when none is
// needed.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (ks *keySet) lookup(kid string) *verifyKey {
	if idx := ks.index.Load(); idx != nil {
		return (*idx)[kid]
	}
	return nil
}

// fetchFor returns a channel closed when the fetch in flight ends and when
// that fetch started, starting a fetch when none is in flight — for an
// unknown kid only when the rate limit allows. It returns nil when no fetch
// runs and none may start. When kid is set and a fetch that ended since the
// caller's lookup has published it, no fetch starts: the channel returned
// is already closed. A fetch it starts is traced as a child of parent's
// span.
func (ks *keySet) fetchFor(parent context.Context, t fetchTrigger, kid string) (<-chan struct{}, time.Time) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.closed {
		return nil, time.Time{}
	}
	if ks.fetching != nil {
		return ks.fetching, ks.fetchStarted
	}
	now := ks.o.now()
	// A fetch publishes its keys under ks.mu before it stops being in
	// flight: with none in flight, the index is as new as it gets.
	if kid != "" && ks.lookup(kid) != nil {
		return closedChan, now
	}
	if t == triggerUnknownKid {
		// Only the fetches unknown kids force count against the limit:
		// the first fetch must not delay a key rotated just after start.
		if now.Before(ks.nextUnknown) {
			return nil, time.Time{}
		}
		ks.nextUnknown = now.Add(ks.unknownKeyInterval)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ks.fetchTimeout)
	if ks.o.tracer != nil {
		ctx = trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(parent))
	}
	done := make(chan struct{})
	ks.fetching, ks.fetchStarted, ks.cancelFetch = done, now, cancel
	ks.wg.Add(1)
	go ks.fetch(ctx, cancel, done, t, now)
	return done, now
}

// fetch loads the key set and publishes it. It runs on its own context, so
// that no caller's cancellation fails the fetch the others wait for.
func (ks *keySet) fetch(ctx context.Context, cancel context.CancelFunc, done chan struct{}, t fetchTrigger, started time.Time) {
	defer ks.wg.Done()
	defer cancel()
	var span trace.Span
	if ks.o.tracer != nil {
		ctx, span = ks.startFetch(ctx, t)
	}
	idx, err := ks.load(ctx)
	if span != nil {
		ks.endFetch(span, len(idx), err)
	}
	ks.mu.Lock()
	ks.fetching, ks.cancelFetch = nil, nil
	ks.lastEnded = ks.o.now()
	var old *keyIndex
	if err == nil {
		old = ks.index.Swap(&idx)
		ks.asOf, ks.failures, ks.lastErr = started, 0, nil
	} else {
		ks.failures++
		ks.lastErr = err
		ks.nextUnknown = ks.lastEnded.Add(ks.backoff(ks.failures))
	}
	closed := ks.closed
	ks.mu.Unlock()
	outcome := fetchOK
	switch {
	case err == nil:
	case errors.Is(err, ErrNoUsableKey):
		outcome = fetchNoUsableKey
	default:
		outcome = fetchError
	}
	ks.m.fetches[t][outcome].Inc() // before done: whoever waited sees it counted
	close(done)
	select {
	case ks.fetched <- struct{}{}:
	default:
	}

	switch {
	case outcome == fetchOK:
		if old == nil || !slices.Equal(slices.Sorted(maps.Keys(*old)), slices.Sorted(maps.Keys(idx))) {
			ks.o.logger.Info("tokenvalidator: JWKS keys updated",
				zap.String("issuer", ks.issuer), zap.Strings("kids", slices.Sorted(maps.Keys(idx))))
		}
	case outcome == fetchNoUsableKey:
		ks.o.logger.Error("tokenvalidator: JWKS refused; the last good keys, if any, keep serving",
			zap.String("issuer", ks.issuer), zap.Error(err))
	case !closed:
		ks.o.logger.Warn("tokenvalidator: JWKS fetch failed; the last good keys keep serving",
			zap.String("issuer", ks.issuer), zap.String("trigger", triggerNames[t]), zap.Error(err))
	}
}

// load fetches and indexes the key set, discovering its URL on first use.
func (ks *keySet) load(ctx context.Context) (keyIndex, error) {
	url, err := ks.jwksURL(ctx)
	if err != nil {
		return nil, err
	}
	body, err := getBody(ctx, ks.o.httpClient, url)
	if err != nil {
		return nil, fmt.Errorf("tokenvalidator: fetching the JWKS: %w: %w", claims.ErrUnavailable, err)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("tokenvalidator: JWKS at %s: %w: %w", url, claims.ErrUnavailable, err)
	}
	return ks.buildIndex(url, set)
}

// jwksURL returns the JWKS URL, discovering it on first use. Only the fetch
// goroutine calls it, one at a time.
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
	ks.mu.Lock()
	ks.url = url
	ks.mu.Unlock()
	return url, nil
}

// buildIndex indexes the keys of set. A set without one key able to verify
// a token (of an allowed algorithm) is refused with ErrNoUsableKey, which
// keeps the previous set serving.
func (ks *keySet) buildIndex(url string, set jwk.Set) (keyIndex, error) {
	idx := make(keyIndex, set.Len())
	var unusable []string
	for i := range set.Len() {
		key, _ := set.Key(i)
		kid := key.KeyID()
		k, err := newVerifyKey(key, ks.rsaAlg)
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
			unusable = append(unusable, fmt.Sprintf("kid %q: %v", kid, err))
			continue
		}
		idx[kid] = k
		if !ks.allowed[k.alg] {
			unusable = append(unusable, fmt.Sprintf("kid %q: %s is not in JWKSConfig.Algorithms", kid, k.alg))
		}
	}
	if len(unusable) == set.Len() {
		if len(unusable) > 5 {
			unusable = append(unusable[:5], "…")
		}
		why := "it is empty"
		if len(unusable) > 0 {
			why = strings.Join(unusable, "; ")
		}
		return nil, fmt.Errorf("%w (%s): %s", ErrNoUsableKey, url, why)
	}
	return idx, nil
}

// newVerifyKey accepts only public signature keys: RSA of at least 2048 bits,
// EC on P-256/384/521, Ed25519. Symmetric keys are never taken from a JWKS
// (that is how HS256-signed forgeries get verified with a public key). The
// key verifies one algorithm: its own alg, which must fit it, or when it
// names none rsaAlg for RSA, the curve's for EC, EdDSA for Ed25519.
func newVerifyKey(key jwk.Key, rsaAlg jwa.SignatureAlgorithm) (*verifyKey, error) {
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
	var fits []jwa.SignatureAlgorithm // what the key's type and curve can verify; the first when alg is absent
	switch pk := raw.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too small", pk.N.BitLen())
		}
		fits = append([]jwa.SignatureAlgorithm{rsaAlg}, rsaAlgorithms...)
	case *ecdsa.PublicKey:
		switch pk.Curve {
		case elliptic.P256():
			fits = []jwa.SignatureAlgorithm{jwa.ES256}
		case elliptic.P384():
			fits = []jwa.SignatureAlgorithm{jwa.ES384}
		case elliptic.P521():
			fits = []jwa.SignatureAlgorithm{jwa.ES512}
		default:
			return nil, errors.New("unsupported curve")
		}
	case ed25519.PublicKey:
		if len(pk) != ed25519.PublicKeySize { // else ed25519.Verify panics
			return nil, fmt.Errorf("Ed25519 key of %d bytes, want %d", len(pk), ed25519.PublicKeySize)
		}
		fits = []jwa.SignatureAlgorithm{jwa.EdDSA}
	default:
		return nil, fmt.Errorf("unsupported key %T", raw)
	}
	k := &verifyKey{alg: fits[0], raw: raw}
	if a := key.Algorithm().String(); a != "" {
		k.alg = jwa.SignatureAlgorithm(a)
		if !slices.Contains(fits, k.alg) {
			return nil, fmt.Errorf("alg %q does not fit the key", a)
		}
	}
	return k, nil
}

// close stops the refresh loop and any fetch in flight.
func (ks *keySet) close() {
	ks.mu.Lock()
	if ks.closed {
		ks.mu.Unlock()
		return
	}
	ks.closed = true
	if ks.cancelFetch != nil {
		ks.cancelFetch()
	}
	close(ks.stop)
	ks.mu.Unlock()
	ks.wg.Wait()
	ks.m.ages.remove(ks)
}
