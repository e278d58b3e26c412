package main

import (
	"crypto/hkdf"
	"crypto/sha256"
	"net/http"
	"strings"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/internal/bearer"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/tokenvalidator"
)

// delegate makes the gate validate requests through the token service at
// s.tokenService (seed 002's user token service) instead of the provider:
// an Authenticator over tokenvalidator.Remote, with this service's own
// tiers — memory, and memcached when configured — so that a token is asked
// about once and then served from the cache until it expires, the token
// service up or not. Logins, refreshes and logouts still go to the provider
// through gate.Refresh; wrap the routes with keepInStep so that what they
// retire is refused here too.
//
// authn.Setup builds one Authenticator over the issuer's keys; until it can
// be handed another validator, this rebuilds the delegated one beside it.
func delegate(gate *authn.Gate, s settings, opts ...authn.Option) (*authn.Authenticator, error) {
	remote, err := tokenvalidator.NewRemote(tokenvalidator.RemoteConfig{
		URL:          strings.TrimSuffix(s.tokenService, "/") + "/introspect",
		ClientID:     s.tokenServiceClientID,
		ClientSecret: s.tokenServiceClientSecret,
		Issuers:      []string{s.issuer},
		Audiences:    []string{s.audience},
	})
	if err != nil {
		return nil, err
	}
	if len(s.memcacheServers) > 0 {
		client, err := cache.NewMemcacheClient(s.memcacheServers)
		if err != nil {
			return nil, err
		}
		shared, err := cache.NewMemcache(client, cache.MemcacheConfig{
			Namespace: s.namespace,
			HashKey:   derive(s.secret, "cache names"),
			MACKeys:   []cache.MACKey{{ID: 1, Secret: derive(s.secret, "cache mac")}},
		})
		if err != nil {
			return nil, err
		}
		opts = append(opts, authn.WithMemcache(shared))
	}
	a, err := authn.NewAuthenticator(remote, authn.Config{}, opts...)
	if err != nil {
		return nil, err
	}
	if gate.Middleware, err = middleware.New(a, middleware.Config{}); err != nil {
		return nil, err
	}
	gate.Authenticator = a
	return a, nil
}

// derive returns a 32-byte key for purpose from the one secret, as
// authn.Setup derives its own.
func derive(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "authgate "+purpose, 32)
	if err != nil {
		panic(err) // only for lengths sha256 cannot produce
	}
	return k
}

// keepInStep invalidates in a the access token that a successful logout or
// refresh has retired, as gate.Refresh does in the Authenticator it was
// built with — before the answer leaves, so that the client's next request
// is refused.
func keepInStep(a *authn.Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := bearer.FromHeader(r.Header, 16<<10)
		if err != nil || r.Method != http.MethodPost || (r.URL.Path != "/auth/logout" && r.URL.Path != "/auth/refresh") {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&beforeAnswer{ResponseWriter: w, hook: func(status int) {
			if status/100 == 2 {
				_ = a.Invalidate(r.Context(), token)
			}
		}}, r)
	})
}

// beforeAnswer calls hook with the status once, before the answer is
// written.
type beforeAnswer struct {
	http.ResponseWriter
	hook func(status int)
}

func (w *beforeAnswer) WriteHeader(code int) {
	if w.hook != nil {
		w.hook(code)
		w.hook = nil
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *beforeAnswer) Write(b []byte) (int, error) {
	if w.hook != nil {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
