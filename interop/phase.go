package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// phase is one venue against the provider: with the JWT resource or with
// the opaque one.
type phase struct {
	name     string // "jwt" or "opaque"
	jwt      bool   // the resource's access tokens are JWTs
	resource string // the venue's AUDIENCE
	other    string // another resource of the provider: not the venue's
	client   client // the venue's own client
	addr     string // the venue's ADDR (its callback is registered)
}

// venueSettings are the venue's environment variables: any inherited
// value is dropped, so that the run does not depend on the caller's shell.
var venueSettings = []string{"ADDR", "ISSUER_URL", "AUDIENCE", "CLIENT_ID", "CLIENT_SECRET", "LOGIN_SCOPES",
	"CLAIMS_PRESET", "MEMCACHE_SERVERS", "CACHE_NAMESPACE", "AUTHGATE_SECRET", "CONNECTIONS_DB"}

func (ph phase) env(issuer string) map[string]string {
	env := map[string]string{
		"ADDR": ph.addr, "ISSUER_URL": issuer, "AUDIENCE": ph.resource,
		"CLIENT_ID": ph.client.ID, "CLIENT_SECRET": ph.client.Secret,
		"LOGIN_SCOPES": loginScopes, "CLAIMS_PRESET": "rfc9068",
	}
	for _, k := range venueSettings {
		if _, set := env[k]; !set {
			env[k] = ""
		}
	}
	return env
}

// label names a step of the phase.
func (ph phase) label(step string) string { return ph.name + ": " + step }

// session is a login through the venue: the access token the client
// holds, and the refresh token the venue holds (seen by the tap).
type session struct {
	access  string
	refresh string
}

// phase runs every step against one venue.
func (x *interop) phase(ctx context.Context, ph phase) {
	r := x.r
	name := ph.label
	kind := map[bool]string{true: "JWT (RFC 9068)", false: "opaque (RFC 7662 introspection)"}[ph.jwt]
	r.section(fmt.Sprintf("%s access tokens: venue at http://%s, AUDIENCE %s, CLIENT_ID %s", kind, ph.addr, ph.resource, ph.client.ID))

	var venue *proc
	started := r.step(name("venue starts against the provider"), func() (string, error) {
		p, err := startVenue(ctx, x.venueBin, x.logDir, "venue-"+ph.name, ph.env(x.info.Issuer))
		venue = p
		if err != nil {
			return "", err
		}
		return "CLAIMS_PRESET=rfc9068, LOGIN_SCOPES=" + loginScopes, nil
	})
	if venue != nil {
		defer venue.stop()
	}
	if !started {
		r.skip(name("every other step"), "the venue")
		return
	}
	api := venueAPI{base: "http://" + ph.addr}

	// A first login: used, refreshed, logged out.
	var s1 session
	loginMark := x.tap.mark()
	if !r.step(name("login by authorization code + PKCE through the venue"), func() (string, error) {
		var detail string
		var err error
		s1, detail, err = x.login(ctx, ph, api)
		return detail, err
	}) {
		r.skip(name("the steps of a logged-in user"), "the login")
	} else {
		r.step(name("whoami: a user of the venue's own client"), func() (string, error) {
			m := x.tap.mark()
			p, err := api.whoami(ctx, s1.access)
			if err == nil {
				err = p.expect("user", x.info.User.ID, ph.client.ID, x.info.Issuer, "read:venues")
			}
			if err == nil && !ph.jwt && len(x.tap.callsSince(loginMark, "/token/introspection")) == 0 {
				err = errors.New("the opaque token was accepted without introspection")
			}
			if err != nil {
				return "", err
			}
			return p.String() + "; " + describe(x.tap.callsSince(m, "")), nil
		})
		r.step(name("whoami again: served from the cache"), func() (string, error) {
			m := x.tap.mark()
			if _, err := api.whoami(ctx, s1.access); err != nil {
				return "", err
			}
			if calls := x.tap.callsSince(m, ""); len(calls) > 0 {
				return "", errors.New(describe(calls))
			}
			return "no call to the provider", nil
		})
		r.step(name("GET /v1/venues (scope read:venues)"), func() (string, error) {
			_, err := api.expect(ctx, http.MethodGet, "/v1/venues", s1.access, http.StatusOK)
			return "200", err
		})
		r.step(name("POST /v1/venues/v1/bookings (book:venues, users only)"), func() (string, error) {
			_, err := api.expect(ctx, http.MethodPost, "/v1/venues/v1/bookings", s1.access, http.StatusCreated)
			return "201", err
		})
		var s2 session
		if !r.step(name("refresh: new access token, refresh token rotated"), func() (string, error) {
			var detail string
			var err error
			s2, detail, err = x.refresh(ctx, ph, api, s1)
			return detail, err
		}) {
			r.skip(name("the steps after a refresh"), "the refresh")
		} else {
			r.step(name("refresh repeated within the grace window"), func() (string, error) {
				m := x.tap.mark()
				t, a, err := api.tokens(ctx, "/auth/refresh", s1.access)
				switch {
				case err != nil:
					return "", err
				case t == nil:
					return "", fmt.Errorf("POST /auth/refresh answered %s", a)
				case t.AccessToken != s2.access:
					return "", errors.New("a different access token: the venue refreshed twice")
				}
				return "the same new access token; " + describe(x.tap.callsSince(m, "")), nil
			})
			r.step(name("the replaced access token is refused by the venue"), func() (string, error) {
				a, err := api.expect(ctx, http.MethodGet, "/v1/whoami", s1.access, http.StatusUnauthorized)
				return a.String(), err
			})
			r.step(name("logout: the venue revokes the refresh token"), func() (string, error) {
				m := x.tap.mark()
				if _, err := api.expect(ctx, http.MethodPost, "/auth/logout", s2.access, http.StatusNoContent); err != nil {
					return "", err
				}
				revoked := x.tap.callsSince(m, "/token/revocation")
				if len(revoked) != 1 || revoked[0].Status != http.StatusOK {
					return "", fmt.Errorf("want one revocation answered 200; %s", describe(x.tap.callsSince(m, "")))
				}
				return "204; " + describe(x.tap.callsSince(m, "")), nil
			})
			r.step(name("after logout the access token is refused"), func() (string, error) {
				a, err := api.expect(ctx, http.MethodGet, "/v1/whoami", s2.access, http.StatusUnauthorized)
				return "whoami " + a.String(), err
			})
			r.step(name("after logout the session cannot be refreshed"), func() (string, error) {
				a, err := api.expect(ctx, http.MethodPost, "/auth/refresh", s2.access, http.StatusUnauthorized)
				return "POST /auth/refresh " + a.String(), err
			})
			r.step(name("after logout the provider refuses the refresh token"), func() (string, error) {
				return x.refusedAtProvider(ctx, ph, s2.refresh, "refresh token not found")
			})
		}
	}

	// A second login, whose rotated refresh token is replayed at the
	// provider: reuse detection must end the family.
	var s3, s4 session
	if !r.step(name("second login"), func() (string, error) {
		var detail string
		var err error
		if s3, detail, err = x.login(ctx, ph, api); err != nil {
			return "", err
		}
		s4, _, err = x.refresh(ctx, ph, api, s3)
		return detail + "; refreshed once", err
	}) {
		r.skip(name("refresh-token reuse"), "the second login")
	} else {
		r.step(name("provider refuses reuse of the rotated refresh token"), func() (string, error) {
			return x.refusedAtProvider(ctx, ph, s3.refresh, "refresh token already used")
		})
		r.step(name("reuse revoked the family: the venue's refresh is refused"), func() (string, error) {
			m := x.tap.mark()
			a, err := api.expect(ctx, http.MethodPost, "/auth/refresh", s4.access, http.StatusUnauthorized)
			if err != nil {
				return "", err
			}
			return "POST /auth/refresh " + a.String() + "; " + describe(x.tap.callsSince(m, "")), nil
		})
	}

	x.machine(ctx, ph, api)
	x.forgeries(ctx, ph, api)
}

// login logs the test user in through the venue with a fresh browser.
func (x *interop) login(ctx context.Context, ph phase, api venueAPI) (session, string, error) {
	m := x.tap.mark()
	t, prompts, err := newBrowser(x.info.User.Username, x.info.User.Password).login(ctx, api.base)
	if err != nil {
		return session{}, "", err
	}
	if t.RefreshToken != "" {
		return session{}, "", errors.New("the venue handed the refresh token to the client")
	}
	var code []grant
	for _, g := range x.tap.grantsSince(m) {
		if g.Type == "authorization_code" && g.ClientID == ph.client.ID {
			code = append(code, g)
		}
	}
	if len(code) != 1 || code[0].Status != http.StatusOK || code[0].RefreshOut == "" {
		return session{}, "", fmt.Errorf("want one code exchange answered with a refresh token; %s", describe(x.tap.callsSince(m, "/token")))
	}
	format, err := x.format(ph, t.AccessToken, ph.client.ID)
	if err != nil {
		return session{}, "", err
	}
	return session{access: t.AccessToken, refresh: code[0].RefreshOut},
		fmt.Sprintf("prompts %s; %s; %s", strings.Join(prompts, ", "), format, describe(x.tap.callsSince(m, "/token"))), nil
}

// refresh refreshes s through the venue: the venue must present s's
// refresh token and get a new one (rotation), and the new access token
// must be accepted.
func (x *interop) refresh(ctx context.Context, ph phase, api venueAPI, s session) (session, string, error) {
	m := x.tap.mark()
	t, a, err := api.tokens(ctx, "/auth/refresh", s.access)
	switch {
	case err != nil:
		return session{}, "", err
	case t == nil:
		return session{}, "", fmt.Errorf("POST /auth/refresh answered %s; %s", a, describe(x.tap.callsSince(m, "")))
	case t.AccessToken == s.access:
		return session{}, "", errors.New("the same access token")
	case t.RefreshToken != "":
		return session{}, "", errors.New("the venue handed the refresh token to the client")
	}
	var gs []grant
	for _, g := range x.tap.grantsSince(m) {
		if g.Type == "refresh_token" {
			gs = append(gs, g)
		}
	}
	switch {
	case len(gs) != 1:
		return session{}, "", fmt.Errorf("want one refresh at the provider; %s", describe(x.tap.callsSince(m, "")))
	case gs[0].RefreshIn != s.refresh:
		return session{}, "", errors.New("the venue presented another refresh token than the login's")
	case gs[0].RefreshOut == "" || gs[0].RefreshOut == s.refresh:
		return session{}, "", errors.New("the provider did not rotate the refresh token")
	}
	p, err := api.whoami(ctx, t.AccessToken)
	if err == nil {
		err = p.expect("user", x.info.User.ID, ph.client.ID, x.info.Issuer, "read:venues")
	}
	if err != nil {
		return session{}, "", fmt.Errorf("the new access token: %w", err)
	}
	return session{access: t.AccessToken, refresh: gs[0].RefreshOut},
		"new access token accepted (kind " + p.Kind + "); " + describe(x.tap.callsSince(m, "/token")), nil
}

// refusedAtProvider presents refreshToken at the provider as the venue's
// client: it must be refused with invalid_grant, for the reason the
// provider's event log must give (its answer says only "grant request is
// invalid").
func (x *interop) refusedAtProvider(ctx context.Context, ph phase, refreshToken, reason string) (string, error) {
	events := x.provider.stdoutMark()
	status, a, err := tokenRequest(ctx, x.tokenURL, ph.client, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	if err != nil {
		return "", err
	}
	if status != http.StatusBadRequest || a.Error != "invalid_grant" {
		return "", fmt.Errorf("the provider answered %d %q", status, a.Error)
	}
	if _, ok := x.provider.awaitStdout(events, "invalid_grant ("+reason+")", 2*time.Second); !ok {
		return "", fmt.Errorf("%d %s, but the provider's log does not say %q", status, a.Error, reason)
	}
	return fmt.Sprintf("%d %s; provider's log: %s", status, a.Error, reason), nil
}

// format checks and describes an access token: an RFC 9068 JWT for the
// JWT resource, not a JWT for the opaque one.
func (x *interop) format(ph phase, token, clientID string) (string, error) {
	if !ph.jwt {
		if _, ok := parseJWT(token); ok {
			return "", errors.New("a JWT access token for the opaque resource")
		}
		return fmt.Sprintf("opaque access token (%d characters)", len(token)), nil
	}
	j, err := checkRFC9068(token, x.info.Issuer, ph.resource, clientID)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("JWT typ %v, client_id %s, no azp, aud %v", j.header["typ"], j.str("client_id"), j.audience()), nil
}

// machine runs the client-credentials steps: a token of the machine
// client for the venue's resource, and one for another resource.
func (x *interop) machine(ctx context.Context, ph phase, api venueAPI) {
	r := x.r
	name := ph.label
	m := x.info.Clients.Machine
	var token string
	if !r.step(name("client credentials token from the provider"), func() (string, error) {
		var err error
		token, err = x.clientCredentials(ctx, ph.resource)
		if err != nil {
			return "", err
		}
		format, err := x.format(ph, token, m.ID)
		if err != nil || !ph.jwt {
			return "resource " + ph.resource + ", " + format, err
		}
		j, _ := parseJWT(token)
		if j.str("sub") != m.ID {
			return "", fmt.Errorf("sub %q, want the client id %q (RFC 9068)", j.str("sub"), m.ID)
		}
		if _, ok := j.payload["gty"]; ok {
			return "", errors.New("a gty claim: not as REFERENCE.md describes oidc-provider")
		}
		return format + ", sub = client id, no gty", nil
	}) {
		r.skip(name("the machine's steps"), "its token")
		return
	}
	r.step(name("whoami: a machine"), func() (string, error) {
		mark := x.tap.mark()
		p, err := api.whoami(ctx, token)
		if err != nil {
			return "", err
		}
		// Opaque: oidc-provider's introspection answer for a client-credentials
		// token has no sub, and the client is the subject.
		if err := p.expect("machine", m.ID, m.ID, x.info.Issuer, "read:venues"); err != nil {
			return "", err
		}
		return p.String() + "; " + describe(x.tap.callsSince(mark, "")), nil
	})
	r.step(name("machine: GET /v1/venues (scope read:venues)"), func() (string, error) {
		_, err := api.expect(ctx, http.MethodGet, "/v1/venues", token, http.StatusOK)
		return "200", err
	})
	r.step(name("machine: a booking (book:venues, users only) is refused"), func() (string, error) {
		a, err := api.expect(ctx, http.MethodPost, "/v1/venues/v1/bookings", token, http.StatusForbidden)
		return a.String(), err
	})
	r.step(name("a token for another resource is refused"), func() (string, error) {
		other, err := x.clientCredentials(ctx, ph.other)
		if err != nil {
			return "", err
		}
		a, err := api.expect(ctx, http.MethodGet, "/v1/whoami", other, http.StatusUnauthorized)
		return "resource " + ph.other + ": " + a.String(), err
	})
}

// clientCredentials asks the provider for a machine token for resource.
func (x *interop) clientCredentials(ctx context.Context, resource string) (string, error) {
	status, a, err := tokenRequest(ctx, x.tokenURL, x.info.Clients.Machine, url.Values{
		"grant_type": {"client_credentials"}, "resource": {resource}, "scope": {"read:venues book:venues"}})
	if err != nil {
		return "", err
	}
	if status != http.StatusOK || a.AccessToken == "" {
		return "", fmt.Errorf("the provider answered %d %s (%s)", status, a.Error, a.ErrorDescription)
	}
	return a.AccessToken, nil
}

// forgeries presents tokens the provider did not issue as they are, or
// that have expired: each must be 401.
func (x *interop) forgeries(ctx context.Context, ph phase, api venueAPI) {
	r := x.r
	name := ph.label
	refused := func(token string) (string, error) {
		a, err := api.expect(ctx, http.MethodGet, "/v1/whoami", token, http.StatusUnauthorized)
		return a.String(), err
	}
	if !ph.jwt {
		r.step(name("an opaque token the provider never issued is refused"), func() (string, error) {
			return refused(rand.Text() + rand.Text())
		})
		return
	}
	token, err := x.clientCredentials(ctx, ph.resource)
	j, ok := parseJWT(token)
	if err != nil || !ok {
		r.skip(name("forged tokens"), "a machine JWT to forge from")
		return
	}
	r.step(name("a token whose claims were changed is refused"), func() (string, error) { return refused(j.tampered()) })
	r.step(name("a token signed by another key (provider's kid) is refused"), func() (string, error) {
		forged, err := j.signedByAnotherKey()
		if err != nil {
			return "", err
		}
		return refused(forged)
	})
	r.step(name(`a token with alg "none" is refused`), func() (string, error) { return refused(j.unsigned()) })
	r.step(name("an expired token signed by the provider is refused"), func() (string, error) {
		expired, err := x.clientCredentials(ctx, x.info.Resources.ExpiredFixture)
		if err != nil {
			return "", err
		}
		e, ok := parseJWT(expired)
		if !ok {
			return "", errors.New("the fixture's token is not a JWT")
		}
		exp, _ := e.payload["exp"].(float64)
		ago := time.Since(time.Unix(int64(exp), 0)).Round(time.Second)
		if ago <= 0 || !slices.Contains(e.audience(), ph.resource) {
			return "", fmt.Errorf("the fixture's token is not expired for %s (exp in %s, aud %v)", ph.resource, -ago, e.audience())
		}
		a, err := refused(expired)
		return fmt.Sprintf("expired %s ago: %s", ago, a), err
	})
}

// expect checks a principal: its kind, subject, authorized party, issuer,
// and a scope it must have.
func (p *principal) expect(kind, subject, party, issuer, scope string) error {
	var problems []string
	if p.Kind != kind {
		problems = append(problems, fmt.Sprintf("kind %q, want %q", p.Kind, kind))
	}
	if p.Subject != subject {
		problems = append(problems, fmt.Sprintf("subject %q, want %q", p.Subject, subject))
	}
	if p.AuthorizedParty != party {
		problems = append(problems, fmt.Sprintf("authorized party %q, want %q", p.AuthorizedParty, party))
	}
	if p.Issuer != issuer {
		problems = append(problems, fmt.Sprintf("issuer %q, want %q", p.Issuer, issuer))
	}
	if !slices.Contains(p.Scopes, scope) {
		problems = append(problems, fmt.Sprintf("scopes %v lack %s", p.Scopes, scope))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
