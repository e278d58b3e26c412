package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/authgate/authgate/idptest"
)

const api = "https://api.venue.example"

// world is the provider and the tokens every phase uses.
type world struct {
	c       config
	idp     *idptest.Server
	hot     []string // valid for the whole run
	invalid []string // signed by a key no one publishes
	secret  string   // AUTHGATE_SECRET of the venue instances
}

// venueNamespace is the venue instances' CACHE_NAMESPACE.
const venueNamespace = "loadtest"

func newWorld(ctx context.Context, c config) (*world, error) {
	idp, err := idptest.New(idptest.Demo())
	if err != nil {
		return nil, err
	}
	w := &world{c: c, idp: idp, secret: rand.Text() + rand.Text()}
	fmt.Printf("idptest at %s; minting %d hot and %d invalid tokens (RS256, ~1 KB)\n", idp.URL(), c.hot, 200)
	if w.hot, err = w.mint(ctx, c.hot, time.Hour); err != nil {
		return nil, err
	}
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	for i := range 200 {
		claims, err := w.claims(time.Hour)
		if err != nil {
			return nil, err
		}
		claims["jti"] = fmt.Sprintf("forged-%d", i)
		tok, err := idp.Mint(claims, idptest.WithSigner("RS256", attacker), idptest.WithHeader("kid", idp.SigningKeyID()))
		if err != nil {
			return nil, err
		}
		w.invalid = append(w.invalid, tok)
	}
	return w, nil
}

// claims returns an Auth0-shaped user token's claims, valid for ttl.
func (w *world) claims(ttl time.Duration) (map[string]any, error) {
	c, err := w.idp.UserClaims(idptest.ClaimsRequest{
		Username: "alice", ClientID: "venue-app", Audience: api, Organization: "org_acme",
		Scopes: []string{"openid", "profile", "email", "offline_access", "read:venues", "book:venues", "read:datasets"},
	})
	if err != nil {
		return nil, err
	}
	c["exp"] = w.idp.Now().Add(ttl).Unix()
	return c, nil
}

// mint signs n distinct tokens valid for ttl.
func (w *world) mint(ctx context.Context, n int, ttl time.Duration) ([]string, error) {
	out := make([]string, 0, n)
	for range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := w.claims(ttl)
		if err != nil {
			return nil, err
		}
		tok, err := w.idp.Mint(c)
		if err != nil {
			return nil, err
		}
		out = append(out, tok)
	}
	return out, nil
}

func (w *world) close() { w.idp.Close() }
