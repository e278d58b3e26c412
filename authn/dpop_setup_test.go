package authn_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// TestSetupDPoPSettings: SetupConfig.DPoPProofs reaches the proofs' checks
// (server nonces: a proof without one is answered use_dpop_nonce with a
// nonce that then works), and SetupConfig.DPoPReplay the memory of proofs
// seen (RequireShared: 503 while memcached is out, where the default falls
// back on the process's memory and accepts).
func TestSetupDPoPSettings(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	key, err := idptest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	c, err := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI})
	if err != nil {
		t.Fatal(err)
	}
	c["cnf"] = map[string]any{"jkt": key.Thumbprint()}
	token, err := idp.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	const public = "https://api.venue.example"
	send := func(g *authn.Gate, nonce string) *httptest.ResponseRecorder {
		t.Helper()
		proof, err := key.Proof(http.MethodGet, public+"/v1/venues", token, nonce)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "http://10.0.0.7:8080/v1/venues", nil)
		req.Header.Set("Authorization", "DPoP "+token)
		req.Header.Set("DPoP", proof)
		rec := httptest.NewRecorder()
		g.Middleware.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
		return rec
	}

	t.Run("nonces", func(t *testing.T) {
		g := setup(t, authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI, DPoP: middleware.DPoPRequired, PublicURL: public,
			DPoPProofs: tokenvalidator.DPoPConfig{NonceSecret: []byte(secret)}})
		rec := send(g, "")
		nonce := rec.Header().Get("DPoP-Nonce")
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="use_dpop_nonce"`) || nonce == "" {
			t.Fatalf("a proof without a nonce: %d %q, nonce %q", rec.Code, rec.Header().Get("WWW-Authenticate"), nonce)
		}
		if rec := send(g, nonce); rec.Code != http.StatusOK {
			t.Errorf("a proof with the server's nonce: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	})

	t.Run("replays across instances with memcached out", func(t *testing.T) {
		mc := memcachedtest.Start(t)
		addr := mc.Addr()
		mc.Stop()
		for _, tc := range []struct {
			name   string
			replay cache.ReplayConfig
			want   int
		}{
			{"the default falls back on this process", cache.ReplayConfig{}, http.StatusOK},
			{"RequireShared", cache.ReplayConfig{RequireShared: true}, http.StatusServiceUnavailable},
		} {
			g := setup(t, authn.SetupConfig{Issuer: idp.Issuer(), Audience: idptest.DemoAPI, DPoP: middleware.DPoPRequired, PublicURL: public,
				MemcacheServers: []string{addr}, Secret: []byte(secret), DPoPReplay: tc.replay})
			if rec := send(g, ""); rec.Code != tc.want {
				t.Errorf("%s: %d %q, want %d", tc.name, rec.Code, rec.Header().Get("WWW-Authenticate"), tc.want)
			}
		}
	})
}
