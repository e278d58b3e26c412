package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/internal/quickstart"
)

// send makes a request with the Authorization header given ("DPoP …" or
// "Bearer …", or none when "") and a DPoP header when proof is set.
func send(t *testing.T, method, u, authorization, proof string, form url.Values) (int, map[string]any) {
	t.Helper()
	var req *http.Request
	if form != nil {
		req, _ = http.NewRequest(method, u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, u, nil)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

// machineToken gets a client-credentials token from the token endpoint at
// tokenURL, bound to key unless it is nil.
func machineToken(t *testing.T, tokenURL string, key *idptest.DPoPKey) string {
	t.Helper()
	proof := ""
	if key != nil {
		proof, _ = key.Proof(http.MethodPost, tokenURL, "", "")
	}
	status, body := send(t, http.MethodPost, tokenURL, "", proof, url.Values{"grant_type": {"client_credentials"},
		"client_id": {"venue-worker"}, "client_secret": {"venue-worker-secret"}, "audience": {idptest.DemoAPI}})
	if want := map[bool]string{true: "DPoP", false: "Bearer"}[key != nil]; status != 200 || body["token_type"] != want {
		t.Fatalf("token endpoint: %d %v", status, body)
	}
	return body["access_token"].(string)
}

// TestDPoP runs the venue with DPOP=required and then allowed, behind a
// PUBLIC_URL, with a shared memcached: a bound token works with proofs
// naming the public URL, once each; as a bearer token it does not.
func TestDPoP(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	mc := memcachedtest.Start(t)
	key, err := idptest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	bound, bearer := machineToken(t, idp.TokenURL(), key), machineToken(t, idp.TokenURL(), nil)
	for _, mode := range []string{"required", "allowed"} {
		t.Run(mode, func(t *testing.T) {
			p := quickstart.Start(t, run, map[string]string{
				"ISSUER_URL": idp.Issuer(), "AUDIENCE": idptest.DemoAPI, "DPOP": mode,
				"PUBLIC_URL":       "https://venue.example/api",
				"MEMCACHE_SERVERS": mc.Addr(), "AUTHGATE_SECRET": "a secret of at least thirty-two bytes",
			})
			api, out := p.URL, p.Output()
			if !strings.Contains(out, "DPoP "+mode+": each proof's htu must be https://venue.example/api followed") {
				t.Errorf("printed:\n%s", out)
			}
			proof, _ := key.Proof(http.MethodGet, "https://venue.example/api/v1/venues", bound, "")
			if status, body := send(t, http.MethodGet, api+"/v1/venues", "DPoP "+bound, proof, nil); status != 200 {
				t.Fatalf("bound token with a proof: %d %v", status, body)
			}
			for name, tc := range map[string]struct {
				authorization, proof string
				want                 int
			}{
				"the same proof again":                 {"DPoP " + bound, proof, 401},
				"a proof naming the listen address":    {"DPoP " + bound, must(key.Proof(http.MethodGet, api+"/v1/venues", bound, "")), 401},
				"the bound token as a bearer token":    {"Bearer " + bound, "", 401},
				"a bearer token":                       {"Bearer " + bearer, "", map[string]int{"required": 401, "allowed": 200}[mode]},
				"no token":                             {"", "", 401},
				"a fresh proof for the public address": {"DPoP " + bound, must(key.Proof(http.MethodGet, "https://venue.example/api/v1/venues", bound, "")), 200},
			} {
				if status, body := send(t, http.MethodGet, api+"/v1/venues", tc.authorization, tc.proof, nil); status != tc.want {
					t.Errorf("%s: %d %v, want %d", name, status, body, tc.want)
				}
			}
		})
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// embeddedProvider is the embedded provider's URL as the program prints it.
var embeddedProvider = regexp.MustCompile(`Embedded identity provider \(idptest\) at (\S+),`)

// TestDPoPDefaultPublicURL: with the embedded provider and no PUBLIC_URL,
// proofs name the listen address. An unknown DPOP value is refused.
func TestDPoPDefaultPublicURL(t *testing.T) {
	p := quickstart.Start(t, run, map[string]string{"DPOP": "allowed"})
	api, out := p.URL, p.Output()
	m := embeddedProvider.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no provider URL printed:\n%s", out)
	}
	key, _ := idptest.NewDPoPKey("EdDSA")
	bound := machineToken(t, m[1]+"/oauth/token", key)
	proof, _ := key.Proof(http.MethodGet, api+"/v1/venues", bound, "")
	if status, body := send(t, http.MethodGet, api+"/v1/venues", "DPoP "+bound, proof, nil); status != 200 {
		t.Fatalf("proof naming %s: %d %v", api, status, body)
	}
	if _, err := readSettings(func(k string) string { return map[string]string{"DPOP": "on"}[k] }); err == nil {
		t.Error("DPOP=on accepted")
	}
}
