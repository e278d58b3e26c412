package idptest_test

import (
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// TestSetTokenError: /oauth/token answers the error that was set — status,
// code, description and Retry-After — to every grant, counts the requests,
// and answers normally again once the zero TokenError is set.
func TestSetTokenError(t *testing.T) {
	idp := start(t)
	refreshToken := grant(t, idp, aliceLogin).str("refresh_token")
	refreshGrant := form("grant_type", "refresh_token", "refresh_token", refreshToken,
		"client_id", "venue-app", "client_secret", "venue-app-secret")
	for _, tc := range []struct {
		te         idptest.TokenError
		wantStatus int
		wantRetry  string
	}{
		{idptest.TokenError{Status: 403, Code: "mfa_required"}, 403, ""},
		{idptest.TokenError{Status: 403, Code: "access_denied", Description: "Not in this organization."}, 403, ""},
		{idptest.TokenError{Code: "invalid_scope"}, 400, ""},
		{idptest.TokenError{Status: 429, Code: "too_many_requests", RetryAfter: 7 * time.Second}, 429, "7"},
		{idptest.TokenError{Status: 503, Code: "temporarily_unavailable", RetryAfter: 1500 * time.Millisecond}, 503, "2"},
	} {
		t.Run(tc.te.Code, func(t *testing.T) {
			idp.SetTokenError(tc.te)
			idp.ResetCalls()
			for _, f := range []map[string][]string{aliceLogin, refreshGrant} {
				a := post(t, idp.TokenURL(), f)
				if a.status != tc.wantStatus || a.str("error") != tc.te.Code || a.header.Get("Retry-After") != tc.wantRetry {
					t.Errorf("%s: %d %s, Retry-After %q; want %d %s, %q", f["grant_type"], a.status, a.raw,
						a.header.Get("Retry-After"), tc.wantStatus, tc.te.Code, tc.wantRetry)
				}
				if tc.te.Description != "" && a.str("error_description") != tc.te.Description {
					t.Errorf("error_description %q, want %q", a.str("error_description"), tc.te.Description)
				}
				if a.header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", a.header.Get("Cache-Control"))
				}
			}
			if n := idp.Calls(idptest.EndpointToken); n != 2 {
				t.Errorf("%d token calls counted, want 2", n)
			}
		})
	}
	idp.SetTokenError(idptest.TokenError{})
	a := grant(t, idp, refreshGrant)
	if a.str("refresh_token") == "" {
		t.Fatalf("after clearing: %s", a.raw)
	}
	if st := idp.RefreshTokenState(refreshToken); st != idptest.RefreshRotated {
		t.Errorf("the refresh token is %v after the injected errors and one refresh, want rotated", st)
	}
}

// TestTokenErrorUnderFault: a fault set with SetFault comes before the
// injected error.
func TestTokenErrorUnderFault(t *testing.T) {
	idp := start(t)
	idp.SetTokenError(idptest.TokenError{Status: 403, Code: "mfa_required"})
	idp.SetFault(idptest.EndpointToken, idptest.FaultError)
	if a := post(t, idp.TokenURL(), aliceLogin); a.status != 500 {
		t.Errorf("fault and error: %d %s, want the fault's 500", a.status, a.raw)
	}
	idp.SetFault(idptest.EndpointToken, idptest.FaultNone)
	if a := post(t, idp.TokenURL(), aliceLogin); a.status != 403 {
		t.Errorf("after the fault: %d %s, want the error's 403", a.status, a.raw)
	}
}
