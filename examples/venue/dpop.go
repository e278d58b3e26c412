package main

import (
	"crypto/hkdf"
	"crypto/sha256"
	"strings"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// dpopMiddleware returns the venue's middleware for DPOP=allowed or
// required: DPoP-bound tokens with proofs whose htu names publicURL, each
// proof accepted once — across every instance when they share memcached.
func dpopMiddleware(gate *authn.Gate, s settings, publicURL string) (*middleware.Middleware, error) {
	replay := cache.NewReplay(cache.ReplayConfig{})
	if len(s.memcacheServers) > 0 {
		client, err := cache.NewMemcacheClient(s.memcacheServers)
		if err != nil {
			return nil, err
		}
		shared, err := cache.NewMemcache(client, cache.MemcacheConfig{
			Namespace: s.namespace + "/dpop",
			HashKey:   derive(s.secret, "venue dpop names"),
			MACKeys:   []cache.MACKey{{ID: 1, Secret: derive(s.secret, "venue dpop mac")}},
		})
		if err != nil {
			return nil, err
		}
		if replay, err = cache.NewSharedReplay(shared, cache.ReplayConfig{}); err != nil {
			return nil, err
		}
	}
	proofs, err := tokenvalidator.NewDPoP(replay, tokenvalidator.DPoPConfig{})
	if err != nil {
		return nil, err
	}
	return middleware.New(gate.Authenticator, middleware.Config{DPoP: s.dpop, PublicURL: publicURL}, middleware.WithProofVerifier(proofs))
}

// derive returns a 32-byte key for purpose from the one secret.
func derive(secret []byte, purpose string) []byte {
	k, _ := hkdf.Key(sha256.New, secret, nil, purpose, 32) // 32 bytes of SHA-256 cannot fail
	return k
}

// publicURLOf is PUBLIC_URL, or the address the service listens on.
func publicURLOf(s settings, addr string) string {
	if s.publicURL != "" {
		return strings.TrimSuffix(s.publicURL, "/")
	}
	return "http://" + addr
}
