package authn

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/refresh"
	"github.com/authgate/authgate/tokenvalidator"
)

// SetupConfig is the common case in one struct: an issuer, an API, and
// optionally a shared memcached and the service's own client for logins.
type SetupConfig struct {
	// Issuer is the provider's issuer, e.g. "https://tenant.auth0.com/".
	// Its keys and endpoints are found by OpenID discovery.
	Issuer string
	// Audience is this API's identifier, e.g. "https://api.venue.example".
	Audience string
	// FirstPartyClients are the client ids of the service's own apps; a
	// user's token from any other client is a delegated (partner) call.
	// ClientID, when set, is added to them.
	FirstPartyClients []string
	// Mapping changes the claim names read (default: Auth0's).
	// Its FirstPartyClients are replaced by the field above.
	Mapping claims.Mapping

	// MemcacheServers adds the shared tier — and keeps refresh tokens there —
	// on these memcached servers ("host:port"). None: this process only.
	MemcacheServers []string
	// Memcache tunes the cluster on MemcacheServers: timeouts, node
	// health, gutter, weights. Zero values are cache.ClusterConfig's
	// defaults.
	Memcache cache.ClusterConfig
	// Namespace separates environments and services that share memcached,
	// e.g. "prod/venue-api". Default "authgate".
	Namespace string
	// Secret (at least 32 bytes, the same on every instance) keys cache
	// names and MACs and encrypts stored refresh tokens. Required with
	// MemcacheServers or ClientID.
	Secret []byte

	// ClientID and ClientSecret are the service's own first-party client at
	// the provider; with them the Gate also has a refresh.Service (login,
	// refresh, logout) with refresh tokens kept on the server.
	ClientID, ClientSecret string
	// LoginScopes are asked for at login: the API's scopes the app needs,
	// and offline_access for a refresh token. Default "openid
	// offline_access".
	LoginScopes []string
	// Realm names the protection space in challenges. Default "api".
	Realm string
}

// Gate is what Setup builds: the Authenticator, the middleware around it,
// and, with a client configured, the refresh service.
type Gate struct {
	Authenticator *Authenticator
	Middleware    *middleware.Middleware
	Refresh       *refresh.Service // nil unless SetupConfig.ClientID is set

	validator *tokenvalidator.JWKS
	cluster   *cache.Cluster // nil without MemcacheServers
}

// Setup builds a Gate for cfg. It discovers the issuer's endpoints and
// fetches its keys, waiting within ctx; opts are passed to the
// Authenticator (a logger, a registerer, an enricher). Close releases it.
//
// The Gate validates JWT access tokens (ask Auth0 for an audience to get
// them). For opaque tokens build an Authenticator over tokenvalidator.Auto
// with an Introspection or UserInfo validator.
func Setup(ctx context.Context, cfg SetupConfig, opts ...Option) (*Gate, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("authn: SetupConfig needs Issuer and Audience")
	}
	if (len(cfg.MemcacheServers) > 0 || cfg.ClientID != "") && len(cfg.Secret) < 32 {
		return nil, errors.New("authn: SetupConfig.Secret of at least 32 bytes is required with memcached or a client")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "authgate"
	}
	o := defaultOptions(opts)
	mapping := cfg.Mapping
	mapping.FirstPartyClients = slices.Clone(cfg.FirstPartyClients)
	if cfg.ClientID != "" {
		mapping.FirstPartyClients = append(mapping.FirstPartyClients, cfg.ClientID)
	}
	v, err := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{
		Issuer: cfg.Issuer, Audiences: []string{cfg.Audience}, Mapping: mapping,
	}, tokenvalidator.WithLogger(o.logger), tokenvalidator.WithClock(o.now))
	if err != nil {
		return nil, err
	}
	g := &Gate{validator: v}
	if err := g.build(ctx, cfg, opts, o); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func (g *Gate) build(ctx context.Context, cfg SetupConfig, opts []Option, o options) error {
	var store refresh.Store
	if len(cfg.MemcacheServers) > 0 {
		cluster, err := cache.NewCluster(cfg.MemcacheServers, cfg.Memcache,
			cache.WithLogger(o.logger), cache.WithRegisterer(o.reg))
		if err != nil {
			return err
		}
		g.cluster = cluster
		shared, err := cache.NewMemcache(cluster, cache.MemcacheConfig{
			Namespace: cfg.Namespace,
			HashKey:   derive(cfg.Secret, "cache names"),
			MACKeys:   []cache.MACKey{{ID: 1, Secret: derive(cfg.Secret, "cache mac")}},
		}, cache.WithLogger(o.logger), cache.WithRegisterer(o.reg), cache.WithClock(o.now))
		if err != nil {
			return err
		}
		opts = append(slices.Clone(opts), WithMemcache(shared))
		store = refresh.NewMemcacheStore(cluster)
	}
	a, err := NewAuthenticator(g.validator, Config{}, opts...)
	if err != nil {
		return err
	}
	g.Authenticator = a
	if g.Middleware, err = middleware.New(a, middleware.Config{Realm: cfg.Realm}); err != nil {
		return err
	}
	if cfg.ClientID == "" {
		return nil
	}
	md, err := tokenvalidator.Discover(ctx, &http.Client{Timeout: 10 * time.Second}, cfg.Issuer)
	if err != nil {
		return err
	}
	if store == nil {
		store = refresh.NewMemoryStore(o.now)
	}
	g.Refresh, err = refresh.New(store, g.validator, refresh.Config{
		TokenURL:       md.TokenEndpoint,
		RevocationURL:  md.RevocationEndpoint,
		ClientID:       cfg.ClientID,
		ClientSecret:   cfg.ClientSecret,
		Audience:       cfg.Audience,
		Scopes:         cfg.LoginScopes,
		Namespace:      cfg.Namespace,
		HashKey:        derive(cfg.Secret, "refresh names"),
		EncryptionKeys: []refresh.Key{{ID: 1, Secret: derive(cfg.Secret, "refresh records")}},
		Realm:          cfg.Realm,
	}, refresh.WithTokenCache(a), refresh.WithLogger(o.logger), refresh.WithRegisterer(o.reg), refresh.WithClock(o.now))
	return err
}

// Close stops the Gate's background work (the JWKS refresh, the probes of
// memcached nodes that are out).
func (g *Gate) Close() error {
	err := g.validator.Close()
	if g.cluster != nil {
		err = errors.Join(err, g.cluster.Close())
	}
	return err
}

// derive returns a 32-byte key for purpose from the one secret, so that no
// two uses share a key.
func derive(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "authgate "+purpose, 32)
	if err != nil {
		panic(fmt.Sprintf("authn: hkdf: %v", err)) // only for lengths sha256 cannot produce
	}
	return k
}
