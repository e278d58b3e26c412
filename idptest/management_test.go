package idptest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// withManager adds a machine client with every Management API scope, and
// one with none.
func withManager(c *idptest.Config) {
	c.Clients = append(c.Clients,
		idptest.Client{ID: "manager", Secret: "manager-secret", Kind: idptest.ClientMachine, Grants: []string{"client_credentials"},
			ManagementScopes: []string{"read:users", "update:users_app_metadata", "read:grants", "delete:grants"}},
		idptest.Client{ID: "reader", Secret: "reader-secret", Kind: idptest.ClientMachine, Grants: []string{"client_credentials"},
			ManagementScopes: []string{"read:users"}})
}

func managementToken(t *testing.T, idp *idptest.Server, client string) string {
	t.Helper()
	a := grant(t, idp, form("grant_type", "client_credentials", "client_id", client, "client_secret", client+"-secret",
		"audience", idp.ManagementAudience()))
	return a.str("access_token")
}

// call sends a JSON body (when not nil) with a bearer token.
func call(t *testing.T, method, u, token string, body any) answer {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, http.DefaultClient, req)
}

func userURL(idp *idptest.Server, id string) string {
	return idp.ManagementURL() + "/users/" + url.PathEscape(id)
}

// TestManagementAppMetadata: PATCH merges top-level keys, replaces objects
// whole and deletes on null, as Auth0 does; GET reads it back.
func TestManagementAppMetadata(t *testing.T) {
	idp := start(t, withManager)
	tok := managementToken(t, idp, "manager")
	u := userURL(idp, "auth0|alice")
	if a := call(t, "GET", u, tok, nil); a.status != 200 || a.str("user_id") != "auth0|alice" || len(a.body["app_metadata"].(map[string]any)) != 0 {
		t.Fatalf("GET: %d %s", a.status, a.raw)
	}
	steps := []struct {
		patch map[string]any
		want  string
	}{
		{map[string]any{"a": 1, "obj": map[string]any{"x": 1, "y": 2}}, `{"a":1,"obj":{"x":1,"y":2}}`},
		{map[string]any{"b": "two", "obj": map[string]any{"z": 3}}, `{"a":1,"b":"two","obj":{"z":3}}`},
		{map[string]any{"a": nil, "missing": nil}, `{"b":"two","obj":{"z":3}}`},
	}
	for i, s := range steps {
		a := call(t, "PATCH", u, tok, map[string]any{"app_metadata": s.patch})
		if a.status != 200 {
			t.Fatalf("PATCH %d: %d %s", i, a.status, a.raw)
		}
		got, _ := json.Marshal(a.body["app_metadata"])
		if string(got) != s.want || string(idp.AppMetadata("auth0|alice")) != s.want {
			t.Errorf("after PATCH %d: %s (stored %s), want %s", i, got, idp.AppMetadata("auth0|alice"), s.want)
		}
	}
	if got, _ := json.Marshal(call(t, "GET", u, tok, nil).body["app_metadata"]); string(got) != steps[2].want {
		t.Errorf("GET after the PATCHes: %s", got)
	}
}

func TestManagementRefusals(t *testing.T) {
	idp := start(t, withManager)
	manager, reader := managementToken(t, idp, "manager"), managementToken(t, idp, "reader")
	user := grant(t, idp, aliceLogin).str("access_token")
	u := userURL(idp, "auth0|alice")
	for _, tc := range []struct {
		name, method, url, token string
		body                     any
		status                   int
	}{
		{"no token", "GET", u, "", nil, 401},
		{"a user's token for another API", "GET", u, user, nil, 401},
		{"forged", "GET", u, manager + "x", nil, 401},
		{"reader patches", "PATCH", u, reader, map[string]any{"app_metadata": map[string]any{"a": 1}}, 403},
		{"reader lists grants", "GET", idp.ManagementURL() + "/grants", reader, nil, 403},
		{"unknown user", "GET", userURL(idp, "auth0|nobody"), manager, nil, 404},
		{"other field", "PATCH", u, manager, map[string]any{"email": "x@example"}, 400},
		{"metadata not an object", "PATCH", u, manager, map[string]any{"app_metadata": 3}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := call(t, tc.method, tc.url, tc.token, tc.body); a.status != tc.status || a.body["statusCode"] != float64(tc.status) {
				t.Errorf("%d %s, want %d", a.status, a.raw, tc.status)
			}
		})
	}
	idp.RemoveUser("alice")
	if a := call(t, "GET", u, manager, nil); a.status != 404 {
		t.Errorf("a removed user: %d", a.status)
	}
}

// TestManagementGrants: an authorization code records the user's grant for
// the client; deleting it revokes the refresh tokens the user holds
// through that client, and only those.
func TestManagementGrants(t *testing.T) {
	idp := start(t, withManager)
	tok := managementToken(t, idp, "manager")
	partnerRT := codeLogin(t, idp, "partner-app", "alice")
	venueRT := codeLogin(t, idp, "venue-app", "alice")
	bobRT := codeLogin(t, idp, "partner-app", "bob")
	a := call(t, "GET", idp.ManagementURL()+"/grants?"+url.Values{"user_id": {"auth0|alice"}, "client_id": {"partner-app"}}.Encode(), tok, nil)
	var grants []map[string]any
	_ = json.Unmarshal([]byte(a.raw), &grants)
	if a.status != 200 || len(grants) != 1 || grants[0]["clientID"] != "partner-app" || grants[0]["user_id"] != "auth0|alice" || grants[0]["audience"] != api {
		t.Fatalf("grants: %d %s", a.status, a.raw)
	}
	if d := call(t, "DELETE", idp.ManagementURL()+"/grants/"+grants[0]["id"].(string), tok, nil); d.status != 204 {
		t.Fatalf("DELETE: %d %s", d.status, d.raw)
	}
	for rt, want := range map[string]idptest.RefreshState{partnerRT: idptest.RefreshRevoked, venueRT: idptest.RefreshActive, bobRT: idptest.RefreshActive} {
		if st := idp.RefreshTokenState(rt); st != want {
			t.Errorf("refresh token is %v, want %v", st, want)
		}
	}
	if a := post(t, idp.TokenURL(), form("grant_type", "refresh_token", "refresh_token", partnerRT, "client_id", "partner-app", "client_secret", "partner-app-secret")); a.str("error") != "invalid_grant" {
		t.Errorf("refreshing after the grant was deleted: %d %s", a.status, a.raw)
	}
	a = call(t, "GET", idp.ManagementURL()+"/grants?user_id="+url.QueryEscape("auth0|alice"), tok, nil)
	if _ = json.Unmarshal([]byte(a.raw), &grants); len(grants) != 1 || grants[0]["clientID"] != "venue-app" {
		t.Errorf("grants left: %s", a.raw)
	}
	if d := call(t, "DELETE", idp.ManagementURL()+"/grants/cgr_unknown", tok, nil); d.status != 204 {
		t.Errorf("DELETE of an unknown grant: %d", d.status)
	}
}

// codeLogin logs user in through client by authorization code with
// offline_access and returns the refresh token.
func codeLogin(t *testing.T, idp *idptest.Server, client, user string) string {
	t.Helper()
	code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: client, Username: user, Audience: api,
		Scopes: []string{"offline_access", "read:venues"}})
	if err != nil {
		t.Fatal(err)
	}
	return grant(t, idp, form("grant_type", "authorization_code", "code", code, "client_id", client, "client_secret", client+"-secret")).str("refresh_token")
}

// TestRateLimit: past the limit, 429 with Retry-After and Auth0's headers;
// the window passes in real time even with the provider's clock frozen.
func TestRateLimit(t *testing.T) {
	idp := start(t, withManager)
	tok := managementToken(t, idp, "manager")
	idp.SetRateLimit(idptest.EndpointManagement, 2, 1500*time.Millisecond)
	u := userURL(idp, "auth0|alice")
	for i := range 2 {
		if a := call(t, "GET", u, tok, nil); a.status != 200 || a.header.Get("X-RateLimit-Remaining") != strconv.Itoa(1-i) {
			t.Fatalf("request %d: %d remaining %q", i, a.status, a.header.Get("X-RateLimit-Remaining"))
		}
	}
	a := call(t, "GET", u, tok, nil)
	if a.status != 429 || a.body["errorCode"] != "too_many_requests" {
		t.Fatalf("over the limit: %d %s", a.status, a.raw)
	}
	wait, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || wait < 1 || wait > 2 {
		t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
	}
	if reset, err := strconv.ParseInt(a.header.Get("X-RateLimit-Reset"), 10, 64); err != nil || reset < time.Now().Unix() {
		t.Errorf("X-RateLimit-Reset %q", a.header.Get("X-RateLimit-Reset"))
	}
	// Other endpoints are not limited.
	grant(t, idp, aliceLogin)
	time.Sleep(time.Duration(wait) * time.Second)
	if a := call(t, "GET", u, tok, nil); a.status != 200 {
		t.Errorf("after Retry-After: %d", a.status)
	}
	idp.SetRateLimit(idptest.EndpointManagement, 0, 0)
	for range 5 {
		if a := call(t, "GET", u, tok, nil); a.status != 200 {
			t.Fatalf("limit removed: %d", a.status)
		}
	}
	idp.SetRateLimit(idptest.EndpointToken, 1, time.Hour)
	grant(t, idp, aliceLogin)
	if a := post(t, idp.TokenURL(), aliceLogin); a.status != 429 || a.str("error") != "too_many_requests" || a.header.Get("Retry-After") == "" {
		t.Errorf("token endpoint over its limit: %d %s", a.status, a.raw)
	}
}

func TestManagementScopesChecked(t *testing.T) {
	cfg := idptest.Demo()
	cfg.Clients[2].ManagementScopes = []string{"delete:users"}
	if _, err := idptest.New(cfg); err == nil {
		t.Error("an unknown Management API scope was accepted")
	}
}
