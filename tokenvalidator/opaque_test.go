package tokenvalidator_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

func opaqueFor(t *testing.T, idp *idptest.Server, username string) string {
	t.Helper()
	c := aliceClaims(t, idp)
	if username != "alice" {
		c = with(c, "sub", "auth0|"+username)
	}
	return idp.OpaqueToken(c)
}

func newIntrospection(t *testing.T, idp *idptest.Server, mutate ...func(*tokenvalidator.IntrospectionConfig)) *tokenvalidator.Introspection {
	t.Helper()
	cfg := tokenvalidator.IntrospectionConfig{
		URL: idp.IntrospectionURL(), ClientID: "venue-app", ClientSecret: "venue-app-secret",
		Issuer: idp.Issuer(), Audiences: []string{api}, Timeout: 500 * time.Millisecond,
		Mapping: claims.Mapping{FirstPartyClients: []string{"venue-app"}},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := tokenvalidator.NewIntrospection(cfg, tokenvalidator.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func revoke(t *testing.T, idp *idptest.Server, token string) {
	t.Helper()
	resp, err := http.PostForm(idp.RevocationURL(), url.Values{"token": {token}, "client_id": {"venue-app"}, "client_secret": {"venue-app-secret"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestIntrospection(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	v := newIntrospection(t, idp)
	ctx := context.Background()

	tok := opaqueFor(t, idp, "alice")
	res, err := v.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Principal
	if p.Subject != "auth0|alice" || p.AuthorizedParty != "venue-app" || !p.HasScope("book:venues") || p.Kind != claims.KindUser {
		t.Errorf("principal = %+v", p)
	}
	if res.CacheUntil.After(idp.Now().Add(time.Minute)) || res.CacheUntil.After(p.ExpiresAt) {
		t.Errorf("CacheUntil %v outlives the TTL or the token's exp %v", res.CacheUntil, p.ExpiresAt)
	}

	_, err = v.Validate(ctx, "unknown-opaque-token")
	wantReason(t, err, claims.ReasonInactive)

	revoked := opaqueFor(t, idp, "alice")
	revoke(t, idp, revoked)
	_, err = v.Validate(ctx, revoked)
	wantReason(t, err, claims.ReasonInactive)

	expiring := opaqueFor(t, idp, "alice")
	idp.Advance(25 * time.Hour)
	_, err = v.Validate(ctx, expiring)
	wantReason(t, err, claims.ReasonInactive)

	_, err = v.Validate(ctx, "bad token with spaces")
	wantReason(t, err, claims.ReasonMalformed)
}

func TestIntrospectionChecksAudience(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	v := newIntrospection(t, idp, func(c *tokenvalidator.IntrospectionConfig) { c.Audiences = []string{"https://other.api"} })
	_, err := v.Validate(context.Background(), opaqueFor(t, idp, "alice"))
	wantReason(t, err, claims.ReasonAudience)
}

func TestIntrospectionProviderDown(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	tok := opaqueFor(t, idp, "alice")
	for _, fault := range []idptest.Fault{idptest.FaultError, idptest.FaultUnavailable, idptest.FaultDrop, idptest.FaultHang} {
		idp.SetFault(idptest.EndpointIntrospect, fault)
		_, err := newIntrospection(t, idp).Validate(context.Background(), tok)
		if !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
			t.Errorf("fault %v: %v, want unavailable only", fault, err)
		}
	}
	idp.SetFault(idptest.EndpointIntrospect, idptest.FaultNone)
	bad := newIntrospection(t, idp, func(c *tokenvalidator.IntrospectionConfig) { c.ClientSecret = "wrong" })
	if _, err := bad.Validate(context.Background(), tok); !errors.Is(err, claims.ErrUnavailable) {
		t.Errorf("wrong client secret: %v, want unavailable (our configuration, not the token)", err)
	}
	inBody := newIntrospection(t, idp, func(c *tokenvalidator.IntrospectionConfig) { c.ClientAuthInBody = true })
	if _, err := inBody.Validate(context.Background(), tok); err != nil {
		t.Errorf("client_secret_post: %v", err)
	}
}

func TestUserInfo(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	idp.SetNow(time.Now())
	v, err := tokenvalidator.NewUserInfo(tokenvalidator.UserInfoConfig{URL: idp.UserinfoURL(), Issuer: idp.Issuer(), Timeout: 500 * time.Millisecond},
		tokenvalidator.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := opaqueFor(t, idp, "alice")
	res, err := v.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if res.Principal.Subject != "auth0|alice" || res.Principal.Issuer != idp.Issuer() {
		t.Errorf("principal = %+v", res.Principal)
	}
	if want := idp.Now().Add(time.Minute); !res.CacheUntil.Equal(want) {
		t.Errorf("CacheUntil = %v, want %v", res.CacheUntil, want)
	}
	_, err = v.Validate(ctx, "unknown")
	wantReason(t, err, claims.ReasonInactive)

	revoked := opaqueFor(t, idp, "alice")
	revoke(t, idp, revoked)
	_, err = v.Validate(ctx, revoked)
	wantReason(t, err, claims.ReasonInactive)

	for _, fault := range []idptest.Fault{idptest.FaultError, idptest.FaultUnavailable, idptest.FaultDrop, idptest.FaultHang} {
		idp.SetFault(idptest.EndpointUserinfo, fault)
		if _, err := v.Validate(ctx, tok); !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
			t.Errorf("fault %v: %v, want unavailable only", fault, err)
		}
	}
}

func TestAuto(t *testing.T) {
	idp, jwks := newJWKS(t)
	a := tokenvalidator.Auto{JWT: jwks, Opaque: newIntrospection(t, idp)}
	ctx := context.Background()
	if _, err := a.Validate(ctx, mint(t, idp, aliceClaims(t, idp))); err != nil {
		t.Errorf("JWT: %v", err)
	}
	idp.ResetCalls()
	if _, err := a.Validate(ctx, opaqueFor(t, idp, "alice")); err != nil {
		t.Errorf("opaque: %v", err)
	}
	if idp.Calls(idptest.EndpointIntrospect) != 1 {
		t.Error("the opaque token did not go to introspection")
	}
	_, err := tokenvalidator.Auto{JWT: jwks}.Validate(ctx, "opaque")
	wantReason(t, err, claims.ReasonMalformed)
}

func TestLooksLikeJWT(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	for tok, want := range map[string]bool{
		mint(t, idp, aliceClaims(t, idp)):    true,
		"abc":                                false,
		"a.b.c":                              false, // "a" does not decode to a JSON object
		b64("{}") + ".e30.":                  true,
		b64("[1]") + ".e30.":                 false,
		idp.OpaqueToken(aliceClaims(t, idp)): false,
	} {
		if got := tokenvalidator.LooksLikeJWT(tok); got != want {
			t.Errorf("LooksLikeJWT(%.20q…) = %v", tok, got)
		}
	}
}
