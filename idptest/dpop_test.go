package idptest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/idptest"
)

// postDPoP posts a token request with the DPoP headers given (none, one
// or several).
func postDPoP(t testing.TB, idp *idptest.Server, f url.Values, proofs ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, idp.TokenURL(), strings.NewReader(f.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return do(t, http.DefaultClient, req)
}

// tokenProof is key's proof for a token request to idp, at idp's clock.
func tokenProof(t testing.TB, idp *idptest.Server, key *idptest.DPoPKey, opts ...idptest.ProofOption) string {
	t.Helper()
	opts = append([]idptest.ProofOption{idptest.WithProofClaim("iat", idp.Now().Unix())}, opts...)
	p, err := key.Proof(http.MethodPost, idp.TokenURL(), "", "", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newKey(t testing.TB, alg string) *idptest.DPoPKey {
	t.Helper()
	k, err := idptest.NewDPoPKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// cnfJKT returns the cnf.jkt of a JWT access token, or "".
func cnfJKT(t testing.TB, tok string) string {
	t.Helper()
	_, payload := decode(t, tok)
	cnf, _ := payload["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	return jkt
}

// TestDPoPBoundTokens: every grant, asked with a proof, gives a token bound
// to the proof's key (cnf.jkt, token_type DPoP); asked without, a bearer
// token as before.
func TestDPoPBoundTokens(t *testing.T) {
	idp := start(t)
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256", "ES384"} {
		key := newKey(t, alg)
		t.Run(alg, func(t *testing.T) {
			code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "venue-app", Username: "alice", Audience: api,
				Scopes: []string{"openid", "offline_access", "read:venues"}})
			if err != nil {
				t.Fatal(err)
			}
			grants := map[string]url.Values{
				"password": aliceLogin,
				"client_credentials": form("grant_type", "client_credentials", "client_id", "venue-worker",
					"client_secret", "venue-worker-secret", "audience", api),
				"authorization_code": form("grant_type", "authorization_code", "code", code,
					"client_id", "venue-app", "client_secret", "venue-app-secret"),
			}
			for name, f := range grants {
				a := postDPoP(t, idp, f, tokenProof(t, idp, key))
				if a.status != http.StatusOK || a.str("token_type") != "DPoP" {
					t.Fatalf("%s: %d %s", name, a.status, a.raw)
				}
				verify(t, idp, a.str("access_token"))
				if got := cnfJKT(t, a.str("access_token")); got != key.Thumbprint() {
					t.Errorf("%s: cnf.jkt = %q, want the key's thumbprint %q", name, got, key.Thumbprint())
				}
				if f.Get("grant_type") == "password" {
					// A refresh with a proof gives a bound token too.
					r := postDPoP(t, idp, form("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"),
						"client_id", "venue-app", "client_secret", "venue-app-secret"), tokenProof(t, idp, key))
					if r.status != http.StatusOK || r.str("token_type") != "DPoP" || cnfJKT(t, r.str("access_token")) != key.Thumbprint() {
						t.Errorf("refresh: %d %s", r.status, r.raw)
					}
				}
			}
		})
	}
	a := postDPoP(t, idp, aliceLogin)
	if a.str("token_type") != "Bearer" || cnfJKT(t, a.str("access_token")) != "" {
		t.Errorf("without a proof: token_type %q, cnf.jkt %q", a.str("token_type"), cnfJKT(t, a.str("access_token")))
	}
}

// TestDPoPBoundOpaqueToken: an opaque token is bound too, and introspection
// says so (RFC 9449 §6.2).
func TestDPoPBoundOpaqueToken(t *testing.T) {
	idp := start(t)
	key := newKey(t, "ES256")
	a := postDPoP(t, idp, with(aliceLogin, "audience", ""), tokenProof(t, idp, key))
	if a.status != http.StatusOK || a.str("token_type") != "DPoP" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	in := introspect(t, idp, a.str("access_token"))
	cnf, _ := in.body["cnf"].(map[string]any)
	if in.str("token_type") != "DPoP" || cnf["jkt"] != key.Thumbprint() {
		t.Errorf("introspection: %s", in.raw)
	}
}

// TestDPoPProofRefusals: a token request whose proof fails a check of RFC
// 9449 §4.3 is refused with invalid_dpop_proof, and nothing is issued.
func TestDPoPProofRefusals(t *testing.T) {
	idp := start(t)
	key, other := newKey(t, "ES256"), newKey(t, "ES256")
	now := idp.Now().Unix()
	used := tokenProof(t, idp, key)
	if a := postDPoP(t, idp, aliceLogin, used); a.status != http.StatusOK {
		t.Fatalf("first use: %d %s", a.status, a.raw)
	}
	for name, proofs := range map[string][]string{
		"two headers":     {tokenProof(t, idp, key), tokenProof(t, idp, key)},
		"not a JWS":       {"not.a.proof"},
		"replayed jti":    {used},
		"typ JWT":         {tokenProof(t, idp, key, idptest.WithProofHeader("typ", "JWT"))},
		"alg none":        {tokenProof(t, idp, key, idptest.WithProofHeader("alg", "none"))},
		"alg HS256":       {tokenProof(t, idp, key, idptest.WithProofHeader("alg", "HS256"))},
		"no jwk":          {tokenProof(t, idp, key, idptest.WithProofHeader("jwk", nil))},
		"private jwk":     {tokenProof(t, idp, key, idptest.WithProofHeader("jwk", key.PrivateJWK()))},
		"another key":     {tokenProof(t, idp, key, idptest.WithProofHeader("jwk", other.PublicJWK()))},
		"htm GET":         {tokenProof(t, idp, key, idptest.WithProofClaim("htm", "GET"))},
		"htu elsewhere":   {tokenProof(t, idp, key, idptest.WithProofClaim("htu", idp.URL()+"/oauth/revoke"))},
		"no jti":          {tokenProof(t, idp, key, idptest.WithProofClaim("jti", nil))},
		"iat old":         {tokenProof(t, idp, key, idptest.WithProofClaim("iat", now-120))},
		"iat future":      {tokenProof(t, idp, key, idptest.WithProofClaim("iat", now+120))},
		"iat as a string": {tokenProof(t, idp, key, idptest.WithProofClaim("iat", "1"))},
	} {
		a := postDPoP(t, idp, aliceLogin, proofs...)
		if a.status != http.StatusBadRequest || a.str("error") != "invalid_dpop_proof" || a.str("access_token") != "" {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
		}
	}
	// htu is compared normalized: case, default port, query.
	u, _ := url.Parse(idp.TokenURL())
	loose := "HTTP://" + strings.ToUpper(u.Hostname()) + ":" + u.Port() + u.Path + "?x=1"
	if a := postDPoP(t, idp, aliceLogin, tokenProof(t, idp, key, idptest.WithProofClaim("htu", loose))); a.status != http.StatusOK {
		t.Errorf("htu %q: %d %s", loose, a.status, a.raw)
	}
}

// TestDPoPBoundRefreshToken: a public client's refresh token is bound to
// the key of the proof it was issued with, and refreshes only with a proof
// of that key (RFC 9449 §5); a confidential client's is not bound.
func TestDPoPBoundRefreshToken(t *testing.T) {
	idp := start(t, func(c *idptest.Config) {
		c.Clients = append(c.Clients, idptest.Client{ID: "venue-spa", Name: "Venue SPA", Kind: idptest.ClientFirstParty,
			Grants: []string{"authorization_code", "refresh_token"}})
	})
	key, other := newKey(t, "ES256"), newKey(t, "EdDSA")
	code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "venue-spa", Username: "alice", Audience: api,
		Scopes: []string{"offline_access", "read:venues"}, CodeChallenge: idptest.S256Challenge("verifier-verifier-verifier-verifier-verifier"), CodeChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	a := postDPoP(t, idp, form("grant_type", "authorization_code", "code", code, "client_id", "venue-spa",
		"code_verifier", "verifier-verifier-verifier-verifier-verifier"), tokenProof(t, idp, key))
	if a.status != http.StatusOK || a.str("refresh_token") == "" {
		t.Fatalf("code exchange: %d %s", a.status, a.raw)
	}
	refresh := form("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"), "client_id", "venue-spa")
	for name, proofs := range map[string][]string{"no proof": nil, "another key": {tokenProof(t, idp, other)}} {
		if r := postDPoP(t, idp, refresh, proofs...); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	r := postDPoP(t, idp, refresh, tokenProof(t, idp, key))
	if r.status != http.StatusOK || cnfJKT(t, r.str("access_token")) != key.Thumbprint() {
		t.Fatalf("with the key: %d %s", r.status, r.raw)
	}
	// The rotated refresh token is bound as well.
	next := with(refresh, "refresh_token", r.str("refresh_token"))
	if r := postDPoP(t, idp, next, tokenProof(t, idp, other)); r.status != http.StatusBadRequest {
		t.Errorf("rotated token with another key: %d %s", r.status, r.raw)
	}

	// venue-app is confidential: its refresh token is not bound.
	c := postDPoP(t, idp, aliceLogin, tokenProof(t, idp, key))
	if r := postDPoP(t, idp, form("grant_type", "refresh_token", "refresh_token", c.str("refresh_token"),
		"client_id", "venue-app", "client_secret", "venue-app-secret")); r.status != http.StatusOK || r.str("token_type") != "Bearer" {
		t.Errorf("confidential client's refresh without a proof: %d %s", r.status, r.raw)
	}
}

func TestDiscoveryListsDPoPAlgorithms(t *testing.T) {
	idp := start(t)
	d := get(t, idp.DiscoveryURL(), "")
	if algs, _ := d.body["dpop_signing_alg_values_supported"].([]any); len(algs) == 0 {
		t.Errorf("discovery: %s", d.raw)
	}
}
