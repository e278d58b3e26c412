package tokenvalidator_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/tokenvalidator"
)

const api = "https://api.venue.example"

// newJWKS starts a demo provider and a validator for it that reads the
// provider's clock.
func newJWKS(t testing.TB, mutate ...func(*tokenvalidator.JWKSConfig)) (*idptest.Server, *tokenvalidator.JWKS) {
	t.Helper()
	idp := idptest.Start(t, idptest.Demo())
	return idp, newValidator(t, idp, mutate...)
}

func newValidator(t testing.TB, idp *idptest.Server, mutate ...func(*tokenvalidator.JWKSConfig)) *tokenvalidator.JWKS {
	t.Helper()
	cfg := tokenvalidator.JWKSConfig{
		Issuer:    idp.Issuer(),
		Audiences: []string{api},
		Mapping:   claims.Mapping{FirstPartyClients: []string{"venue-app"}},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := tokenvalidator.NewJWKS(context.Background(), cfg, tokenvalidator.WithClock(idp.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func aliceClaims(t testing.TB, idp *idptest.Server) map[string]any {
	t.Helper()
	c, err := idp.UserClaims(idptest.ClaimsRequest{
		Username: "alice", ClientID: "venue-app", Audience: api,
		Scopes: []string{"openid", "read:venues", "book:venues"}, Organization: "org_acme",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mint(t testing.TB, idp *idptest.Server, c map[string]any, opts ...idptest.MintOption) string {
	t.Helper()
	tok, err := idp.Mint(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// with returns a copy of c with the given claims set (nil deletes).
func with(c map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// wantRetry fails unless err is an unavailable answer that says when to
// retry, and returns the wait.
func wantRetry(t *testing.T, err error) time.Duration {
	t.Helper()
	after, ok := claims.RetryAfterOf(err)
	if !ok || !errors.Is(err, claims.ErrUnavailable) || errors.Is(err, claims.ErrInvalidToken) {
		t.Fatalf("err = %v; want unavailable with a retry wait", err)
	}
	return after
}

func wantReason(t *testing.T, err error, want claims.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want rejection (%v)", want)
	}
	got, ok := claims.ReasonOf(err)
	if !ok {
		t.Fatalf("error %v is not an invalid-token error; want %v", err, want)
	}
	if got != want {
		t.Fatalf("reason = %v, want %v (%v)", got, want, err)
	}
	if errors.Is(err, claims.ErrUnavailable) {
		t.Fatalf("error %v also matches ErrUnavailable", err)
	}
}

func TestValidateAcceptsEveryAlgorithm(t *testing.T) {
	idp, v := newJWKS(t)
	// Publish every key first, as a provider publishes keys ahead of use:
	// the first unknown kid fetches them all at once.
	algs := []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}
	kids := map[string]string{}
	for _, alg := range algs {
		kid, err := idp.AddKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		kids[alg] = kid
	}
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			res, err := v.Validate(context.Background(), mint(t, idp, aliceClaims(t, idp), idptest.WithKeyID(kids[alg])))
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p := res.Principal
			if p.Subject != "auth0|alice" || p.OrgID != "org_acme" || !p.HasScope("book:venues") || p.Kind != claims.KindUser {
				t.Errorf("principal = %+v", p)
			}
			if !res.CacheUntil.Equal(p.ExpiresAt) {
				t.Errorf("CacheUntil %v, want the token's exp %v", res.CacheUntil, p.ExpiresAt)
			}
		})
	}
}

// TestValidateTokensFromTheTokenEndpoint takes real grants over HTTP: the
// three kinds of caller.
func TestValidateTokensFromTheTokenEndpoint(t *testing.T) {
	idp, v := newJWKS(t)
	for _, tc := range []struct {
		name string
		form map[string]string
		kind claims.Kind
		azp  string
	}{
		{"user, password grant", map[string]string{"grant_type": "password", "username": "alice", "password": "alice-password",
			"client_id": "venue-app", "client_secret": "venue-app-secret", "audience": api, "scope": "openid read:venues", "organization": "org_acme"},
			claims.KindUser, "venue-app"},
		{"machine, client credentials", map[string]string{"grant_type": "client_credentials", "client_id": "venue-worker",
			"client_secret": "venue-worker-secret", "audience": api}, claims.KindMachine, "venue-worker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := tokenFromEndpoint(t, idp, tc.form)
			res, err := v.Validate(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if res.Principal.Kind != tc.kind || res.Principal.AuthorizedParty != tc.azp {
				t.Errorf("kind %v azp %q, want %v %q", res.Principal.Kind, res.Principal.AuthorizedParty, tc.kind, tc.azp)
			}
		})
	}
	t.Run("partner, authorization code", func(t *testing.T) {
		code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: "bob",
			RedirectURI: "https://partner.example/cb", Audience: api, Scopes: []string{"read:venues"}, Organization: "org_globex"})
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenFromEndpoint(t, idp, map[string]string{"grant_type": "authorization_code", "code": code,
			"redirect_uri": "https://partner.example/cb", "client_id": "partner-app", "client_secret": "partner-app-secret"})
		res, err := v.Validate(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if res.Principal.Kind != claims.KindDelegated || res.Principal.AuthorizedParty != "partner-app" {
			t.Errorf("principal = %+v, want a delegated call from partner-app", res.Principal)
		}
	})
}

func tokenFromEndpoint(t *testing.T, idp *idptest.Server, form map[string]string) string {
	t.Helper()
	vals := make(map[string][]string, len(form))
	for k, v := range form {
		vals[k] = []string{v}
	}
	resp, err := http.PostForm(idp.TokenURL(), vals)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token endpoint: %d %v %s", resp.StatusCode, err, body.Error)
	}
	return body.AccessToken
}

// TestRejects is the table of bad tokens: every one is refused, with the
// reason a caller can act on.
func TestRejects(t *testing.T) {
	idp, v := newJWKS(t)
	ctx := context.Background()
	good := aliceClaims(t, idp)
	now := idp.Now()
	// Tokens with unknown kids are 401 only when issued before the key set
	// was fetched; a fresh iat would be a possible rotation (503, see
	// TestUnknownKidAnswers).
	old := with(good, "iat", now.Add(-time.Hour).Unix())
	goodTok := mint(t, idp, good)
	parts := strings.Split(goodTok, ".")
	h, p, s := parts[0], parts[1], parts[2]

	rsaPub, _ := idp.PublicKey(idp.SigningKeyID())
	der, _ := x509.MarshalPKIXPublicKey(rsaPub)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	ecKID, _ := idp.AddKey("ES256")
	otherRSA, _ := idp.AddKey("RS256")
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	attackerJWKS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the validator fetched a key URL named by a token")
	}))
	defer attackerJWKS.Close()

	cases := []struct {
		name   string
		token  string
		reason claims.Reason
	}{
		{"empty", "", claims.ReasonMalformed},
		{"one segment", "abc", claims.ReasonMalformed},
		{"two segments", h + "." + p, claims.ReasonMalformed},
		{"four segments", goodTok + ".x", claims.ReasonMalformed},
		{"JWE shape (five segments)", h + "." + p + ".a.b." + s, claims.ReasonMalformed},
		{"empty header", "." + p + "." + s, claims.ReasonMalformed},
		{"empty payload", h + ".." + s, claims.ReasonMalformed},
		{"non-base64 characters", h + ".!!!." + s, claims.ReasonMalformed},
		{"padded base64", h + "=." + p + "." + s, claims.ReasonMalformed},
		{"standard base64 alphabet", strings.ReplaceAll(goodTok, "_", "/"), claims.ReasonMalformed},
		{"whitespace", " " + goodTok, claims.ReasonMalformed},
		{"header not JSON", b64("hello") + "." + p + "." + s, claims.ReasonMalformed},
		{"JSON serialization", `{"payload":"` + p + `"}`, claims.ReasonMalformed},
		{"tampered payload", h + "." + b64(strings.Replace(mustDecode(p), "auth0|alice", "auth0|carol", 1)) + "." + s, claims.ReasonBadSignature},
		{"payload of another token", h + "." + strings.Split(mint(t, idp, with(good, "sub", "auth0|bob")), ".")[1] + "." + s, claims.ReasonBadSignature},
		{"stripped signature", h + "." + p + ".", claims.ReasonBadSignature},
		{"truncated signature", h + "." + p + "." + s[:len(s)-2], claims.ReasonBadSignature},
		{"truncated signature, non-canonical base64", h + "." + p + "." + s[:len(s)-1], claims.ReasonMalformed},
		{"alg none", mint(t, idp, good, idptest.WithoutSignature()), claims.ReasonAlgorithm},
		{"alg None", mint(t, idp, good, idptest.WithoutSignature(), idptest.WithHeader("alg", "None")), claims.ReasonAlgorithm},
		{"alg missing", mint(t, idp, good, idptest.WithHeader("alg", nil)), claims.ReasonAlgorithm},
		{"HS256 signed with the JWKS public key (PEM)", mint(t, idp, good, idptest.WithSigner("HS256", pubPEM), idptest.WithHeader("kid", idp.SigningKeyID())), claims.ReasonAlgorithm},
		{"HS256 signed with the public key (DER)", mint(t, idp, good, idptest.WithSigner("HS256", der), idptest.WithHeader("kid", idp.SigningKeyID())), claims.ReasonAlgorithm},
		{"header says RS512, key is RS256", mint(t, idp, good, idptest.WithHeader("alg", "RS512")), claims.ReasonAlgorithm},
		{"header says PS256, key is RS256", mint(t, idp, good, idptest.WithHeader("alg", "PS256")), claims.ReasonAlgorithm},
		{"header says ES256, key is RSA", mint(t, idp, good, idptest.WithHeader("alg", "ES256")), claims.ReasonAlgorithm},
		{"kid of the EC key, RSA signature", mint(t, idp, good, idptest.WithHeader("kid", ecKID)), claims.ReasonAlgorithm},
		{"kid of another RSA key", mint(t, idp, good, idptest.WithHeader("kid", otherRSA)), claims.ReasonBadSignature},
		{"unpublished key", mint(t, idp, old, idptest.WithUnpublishedKey()), claims.ReasonUnknownKey},
		{"no kid", mint(t, idp, good, idptest.WithHeader("kid", nil)), claims.ReasonUnknownKey},
		{"jku to the attacker's keys", mint(t, idp, old, idptest.WithSigner("RS256", attacker), idptest.WithHeader("kid", "attacker"), idptest.WithHeader("jku", attackerJWKS.URL)), claims.ReasonUnknownKey},
		{"x5u to the attacker", mint(t, idp, old, idptest.WithSigner("RS256", attacker), idptest.WithHeader("kid", "attacker"), idptest.WithHeader("x5u", attackerJWKS.URL)), claims.ReasonUnknownKey},
		{"embedded jwk of the attacker", mint(t, idp, old, idptest.WithSigner("RS256", attacker), idptest.WithHeader("kid", "attacker"), idptest.WithHeader("jwk", rsaJWK(&attacker.PublicKey))), claims.ReasonUnknownKey},
		{"crit header", mint(t, idp, good, idptest.WithHeader("crit", []string{"exp"}), idptest.WithHeader("exp", 1)), claims.ReasonMalformed},
		{"b64 false", mint(t, idp, good, idptest.WithHeader("b64", false), idptest.WithHeader("crit", []string{"b64"})), claims.ReasonMalformed},
		{"nested JWT (cty)", mint(t, idp, good, idptest.WithHeader("cty", "JWT")), claims.ReasonType},
		{"typ of a DPoP proof", mint(t, idp, good, idptest.WithHeader("typ", "dpop+jwt")), claims.ReasonType},
		{"typ of a logout token", mint(t, idp, good, idptest.WithHeader("typ", "logout+jwt")), claims.ReasonType},
		{"expired", mint(t, idp, with(good, "exp", now.Add(-time.Minute).Unix())), claims.ReasonExpired},
		{"expired long ago", mint(t, idp, with(good, "exp", 1000)), claims.ReasonExpired},
		{"no exp", mint(t, idp, with(good, "exp", nil)), claims.ReasonMalformed},
		{"exp as a string", mint(t, idp, with(good, "exp", "9999999999")), claims.ReasonMalformed},
		{"exp as RFC 3339", mint(t, idp, with(good, "exp", "2099-01-01T00:00:00Z")), claims.ReasonMalformed},
		{"nbf in the future", mint(t, idp, with(good, "nbf", now.Add(time.Hour).Unix())), claims.ReasonNotYetValid},
		{"iat in the future", mint(t, idp, with(good, "iat", now.Add(time.Hour).Unix())), claims.ReasonNotYetValid},
		{"iat as a string", mint(t, idp, with(good, "iat", "123")), claims.ReasonMalformed},
		{"wrong issuer", mint(t, idp, with(good, "iss", "https://evil.example/")), claims.ReasonIssuer},
		{"issuer without the trailing slash", mint(t, idp, with(good, "iss", strings.TrimSuffix(idp.Issuer(), "/"))), claims.ReasonIssuer},
		{"no issuer", mint(t, idp, with(good, "iss", nil)), claims.ReasonIssuer},
		{"wrong audience", mint(t, idp, with(good, "aud", "https://other.api")), claims.ReasonAudience},
		{"audience list without ours", mint(t, idp, with(good, "aud", []string{"https://other.api", idp.Issuer() + "userinfo"})), claims.ReasonAudience},
		{"no audience", mint(t, idp, with(good, "aud", nil)), claims.ReasonAudience},
		{"aud as a number", mint(t, idp, with(good, "aud", 5)), claims.ReasonMalformed},
		{"no sub", mint(t, idp, with(good, "sub", nil)), claims.ReasonMalformed},
		{"sub as a number", mint(t, idp, with(good, "sub", 42)), claims.ReasonMalformed},
		{"permissions as a string", mint(t, idp, with(good, "permissions", "book:venues")), claims.ReasonMalformed},
		{"azp and client_id disagree", mint(t, idp, with(good, "client_id", "partner-app")), claims.ReasonMalformed},
		{"payload is a JWT (nested, no cty)", h + "." + b64(goodTok) + "." + s, claims.ReasonBadSignature},
		{"oversized", mint(t, idp, with(good, "https://venue.example/pad", strings.Repeat("x", 17<<10))), claims.ReasonTooLarge},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Validate(ctx, tc.token)
			wantReason(t, err, tc.reason)
			if strings.Contains(err.Error(), tc.token) && tc.token != "" {
				t.Errorf("the error message contains the token")
			}
		})
	}
}

func mustDecode(seg string) string {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func rsaJWK(pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": "attacker",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString([]byte{1, 0, 1})}
}
