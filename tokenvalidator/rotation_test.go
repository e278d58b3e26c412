package tokenvalidator_test

import (
	"context"
	"crypto/elliptic"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

func passwordLogin(t *testing.T, idp *idptest.Server) string {
	t.Helper()
	return tokenFromEndpoint(t, idp, map[string]string{"grant_type": "password", "username": "alice", "password": "alice-password",
		"client_id": "venue-app", "client_secret": "venue-app-secret", "audience": api, "scope": "openid read:venues", "organization": "org_acme"})
}

// probe sends a token with a made-up kid, which forces a fetch (when the
// limit allows) and so starts the unknown-kid interval.
func probe(t *testing.T, idp *idptest.Server, v *tokenvalidator.JWKS) {
	t.Helper()
	_, err := v.Validate(context.Background(), mint(t, idp, aliceClaims(t, idp), unknownKey(t)...))
	if err == nil {
		t.Fatal("the probe was accepted")
	}
}

// unknownKey signs with a fresh P-256 key under a random kid that no JWKS
// publishes (quicker than idptest.WithUnpublishedKey's RSA key).
func unknownKey(t testing.TB) []idptest.MintOption {
	return []idptest.MintOption{idptest.WithSigner("ES256", ecKey(t, elliptic.P256())), idptest.WithHeader("kid", randomOpaque(t))}
}

// TestLoginRightAfterRotation: the provider rotates its signing key just
// after an unknown-kid probe used up the fetch allowance. A login's token,
// verified with VerifyIssued, forces a fetch at once; from then on Validate
// accepts it without another fetch. Before VerifyIssued, Validate answers
// 503 (retry), never 401.
func TestLoginRightAfterRotation(t *testing.T) {
	idp, v := newJWKS(t)
	idp.SetNow(time.Now())
	ctx := context.Background()
	probe(t, idp, v)
	if _, err := idp.RotateKey("RS256"); err != nil {
		t.Fatal(err)
	}
	tok := passwordLogin(t, idp)
	fetches := idp.Calls(idptest.EndpointJWKS)

	_, err := v.Validate(ctx, tok)
	wantRetry(t, err)
	p, err := v.VerifyIssued(ctx, tok)
	if err != nil || p.Subject != "auth0|alice" {
		t.Fatalf("VerifyIssued right after a rotation: %v", err)
	}
	if got := idp.Calls(idptest.EndpointJWKS) - fetches; got != 1 {
		t.Errorf("%d JWKS fetches, want 1", got)
	}
	if _, err := v.Validate(ctx, tok); err != nil {
		t.Fatalf("Validate after VerifyIssued: %v", err)
	}
	if got := idp.Calls(idptest.EndpointJWKS) - fetches; got != 1 {
		t.Errorf("%d JWKS fetches, want still 1", got)
	}
}

// TestRotatedKeyNeverRefused: after an unknown-kid probe, a token of a key
// rotated in just after is answered 503 with the wait until the next fetch
// is allowed — at every second of the interval, never 401 — and accepted
// as soon as a fetch is allowed.
func TestRotatedKeyNeverRefused(t *testing.T) {
	idp, v := newJWKS(t) // UnknownKeyInterval 30s
	idp.SetNow(time.Now())
	ctx := context.Background()
	probe(t, idp, v)
	start := idp.Now()
	idp.Advance(5 * time.Second)
	if _, err := idp.RotateKey("RS256"); err != nil {
		t.Fatal(err)
	}
	tok := mint(t, idp, aliceClaims(t, idp))
	for idp.Now().Sub(start) < 30*time.Second {
		_, err := v.Validate(ctx, tok)
		after := wantRetry(t, err)
		if want := 30*time.Second - idp.Now().Sub(start); after != want {
			t.Fatalf("at +%v: retry after %v, want %v (when the next fetch is allowed)", idp.Now().Sub(start), after, want)
		}
		idp.Advance(time.Second)
	}
	if _, err := v.Validate(ctx, tok); err != nil {
		t.Fatalf("once a fetch is allowed: %v", err)
	}
}

// TestUnknownKidAnswers: while the fetch limit holds, an unknown kid is 503
// when the token claims to be newer than the key set (within Leeway, 30s by
// default), and 401 otherwise.
func TestUnknownKidAnswers(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	idp.SetNow(time.Now())
	reg := prometheus.NewRegistry()
	v, err := tokenvalidator.NewJWKS(context.Background(), tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{api}},
		tokenvalidator.WithClock(idp.Now), tokenvalidator.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	fetchedAt := idp.Now()
	probe(t, idp, v) // the limit holds from here on
	idp.Advance(10 * time.Second)
	good := aliceClaims(t, idp)
	for _, tc := range []struct {
		name  string
		iat   any
		retry bool
	}{
		{"issued after the fetch", fetchedAt.Add(5 * time.Second).Unix(), true},
		{"issued in the future", fetchedAt.Add(time.Hour).Unix(), true},
		{"issued within the leeway before it", fetchedAt.Add(-20 * time.Second).Unix(), true},
		{"issued beyond the leeway before it", fetchedAt.Add(-time.Minute).Unix(), false},
		{"issued long before", 1000, false},
		{"no iat", nil, false},
		{"iat as a string", fmt.Sprint(fetchedAt.Unix()), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Validate(context.Background(), mint(t, idp, with(good, "iat", tc.iat), unknownKey(t)...))
			if tc.retry {
				wantRetry(t, err)
			} else {
				wantReason(t, err, claims.ReasonUnknownKey)
			}
		})
	}
	for outcome, want := range map[string]float64{"retry": 3 + 1, "refused": 4, "found": 0} { // +1: the probe
		if got := gathered(t, reg, "authgate_tokenvalidator_unknown_kid_total", "outcome", outcome); got != want {
			t.Errorf("unknown_kid_total{%s} = %v, want %v", outcome, got, want)
		}
	}
}

// TestVerifyIssuedSingleFlight: many fresh logins with a new kid, while the
// JWKS hangs, share one fetch, and all succeed when it answers.
func TestVerifyIssuedSingleFlight(t *testing.T) {
	idp, v := newJWKS(t)
	if _, err := idp.RotateKey("ES256"); err != nil {
		t.Fatal(err)
	}
	fetches := idp.Calls(idptest.EndpointJWKS)
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultHang)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		tok := mint(t, idp, aliceClaims(t, idp))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.VerifyIssued(context.Background(), tok)
			errs <- err
		}()
	}
	waitFor(t, func() bool { return idp.Calls(idptest.EndpointJWKS) == fetches+1 })
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultNone)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("VerifyIssued: %v", err)
		}
	}
	if got := idp.Calls(idptest.EndpointJWKS) - fetches; got != 1 {
		t.Errorf("%d JWKS fetches for 20 logins, want 1", got)
	}
}

// TestVerifyIssued: the checks of VerifyIgnoringExpiry; a key the provider
// does not publish even after a fresh fetch is its fault, not the user's.
func TestVerifyIssued(t *testing.T) {
	idp, v := newJWKS(t)
	ctx := context.Background()
	expired := mint(t, idp, with(aliceClaims(t, idp), "exp", idp.Now().Add(-time.Hour).Unix()))
	if _, err := v.VerifyIssued(ctx, expired); err != nil {
		t.Errorf("expired: %v", err)
	}
	_, err := v.VerifyIssued(ctx, mint(t, idp, with(aliceClaims(t, idp), "aud", "https://other")))
	wantReason(t, err, claims.ReasonAudience)
	fetches := idp.Calls(idptest.EndpointJWKS)
	_, err = v.VerifyIssued(ctx, mint(t, idp, aliceClaims(t, idp), idptest.WithUnpublishedKey()))
	wantRetry(t, err)
	if got := idp.Calls(idptest.EndpointJWKS) - fetches; got != 1 {
		t.Errorf("%d fetches for an issued token with an unpublished key, want 1", got)
	}
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultError)
	_, err = v.VerifyIssued(ctx, mint(t, idp, aliceClaims(t, idp), idptest.WithUnpublishedKey()))
	wantRetry(t, err)
}

// TestBackgroundRetry: a validator started while the JWKS is down becomes
// ready without any request: the refresh loop retries after a second (the
// real clock runs here).
func TestBackgroundRetry(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultUnavailable)
	v := newValidator(t, idp)
	err := v.Ready(context.Background())
	if !errors.Is(err, claims.ErrUnavailable) {
		t.Fatalf("Ready with the JWKS down: %v, want unavailable", err)
	}
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultNone)
	waitFor(t, func() bool { return v.Ready(context.Background()) == nil })
}

// TestForcedFetchesAddNoRefresh: forced fetches do not multiply the
// background refresh (jwk.Cache's Refresh queued one more periodic fetch
// each time). With the clock frozen past one refresh interval, exactly one
// background fetch follows.
func TestForcedFetchesAddNoRefresh(t *testing.T) {
	idp, v := newJWKS(t, func(c *tokenvalidator.JWKSConfig) {
		c.RefreshInterval = time.Second
		c.UnknownKeyInterval = time.Second
	})
	idp.SetNow(time.Now())
	for range 4 {
		probe(t, idp, v)
		idp.Advance(500 * time.Millisecond)
		probe(t, idp, v) // within the interval: no fetch
		idp.Advance(500 * time.Millisecond)
	}
	before := idp.Calls(idptest.EndpointJWKS)
	idp.Advance(time.Second)
	waitFor(t, func() bool { return idp.Calls(idptest.EndpointJWKS) > before })
	time.Sleep(1500 * time.Millisecond) // a second chain would fetch again within this
	if got := idp.Calls(idptest.EndpointJWKS) - before; got != 1 {
		t.Errorf("%d background fetches after one refresh interval, want 1", got)
	}
}

// TestKeySetMetrics: fetches by trigger and outcome, and the key set's age.
func TestKeySetMetrics(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	idp.SetNow(time.Now())
	reg := prometheus.NewRegistry()
	newOn := func(cfg tokenvalidator.JWKSConfig) *tokenvalidator.JWKS {
		v, err := tokenvalidator.NewJWKS(context.Background(), cfg, tokenvalidator.WithClock(idp.Now), tokenvalidator.WithRegisterer(reg))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := newOn(tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{api}})
	defer v.Close()
	idp.Advance(10 * time.Second)
	if got := gathered(t, reg, "authgate_tokenvalidator_jwks_age_seconds"); got != 10 {
		t.Errorf("age = %v, want 10", got)
	}
	tok := passwordLogin(t, idp)
	if _, err := idp.RotateKey("RS256"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyIssued(context.Background(), passwordLogin(t, idp)); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg, "authgate_tokenvalidator_jwks_age_seconds"); got != 0 {
		t.Errorf("age after a fetch = %v, want 0", got)
	}
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultError)
	probe(t, idp, v)
	for _, tc := range []struct {
		trigger, outcome string
		want             float64
	}{
		{"start", "ok", 1}, {"issued", "ok", 1}, {"unknown_kid", "error", 1}, {"refresh", "ok", 0},
	} {
		if got := gathered(t, reg, "authgate_tokenvalidator_jwks_fetches_total", "trigger", tc.trigger, "outcome", tc.outcome); got != tc.want {
			t.Errorf("jwks_fetches_total{%s,%s} = %v, want %v", tc.trigger, tc.outcome, got, tc.want)
		}
	}
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Errorf("a known key while the JWKS fails: %v", err)
	}

	// A second validator on the registry that has never fetched: the age is
	// the stalest, +Inf; after its Close, the first one's again.
	down := newOn(tokenvalidator.JWKSConfig{Issuer: idp.Issuer(), Audiences: []string{api}, FetchTimeout: 100 * time.Millisecond})
	if got := gathered(t, reg, "authgate_tokenvalidator_jwks_age_seconds"); !math.IsInf(got, 1) {
		t.Errorf("age with a key set never fetched = %v, want +Inf", got)
	}
	down.Close()
	if got := gathered(t, reg, "authgate_tokenvalidator_jwks_age_seconds"); got != 0 {
		t.Errorf("age after Close = %v, want 0", got)
	}
}
