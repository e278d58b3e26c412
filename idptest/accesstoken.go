package idptest

import (
	"fmt"
	"slices"
	"testing"
)

// AccessToken returns an access token for req exactly as the token
// endpoint would issue it — signed by the current signing key, or opaque
// when req names no API (or an Opaque one) — in one line of a test:
//
//	token := idp.AccessToken(t, idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app",
//		Audience: idptest.DemoAPI, Organization: "org_acme", Scopes: []string{"read:venues"}})
//
// With a Username it is that user's token through ClientID (the scopes the
// user's roles allow, as UserClaims says); without one it is ClientID's own
// client-credentials token for Audience ("" = Config.DefaultAudience),
// narrowed to Scopes when any are given. No refresh token is issued, and
// faults and SetTokenError do not apply: it is not an HTTP call. It fails tb
// (Fatal) when the provider would refuse req: an unknown user, client, API
// or organization, or a client without the client_credentials grant.
func (s *Server) AccessToken(tb testing.TB, req ClaimsRequest) string {
	tb.Helper()
	tok, err := s.accessToken(req)
	if err != nil {
		tb.Fatalf("idptest: AccessToken: %v", err)
	}
	return tok
}

// accessToken is AccessToken's issuance: the grant the token endpoint
// would resolve for req, issued and signed as it does.
func (s *Server) accessToken(req ClaimsRequest) (string, error) {
	s.mu.Lock()
	is, err := s.accessGrantLocked(req)
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	resp, err := s.signIssuance(is)
	if err != nil {
		return "", err
	}
	return resp.AccessToken, nil
}

// accessGrantLocked resolves and records req's grant; s.mu is held.
func (s *Server) accessGrantLocked(req ClaimsRequest) (issuance, error) {
	c, ok := s.st.clients[req.ClientID]
	if !ok {
		return issuance{}, fmt.Errorf("unknown client %q", req.ClientID)
	}
	var g grant
	var err error
	if req.Username == "" {
		if !slices.Contains(c.Grants, grantClientCredentials) {
			return issuance{}, fmt.Errorf("client %q may not use the client_credentials grant", req.ClientID)
		}
		g, err = s.machineGrantLocked(c, req.Audience, req.Scopes)
	} else {
		u, ok := s.st.users[req.Username]
		if !ok || u.removed {
			return issuance{}, fmt.Errorf("unknown user %q", req.Username)
		}
		g, err = s.userGrantLocked(u, c, req.Audience, req.Scopes, req.Organization, req.GrantType)
	}
	if err != nil {
		return issuance{}, err
	}
	return s.issueLocked(g, false), nil
}
