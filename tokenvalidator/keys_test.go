package tokenvalidator_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

func TestLeeway(t *testing.T) {
	idp, v := newJWKS(t, func(c *tokenvalidator.JWKSConfig) { c.Leeway = time.Minute })
	now := idp.Now()
	for _, tc := range []struct {
		name   string
		claim  string
		at     time.Time
		accept bool
	}{
		{"expired within leeway", "exp", now.Add(-30 * time.Second), true},
		{"expired beyond leeway", "exp", now.Add(-90 * time.Second), false},
		{"nbf within leeway", "nbf", now.Add(30 * time.Second), true},
		{"nbf beyond leeway", "nbf", now.Add(90 * time.Second), false},
		{"iat within leeway", "iat", now.Add(30 * time.Second), true},
		{"iat beyond leeway", "iat", now.Add(90 * time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Validate(context.Background(), mint(t, idp, with(aliceClaims(t, idp), tc.claim, tc.at.Unix())))
			if (err == nil) != tc.accept {
				t.Fatalf("err = %v, accept = %v", err, tc.accept)
			}
		})
	}
}

// TestRequireType: with RequireType, a token must be an RFC 9068 access
// token: typ at+jwt and the claims of §2.2.
func TestRequireType(t *testing.T) {
	cfg := idptest.Demo()
	cfg.AccessTokenType = "at+jwt" // RFC 9068 tokens: client_id beside azp
	idp := idptest.Start(t, cfg)
	v := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) { c.RequireType = true })
	good := aliceClaims(t, idp)
	for typ, accept := range map[string]bool{"at+jwt": true, "application/at+jwt": true, "AT+JWT": true, "JWT": false} {
		_, err := v.Validate(context.Background(), mint(t, idp, good, idptest.WithHeader("typ", typ)))
		if (err == nil) != accept {
			t.Errorf("typ %q: err = %v", typ, err)
		}
	}
	for _, tc := range []struct {
		name   string
		token  string
		reason claims.Reason
	}{
		{"no typ", mint(t, idp, good, idptest.WithHeader("typ", nil)), claims.ReasonType},
		{"no iat", mint(t, idp, with(good, "iat", nil)), claims.ReasonMalformed},
		{"no jti", mint(t, idp, with(good, "jti", nil)), claims.ReasonMalformed},
		{"empty jti", mint(t, idp, with(good, "jti", "")), claims.ReasonMalformed},
		{"no client_id, azp only", mint(t, idp, with(good, "client_id", nil)), claims.ReasonMalformed},
		{"CLIENT_ID is not client_id", mint(t, idp, with(good, "client_id", nil, "CLIENT_ID", "venue-app")), claims.ReasonMalformed},
		{"no sub", mint(t, idp, with(good, "sub", nil)), claims.ReasonMalformed},
		{"no exp", mint(t, idp, with(good, "exp", nil)), claims.ReasonMalformed},
		{"no aud", mint(t, idp, with(good, "aud", nil)), claims.ReasonAudience},
		{"no iss", mint(t, idp, with(good, "iss", nil)), claims.ReasonIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Validate(context.Background(), tc.token)
			wantReason(t, err, tc.reason)
		})
	}
	// Without RequireType the same claims are optional (Auth0's default
	// dialect has no client_id).
	lax := newValidator(t, idp)
	if _, err := lax.Validate(context.Background(), mint(t, idp, with(good, "client_id", nil, "jti", nil))); err != nil {
		t.Errorf("without RequireType: %v", err)
	}
}

func TestSharedSecret(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	idp, v := newJWKS(t, func(c *tokenvalidator.JWKSConfig) {
		c.SharedSecret = secret
		c.Algorithms = []string{"RS256", "HS256"}
	})
	good := aliceClaims(t, idp)
	if _, err := v.Validate(context.Background(), mint(t, idp, good, idptest.WithSigner("HS256", secret))); err != nil {
		t.Fatalf("HS256 with the shared secret: %v", err)
	}
	_, err := v.Validate(context.Background(), mint(t, idp, good, idptest.WithSigner("HS256", []byte("another secret, 32 bytes long..."))))
	wantReason(t, err, claims.ReasonBadSignature)
	_, err = v.Validate(context.Background(), mint(t, idp, good, idptest.WithSigner("HS512", secret)))
	wantReason(t, err, claims.ReasonAlgorithm)
	if _, err := v.Validate(context.Background(), mint(t, idp, good)); err != nil {
		t.Fatalf("RS256 still accepted: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]tokenvalidator.JWKSConfig{
		"no issuer":            {Audiences: []string{api}},
		"no audience":          {Issuer: "https://i/"},
		"empty audience":       {Issuer: "https://i/", Audiences: []string{""}},
		"none allowed":         {Issuer: "https://i/", Audiences: []string{api}, Algorithms: []string{"none"}},
		"HS256 without secret": {Issuer: "https://i/", Audiences: []string{api}, Algorithms: []string{"HS256"}},
		"short secret":         {Issuer: "https://i/", Audiences: []string{api}, Algorithms: []string{"HS256"}, SharedSecret: []byte("short")},
		"unknown algorithm":    {Issuer: "https://i/", Audiences: []string{api}, Algorithms: []string{"RS1"}},
		"empty allowlist":      {Issuer: "https://i/", Audiences: []string{api}, Algorithms: []string{}},
		"negative leeway":      {Issuer: "https://i/", Audiences: []string{api}, Leeway: -1},
	} {
		if v, err := tokenvalidator.NewJWKS(context.Background(), cfg); err == nil {
			v.Close()
			t.Errorf("%s: no error", name)
		}
	}
}

// TestRotation follows a key rotation at the provider without a restart:
// the new kid triggers one fetch, and a retired key stops verifying.
func TestRotation(t *testing.T) {
	idp, v := newJWKS(t, func(c *tokenvalidator.JWKSConfig) { c.UnknownKeyInterval = time.Minute })
	ctx := context.Background()
	oldKID := idp.SigningKeyID()
	oldTok := mint(t, idp, aliceClaims(t, idp))
	if _, err := v.Validate(ctx, oldTok); err != nil {
		t.Fatal(err)
	}
	fetches := idp.Calls(idptest.EndpointJWKS)

	newKID, err := idp.RotateKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	newTok := mint(t, idp, aliceClaims(t, idp))
	if _, err := v.Validate(ctx, newTok); err != nil {
		t.Fatalf("token signed by the new key %s: %v", newKID, err)
	}
	if got := idp.Calls(idptest.EndpointJWKS) - fetches; got != 1 {
		t.Errorf("%d JWKS fetches for the new kid, want 1", got)
	}
	if _, err := v.Validate(ctx, oldTok); err != nil {
		t.Errorf("old key still published, token refused: %v", err)
	}

	if err := idp.RetireKey(oldKID); err != nil {
		t.Fatal(err)
	}
	idp.Advance(2 * time.Minute) // past the unknown-kid interval
	// An unknown kid forces a refetch, which drops the retired key. (The
	// probe's own answer is 503: it claims to be newer than the key set.)
	probe := mint(t, idp, aliceClaims(t, idp), idptest.WithUnpublishedKey())
	_, err = v.Validate(ctx, probe)
	wantRetry(t, err)
	_, err = v.Validate(ctx, mint(t, idp, aliceClaims(t, idp), idptest.WithKeyID(newKID)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Validate(ctx, oldTok) // issued two minutes before the key set was fetched
	wantReason(t, err, claims.ReasonUnknownKey)
}

// TestJWKSDown: with the JWKS endpoint failing, tokens signed by known keys
// still validate, and a new kid is unavailable (not invalid).
func TestJWKSDown(t *testing.T) {
	for _, fault := range []idptest.Fault{idptest.FaultError, idptest.FaultUnavailable, idptest.FaultDrop, idptest.FaultHang} {
		t.Run(fmt.Sprint(fault), func(t *testing.T) {
			idp, v := newJWKS(t, func(c *tokenvalidator.JWKSConfig) {
				c.UnknownKeyWait = 200 * time.Millisecond
				c.FetchTimeout = 500 * time.Millisecond
			})
			ctx := context.Background()
			idp.SetFault(idptest.EndpointJWKS, fault)
			if _, err := v.Validate(ctx, mint(t, idp, aliceClaims(t, idp))); err != nil {
				t.Fatalf("known key with the JWKS down: %v", err)
			}
			kid, err := idp.RotateKey("RS256")
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = v.Validate(ctx, mint(t, idp, aliceClaims(t, idp), idptest.WithKeyID(kid)))
			if !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
				t.Fatalf("new kid with the JWKS down: %v, want unavailable", err)
			}
			if waited := time.Since(start); waited > 10*time.Second { // "bounded", not "hung"
				t.Errorf("the request waited %v", waited)
			}
			idp.SetFault(idptest.EndpointJWKS, idptest.FaultNone)
			idp.Advance(time.Minute) // past the unknown-kid interval
			if _, err := v.Validate(ctx, mint(t, idp, aliceClaims(t, idp), idptest.WithKeyID(kid))); err != nil {
				t.Fatalf("after the JWKS came back: %v", err)
			}
		})
	}
}

// TestRandomKIDFlood: 500 concurrent tokens with made-up kids cause at most
// one JWKS fetch per interval, and none waits for a later slot. Those that
// claim to be older than the key set are 401; those that claim to be newer
// earn only 503s, with no more fetches.
func TestRandomKIDFlood(t *testing.T) {
	idp, v := newJWKS(t)
	idp.SetNow(time.Now())
	before := idp.Calls(idptest.EndpointJWKS)
	var wg sync.WaitGroup
	type answer struct {
		fresh bool
		err   error
	}
	answers := make(chan answer, 500)
	start := time.Now()
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c := aliceClaims(t, idp)
	old := with(c, "iat", idp.Now().Add(-time.Hour).Unix())
	for i := range 500 {
		fresh := i%2 == 0
		claimsOf := old
		if fresh {
			claimsOf = c
		}
		tok := mint(t, idp, claimsOf, idptest.WithSigner("RS256", attacker), idptest.WithHeader("kid", fmt.Sprintf("random-%d", i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Validate(context.Background(), tok)
			answers <- answer{fresh, err}
		}()
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.fresh {
			wantRetry(t, a.err)
		} else {
			wantReason(t, a.err, claims.ReasonUnknownKey)
		}
	}
	if got := idp.Calls(idptest.EndpointJWKS) - before; got > 1 {
		t.Errorf("%d JWKS fetches for 500 random kids in one interval, want at most 1", got)
	}
	if d := time.Since(start); d > 30*time.Second { // none waited for a later rate-limit slot
		t.Errorf("500 requests took %v", d)
	}
	idp.Advance(31 * time.Second)
	_, err = v.Validate(context.Background(), mint(t, idp, with(c, "iat", idp.Now().Add(-time.Hour).Unix()), idptest.WithUnpublishedKey()))
	wantReason(t, err, claims.ReasonUnknownKey)
	if got := idp.Calls(idptest.EndpointJWKS) - before; got > 2 {
		t.Errorf("%d fetches after the next interval, want at most 2", got)
	}
}

// TestFirstFetchFails: a validator that started while the JWKS was down
// fetches again after a backoff of a second, doubling while fetches fail —
// not after the whole unknown-kid interval, nor 10 minutes later.
func TestFirstFetchFails(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	idp.SetNow(time.Now())
	idp.SetFault(idptest.EndpointJWKS, idptest.FaultError)
	v := newValidator(t, idp)
	tok := mint(t, idp, aliceClaims(t, idp))
	fetches := idp.Calls(idptest.EndpointJWKS)
	for i, step := range []struct {
		advance time.Duration // before the request
		heal    bool          // the JWKS answers again
		fetch   bool          // the request may fetch
		after   time.Duration // the 503's wait; 0 = accepted
	}{
		{0, false, false, time.Second},
		{time.Second, false, true, 2 * time.Second},
		{time.Second, true, false, time.Second},
		{time.Second, false, true, 0},
	} {
		idp.Advance(step.advance)
		if step.heal {
			idp.SetFault(idptest.EndpointJWKS, idptest.FaultNone)
		}
		_, err := v.Validate(context.Background(), tok)
		if step.after == 0 {
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		} else if got := wantRetry(t, err); got != step.after {
			t.Errorf("step %d: retry after %v, want %v", i, got, step.after)
		}
		if step.fetch {
			fetches++
		}
		if got := idp.Calls(idptest.EndpointJWKS); got != fetches {
			t.Fatalf("step %d: %d JWKS fetches, want %d", i, got, fetches)
		}
	}
}

func TestDiscovery(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	v := newValidator(t, idp)
	if idp.Calls(idptest.EndpointDiscovery) != 1 {
		t.Errorf("discovery calls = %d, want 1", idp.Calls(idptest.EndpointDiscovery))
	}
	if _, err := v.Validate(context.Background(), mint(t, idp, aliceClaims(t, idp))); err != nil {
		t.Fatal(err)
	}
	md, err := tokenvalidator.Discover(context.Background(), nil, idp.Issuer())
	if err != nil || md.TokenEndpoint != idp.TokenURL() || md.JWKSURI != idp.JWKSURL() {
		t.Fatalf("Discover = %+v, %v", md, err)
	}
	if _, err := tokenvalidator.Discover(context.Background(), nil, idp.URL()); err == nil {
		t.Error("an issuer without the trailing slash matched the document")
	}
}

func TestExplicitJWKSURL(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	v := newValidator(t, idp, func(c *tokenvalidator.JWKSConfig) { c.JWKSURL = idp.JWKSURL() })
	if _, err := v.Validate(context.Background(), mint(t, idp, aliceClaims(t, idp))); err != nil {
		t.Fatal(err)
	}
	if idp.Calls(idptest.EndpointDiscovery) != 0 {
		t.Error("discovery asked although the JWKS URL was given")
	}
}

func TestVerifyIgnoringExpiry(t *testing.T) {
	idp, v := newJWKS(t)
	expired := mint(t, idp, with(aliceClaims(t, idp), "exp", idp.Now().Add(-time.Hour).Unix()))
	p, err := v.VerifyIgnoringExpiry(context.Background(), expired)
	if err != nil || p.Subject != "auth0|alice" {
		t.Fatalf("VerifyIgnoringExpiry = %v, %v", p, err)
	}
	for name, tok := range map[string]string{
		"forged":         mint(t, idp, aliceClaims(t, idp), idptest.WithUnpublishedKey()),
		"wrong audience": mint(t, idp, with(aliceClaims(t, idp), "aud", "https://other")),
		"wrong issuer":   mint(t, idp, with(aliceClaims(t, idp), "iss", "https://evil/")),
	} {
		if _, err := v.VerifyIgnoringExpiry(context.Background(), tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestIssuers(t *testing.T) {
	dev, prod := idptest.Start(t, idptest.Demo()), idptest.Start(t, idptest.Demo())
	vDev, vProd := newValidator(t, dev), newValidator(t, prod)
	is, err := tokenvalidator.NewIssuers(vDev, vProd)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, idp := range map[string]*idptest.Server{"dev": dev, "prod": prod} {
		res, err := is.Validate(ctx, mint(t, idp, aliceClaims(t, idp)))
		if err != nil || res.Principal.Issuer != idp.Issuer() {
			t.Errorf("%s token: %v", name, err)
		}
	}
	// dev's key under prod's issuer name: routed to prod, whose keys refuse it.
	_, err = is.Validate(ctx, mint(t, dev, with(aliceClaims(t, dev), "iss", prod.Issuer()), idptest.WithHeader("kid", prod.SigningKeyID())))
	wantReason(t, err, claims.ReasonBadSignature)

	before := dev.Calls(idptest.EndpointJWKS) + prod.Calls(idptest.EndpointJWKS)
	_, err = is.Validate(ctx, mint(t, dev, with(aliceClaims(t, dev), "iss", "https://unknown.example/"), idptest.WithUnpublishedKey()))
	wantReason(t, err, claims.ReasonIssuer)
	_, err = is.Validate(ctx, "not.a.jwt")
	wantReason(t, err, claims.ReasonMalformed)
	if after := dev.Calls(idptest.EndpointJWKS) + prod.Calls(idptest.EndpointJWKS); after != before {
		t.Error("an unknown issuer caused a network call")
	}
	if _, err := tokenvalidator.NewIssuers(vDev, vDev); err == nil {
		t.Error("the same issuer twice was accepted")
	}
}

// TestValidateLocal: ValidateLocal answers as Validate does — the
// Principal, or the same rejection — whenever the token's key is held, and
// ErrNotLocal, without a fetch, when its kid is unknown; Issuers and Auto
// pass it on, and Auto answers ErrNotLocal for a validator that is no
// LocalValidator.
func TestValidateLocal(t *testing.T) {
	idp, v := newJWKS(t)
	ctx := context.Background()
	c := aliceClaims(t, idp)
	expired := aliceClaims(t, idp)
	expired["exp"] = idp.Now().Add(-time.Hour).Unix()
	is, err := tokenvalidator.NewIssuers(newValidator(t, idp))
	if err != nil {
		t.Fatal(err)
	}
	for name, lv := range map[string]tokenvalidator.LocalValidator{
		"JWKS": v, "Issuers": is, "Auto": tokenvalidator.Auto{JWT: v},
	} {
		t.Run(name, func(t *testing.T) {
			for _, tok := range []string{mint(t, idp, c), mint(t, idp, expired), mint(t, idp, c, idptest.WithHeader("typ", "id+jwt"))} {
				want, wantErr := lv.Validate(ctx, tok)
				got, err := lv.ValidateLocal(ctx, tok)
				wr, _ := claims.ReasonOf(wantErr)
				gr, _ := claims.ReasonOf(err)
				if (err == nil) != (wantErr == nil) || gr != wr || err == nil && got.Principal.Subject != want.Principal.Subject {
					t.Errorf("ValidateLocal: %v, %v; Validate: %v, %v", got.Principal, err, want.Principal, wantErr)
				}
			}
			fetches := idp.Calls(idptest.EndpointJWKS)
			if _, err := lv.ValidateLocal(ctx, mint(t, idp, c, unknownKey(t)...)); !errors.Is(err, tokenvalidator.ErrNotLocal) {
				t.Errorf("an unknown kid: %v, want ErrNotLocal", err)
			}
			if n := idp.Calls(idptest.EndpointJWKS) - fetches; n != 0 {
				t.Errorf("ValidateLocal fetched the key set %d times", n)
			}
		})
	}
	opaque := tokenvalidator.Auto{JWT: v, Opaque: newIntrospection(t, idp)}
	if _, err := opaque.ValidateLocal(ctx, idp.OpaqueToken(c)); !errors.Is(err, tokenvalidator.ErrNotLocal) {
		t.Errorf("an opaque token: %v, want ErrNotLocal", err)
	}
}
