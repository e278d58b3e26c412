package authn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
	"github.com/authgate/authgate/tokenvalidator"
)

// newClusterEnv is newEnv with the shared tier on three memcached nodes.
func newClusterEnv(t *testing.T) *env {
	e := newEnv(t)
	e.nodes = memcachedtest.StartCluster(t, 3)
	// A clock with a fractional second, as a real one has: a revocation
	// at T refuses tokens whose iat (whole seconds) is before T.
	e.idp.SetNow(time.Unix(1_900_000_000, 400_000_000))
	return e
}

// tokenOf mints a JWT for username through client, in org ("" for none),
// issued now by the provider's clock.
func (e *env) tokenOf(username, client, org string, mutate ...func(map[string]any)) string {
	e.t.Helper()
	c, err := e.idp.UserClaims(idptest.ClaimsRequest{Username: username, ClientID: client, Audience: api,
		Scopes: []string{"read:venues"}, Organization: org})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range mutate {
		m(c)
	}
	tok, err := e.idp.Mint(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// caller is one token that a revocation does or does not reach.
type caller struct {
	user, client, org string
}

// TestRevokeEverywhere: three instances share memcached. After a
// revocation on one, the tokens it names issued before it are refused on
// the revoking instance at once (though it had them in memory), on an
// instance that never saw them at once (from the shared tier, or at
// validation), and on an instance that had them in memory once MemoryTTL
// has passed; the tokens it does not name are accepted everywhere, and so
// are the named ones issued a second later (a new login works).
func TestRevokeEverywhere(t *testing.T) {
	alice := caller{"alice", "venue-app", "org_acme"}
	alicePartner := caller{"alice", "partner-app", "org_acme"}
	aliceNoOrg := caller{"alice", "venue-app", ""}
	bob := caller{"bob", "venue-app", "org_globex"}
	bobPartner := caller{"bob", "partner-app", "org_globex"}
	carol := caller{"carol", "venue-app", ""}
	for _, tc := range []struct {
		name    string
		revoke  func(ctx context.Context, a *authn.Authenticator) error
		refused []caller
		spared  []caller
		opaque  bool
	}{
		{"subject", func(ctx context.Context, a *authn.Authenticator) error {
			return a.RevokeSubject(ctx, "auth0|alice", time.Time{})
		}, []caller{alice, alicePartner, aliceNoOrg}, []caller{bob, bobPartner, carol}, false},
		{"grant", func(ctx context.Context, a *authn.Authenticator) error {
			return a.RevokeGrant(ctx, "auth0|alice", "partner-app", time.Time{})
		}, []caller{alicePartner}, []caller{alice, aliceNoOrg, bob, bobPartner, carol}, false},
		{"organization", func(ctx context.Context, a *authn.Authenticator) error {
			return a.RevokeOrganization(ctx, "org_acme", time.Time{})
		}, []caller{alice, alicePartner}, []caller{aliceNoOrg, bob, bobPartner, carol}, false},
		{"subject, opaque tokens", func(ctx context.Context, a *authn.Authenticator) error {
			return a.RevokeSubject(ctx, "auth0|alice", time.Time{})
		}, []caller{alice, aliceNoOrg}, []caller{bob, carol}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newClusterEnv(t)
			validator := e.jwks
			mint := func(c caller) string { return e.tokenOf(c.user, c.client, c.org) }
			if tc.opaque {
				validator = e.introspection
				mint = func(c caller) string {
					claims, err := e.idp.UserClaims(idptest.ClaimsRequest{Username: c.user, ClientID: c.client, Audience: api,
						Scopes: []string{"read:venues"}, Organization: c.org})
					if err != nil {
						t.Fatal(err)
					}
					return e.idp.OpaqueToken(claims)
				}
			}
			cfg := authn.Config{MemoryTTL: 30 * time.Second}
			revoker := e.instance(validator(), true, cfg)
			cached := e.instance(validator(), true, cfg)
			fresh := e.instance(validator(), true, cfg)
			ctx := context.Background()

			// Tokens seen before the revocation (in the revoker's and the
			// caching instance's memory, and in the shared tier), and
			// tokens nobody has seen yet.
			seen, unseen := map[caller]string{}, map[caller]string{}
			for _, c := range append(tc.refused, tc.spared...) {
				seen[c], unseen[c] = mint(c), mint(c)
				mustAuth(t, revoker.a, seen[c])
				mustAuth(t, cached.a, seen[c])
			}
			if err := tc.revoke(ctx, revoker.a); err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.refused {
				mustRefuse(t, revoker.a, seen[c], "the revoking instance, at once, for "+c.user+" through "+c.client)
				mustRefuse(t, fresh.a, seen[c], "an instance that never saw it (shared tier), for "+c.user+" through "+c.client)
				mustRefuse(t, fresh.a, unseen[c], "an instance validating it, for "+c.user+" through "+c.client)
				mustRefuse(t, revoker.a, unseen[c], "the revoking instance validating it, for "+c.user+" through "+c.client)
			}
			for _, c := range tc.spared {
				for name, in := range map[string]*instance{"revoker": revoker, "cached": cached, "fresh": fresh} {
					mustAuth(t, in.a, seen[c])
					if _, err := in.a.Authenticate(ctx, unseen[c]); err != nil {
						t.Errorf("%s: %s through %s, not revoked: %v", name, c.user, c.client, err)
					}
				}
			}
			e.idp.Advance(cfg.MemoryTTL)
			for _, c := range tc.refused {
				mustRefuse(t, cached.a, seen[c], "an instance that cached it, after MemoryTTL, for "+c.user+" through "+c.client)
			}
			e.idp.Advance(time.Second)
			for _, c := range tc.refused {
				later := mint(c)
				for name, in := range map[string]*instance{"revoker": revoker, "cached": cached, "fresh": fresh} {
					if _, err := in.a.Authenticate(ctx, later); err != nil {
						t.Errorf("%s: a token issued after the revocation, %s through %s: %v", name, c.user, c.client, err)
					}
				}
			}
			// The marks name nobody: memcached's keys are keyed hashes.
			for _, addr := range e.nodes.Addrs() {
				keys, err := memcachedtest.Keys(addr, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range keys {
					for _, name := range []string{"alice", "org_acme", "partner-app", "venue-app"} {
						if strings.Contains(k, name) {
							t.Errorf("memcached key %q names %s", k, name)
						}
					}
				}
			}
		})
	}
}

// TestRevokeRacesValidation: a revocation made while a validation of a
// token it names is in flight wins, whenever the validation lands: on the
// instance that revoked (the landing checks its marks, with or without a
// shared tier) and on one whose validation was in flight (it reads the
// marks after validating). Run it with -race -count=50.
func TestRevokeRacesValidation(t *testing.T) {
	for _, where := range []string{"same instance", "same instance, memory only", "another instance"} {
		t.Run(where, func(t *testing.T) {
			e := newClusterEnv(t)
			g := newGated(e.jwks())
			shared := where != "same instance, memory only"
			flying := e.instance(g, shared, authn.Config{})
			revoker := flying
			if where == "another instance" {
				revoker = e.instance(e.jwks(), true, authn.Config{})
			}
			tok := e.tokenOf("alice", "venue-app", "org_acme")
			result := make(chan error, 1)
			go func() {
				_, err := flying.a.Authenticate(context.Background(), tok)
				result <- err
			}()
			waitClosed(t, g.entered, "the validation to be held")
			if err := revoker.a.RevokeSubject(context.Background(), "auth0|alice", time.Time{}); err != nil {
				t.Fatal(err)
			}
			close(g.gate)
			if err := <-result; !errors.Is(err, claims.ErrInvalidToken) {
				t.Errorf("the request whose validation the revocation overtook: %v, want invalid", err)
			}
			mustRefuse(t, flying.a, tok, "the instance whose validation was in flight")
			mustRefuse(t, revoker.a, tok, "the revoking instance")
			if shared {
				mustRefuse(t, e.instance(e.jwks(), true, authn.Config{}).a, tok, "a new instance")
			}
		})
	}
}

// TestRevokeKeepsTheLatest: a revocation with a later T supersedes an
// earlier one; one with an earlier T, made after, changes nothing.
func TestRevokeKeepsTheLatest(t *testing.T) {
	e := newClusterEnv(t)
	ctx := context.Background()
	revoker := e.instance(e.jwks(), true, authn.Config{})
	t0 := e.idp.Now()
	early := e.tokenOf("alice", "venue-app", "org_acme")
	e.idp.Advance(10 * time.Second)
	middle := e.tokenOf("alice", "venue-app", "org_acme")
	e.idp.Advance(10 * time.Second)
	if err := revoker.a.RevokeSubject(ctx, "auth0|alice", t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, e.instance(e.jwks(), true, authn.Config{}).a, early, "a token issued before T")
	mustAuth(t, e.instance(e.jwks(), true, authn.Config{}).a, middle)
	if err := revoker.a.RevokeSubject(ctx, "auth0|alice", t0.Add(15*time.Second)); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, e.instance(e.jwks(), true, authn.Config{}).a, middle, "a token issued before the later T")
	for _, in := range []*instance{revoker, e.instance(e.jwks(), true, authn.Config{})} {
		if err := in.a.RevokeSubject(ctx, "auth0|alice", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	mustRefuse(t, e.instance(e.jwks(), true, authn.Config{}).a, middle, "after an earlier T was revoked again")
	mustRefuse(t, revoker.a, middle, "the revoking instance, after an earlier T was revoked again")
}

// TestRevokeWithoutIssuedAt: a token that does not say when it was issued
// is refused by every revocation that names it, whatever its T.
func TestRevokeWithoutIssuedAt(t *testing.T) {
	e := newClusterEnv(t)
	in := e.instance(e.jwks(), true, authn.Config{})
	tok := e.tokenOf("alice", "venue-app", "org_acme", func(c map[string]any) { delete(c, "iat") })
	mustAuth(t, in.a, tok)
	if err := in.a.RevokeOrganization(context.Background(), "org_acme", e.idp.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, in.a, tok, "the revoking instance")
	mustRefuse(t, e.instance(e.jwks(), true, authn.Config{}).a, tok, "another instance")
}

// TestRevocationLifetime: a mark lasts T + RevocationTTL + leeway +
// ClockSkew, the longest any token issued before T can be accepted — and
// no longer: a token that outlives RevocationTTL (a provider configured
// for longer tokens than the service was told) is accepted again after it.
func TestRevocationLifetime(t *testing.T) {
	e := newClusterEnv(t)
	cfg := authn.Config{RevocationTTL: time.Hour, ClockSkew: time.Minute}
	revoker := e.instance(e.jwks(), true, cfg)
	tok := e.tokenOf("alice", "venue-app", "org_acme", func(c map[string]any) {
		c["exp"] = e.idp.Now().Add(3 * time.Hour).Unix()
	})
	if err := revoker.a.RevokeSubject(context.Background(), "auth0|alice", time.Time{}); err != nil {
		t.Fatal(err)
	}
	leeway := 30 * time.Second // tokenvalidator's default
	e.idp.Advance(cfg.RevocationTTL + leeway + cfg.ClockSkew - time.Second)
	mustRefuse(t, e.instance(e.jwks(), true, cfg).a, tok, "a second before the mark ends")
	mustRefuse(t, revoker.a, tok, "the revoking instance, a second before the mark ends")
	e.idp.Advance(2 * time.Second)
	for name, in := range map[string]*instance{"the revoking instance": revoker, "another instance": e.instance(e.jwks(), true, cfg)} {
		if _, err := in.a.Authenticate(context.Background(), tok); err != nil {
			t.Errorf("%s, after the mark ended: %v", name, err)
		}
	}
}

// TestRevokeRefusesBadInput: nothing to name, or a T in the future.
func TestRevokeRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	a := e.instance(e.jwks(), false, authn.Config{}).a
	ctx := context.Background()
	for name, err := range map[string]error{
		"no subject":      a.RevokeSubject(ctx, "", time.Time{}),
		"no client":       a.RevokeGrant(ctx, "auth0|alice", "", time.Time{}),
		"no organization": a.RevokeOrganization(ctx, "", time.Time{}),
		"future":          a.RevokeSubject(ctx, "auth0|alice", e.idp.Now().Add(time.Minute)),
	} {
		if !errors.Is(err, authn.ErrBadRevocation) {
			t.Errorf("%s: %v, want ErrBadRevocation", name, err)
		}
	}
}

// TestRevokeWithMemcachedDown: the revoking instance refuses at once even
// when the shared tier cannot take the mark, and says so.
func TestRevokeWithMemcachedDown(t *testing.T) {
	e := newEnv(t)
	in := e.instance(e.jwks(), true, authn.Config{})
	tok := e.token()
	mustAuth(t, in.a, tok)
	e.mc.Stop()
	if err := in.a.RevokeSubject(context.Background(), "auth0|alice", time.Time{}); err == nil {
		t.Error("RevokeSubject with memcached down: no error")
	}
	mustRefuse(t, in.a, tok, "the revoking instance")
	if err := in.a.CheckRevocation(context.Background(), &claims.Principal{Subject: "auth0|alice", IssuedAt: e.idp.Now().Add(-time.Minute)}); !errors.Is(err, claims.ErrInvalidToken) {
		t.Errorf("CheckRevocation: %v, want invalid", err)
	}
}

// TestCheckRevocation: what the refresh service asks before a refresh.
func TestCheckRevocation(t *testing.T) {
	e := newClusterEnv(t)
	ctx := context.Background()
	revoker := e.instance(e.jwks(), true, authn.Config{})
	other := e.instance(e.jwks(), true, authn.Config{})
	before := &claims.Principal{Subject: "auth0|bob", AuthorizedParty: "partner-app", IssuedAt: e.idp.Now().Add(-time.Minute)}
	if err := other.a.CheckRevocation(ctx, before); err != nil {
		t.Fatalf("before any revocation: %v", err)
	}
	if err := revoker.a.RevokeGrant(ctx, "auth0|bob", "partner-app", time.Time{}); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]*instance{"revoker": revoker, "other": other} {
		if err := in.a.CheckRevocation(ctx, before); !errors.Is(err, claims.ErrInvalidToken) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
		after := *before
		after.IssuedAt = e.idp.Now().Add(time.Second)
		if err := in.a.CheckRevocation(ctx, &after); err != nil {
			t.Errorf("%s, issued after: %v", name, err)
		}
	}
}

var _ tokenvalidator.Validator = (*gated)(nil)
