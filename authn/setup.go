package authn

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/middleware"
	"github.com/authgate/authgate/refresh"
	"github.com/authgate/authgate/tokenvalidator"
)

// SetupConfig is a deployment in one struct: the issuers whose tokens are
// accepted, each for its audiences, and optionally a shared memcached and
// the service's own client for logins.
//
// The one-issuer form sets Issuer and Audience (and ClientID, ClientSecret
// and Mapping); several issuers — dev, int and prod tenants, or several
// providers — are listed in Issuers instead.
type SetupConfig struct {
	// Issuers lists the issuers whose tokens are accepted. JWTs go to the
	// issuer their iss names; opaque tokens go to the one issuer that takes
	// them (IssuerConfig.Opaque). Logins use the first issuer with a
	// client.
	Issuers []IssuerConfig

	// Issuer is the one-issuer form's issuer, e.g.
	// "https://tenant.auth0.com/" (Auth0's ends with a slash). Its keys and
	// endpoints are found by OpenID discovery.
	Issuer string
	// Audience is the one-issuer form's API identifier, e.g.
	// "https://api.venue.example".
	Audience string
	// Mapping is the one-issuer form's claim mapping (default: Auth0's).
	Mapping claims.Mapping
	// ClientID and ClientSecret are the one-issuer form's client: the
	// service's own first-party app at the provider. With one, the Gate
	// also has a refresh.Service (login, refresh, logout) keeping refresh
	// tokens on the server, and opaque tokens can be introspected.
	ClientID, ClientSecret string

	// FirstPartyClients are the client ids of the service's own apps, at
	// every issuer; a user's token from any other client is a delegated
	// (partner) call. The issuers' ClientIDs are added to them.
	FirstPartyClients []string

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
	// MemcacheServers or a client.
	Secret []byte
	// SecretID names Secret in what it MACs and seals, so that it can be
	// rotated: default 1.
	SecretID byte
	// PreviousSecrets are secrets still accepted — their MACs verify and
	// their sealed records open — while what is new is written with
	// Secret. Rotate in three rolling deploys: add the new secret here
	// (every instance can then read what it writes), make it Secret and
	// the old one a previous secret (with NameSecret set to the old one),
	// and once RecordTTL has passed drop the old one from here. See
	// OPERATIONS.md.
	PreviousSecrets []PreviousSecret
	// NameSecret keys the names under which entries and records are kept
	// (a keyed hash of the token). Default: Secret. A rotation of Secret
	// keeps it, or every entry and session is orphaned: it protects no
	// entry's content, only which token a name stands for.
	NameSecret []byte

	// LoginScopes are asked for at login: the API's scopes the app needs,
	// and offline_access for a refresh token. Default "openid
	// offline_access".
	LoginScopes []string
	// Realm names the protection space in challenges. Default "api".
	Realm string
	// DPoP selects the schemes the middleware accepts (see
	// middleware.Config.DPoP): Bearer only (the default), Bearer and DPoP
	// (RFC 9449), or DPoP only. A proof is accepted once across every
	// instance sharing MemcacheServers (in this process without).
	DPoP middleware.DPoPMode
	// PublicURL is the base URL clients reach the service at, which DPoP
	// proofs must name (see middleware.Config.PublicURL).
	PublicURL string
	// DPoPProofs tunes the proofs' checks when DPoP is on: the algorithms
	// allowed, their age and leeway, and server nonces (NonceSecret, the
	// same on every instance). Zero values are tokenvalidator.DPoPConfig's
	// defaults: no nonces.
	DPoPProofs tokenvalidator.DPoPConfig
	// DPoPReplay tunes the memory of the proofs seen: its size and, with
	// RequireShared, a 503 rather than this process's memory alone while
	// memcached is out (a proof replayed at another instance then cannot
	// pass). Zero values are cache.ReplayConfig's defaults.
	DPoPReplay cache.ReplayConfig
	// Cache holds the Authenticator's settings: cache lifetimes and sizes,
	// revocation, leases.
	Cache Config

	// TokenService, when set, validates tokens through authgate's token
	// service (cmd/tokenservice) — or any RFC 7662 introspection endpoint —
	// instead of at the issuers, as seed 002's venue services do: answers
	// are cached in this Gate's own tiers until the token expires, so that
	// cached tokens keep working while the token service is down. Logins,
	// refreshes and logouts still go to the issuers.
	TokenService *TokenServiceConfig

	// StartWithoutProvider lets Setup succeed while an issuer cannot be
	// reached, or publishes no usable key: the Gate then answers 503 for
	// that issuer's tokens (and its logins) until the provider answers,
	// which it asks again on demand. Each such issuer is logged at warn and
	// counted in authgate_authn_issuers_unready; Gate.Ready reports it.
	// Default false: Setup fails, naming the problem.
	StartWithoutProvider bool
}

// PreviousSecret is a secret still accepted after a rotation (see
// SetupConfig.PreviousSecrets).
type PreviousSecret struct {
	ID     byte   // the SecretID it had when it was current
	Secret []byte // at least 32 bytes
}

// TokenServiceConfig is where a Gate that delegates validation asks.
type TokenServiceConfig struct {
	// URL is the introspection endpoint, e.g.
	// "http://tokenservice:8081/introspect".
	URL string
	// ClientID and ClientSecret are this service's pair in the token
	// service's SERVICE_CLIENTS.
	ClientID, ClientSecret string
}

// IssuerConfig is one issuer a Gate accepts tokens of.
type IssuerConfig struct {
	// Issuer is the exact iss of the issuer's tokens, e.g.
	// "https://tenant.auth0.com/"; its endpoints are found by OpenID
	// discovery. Or a multi-tenant issuer template (Microsoft Entra ID's
	// "https://login.microsoftonline.com/{tenantid}/v2.0", with
	// claims.PresetEntra; see tokenvalidator.JWKSConfig.Issuer), which has
	// no discovery document: it needs JWKSURL, and takes JWTs only — no
	// client, no opaque tokens. Required.
	Issuer string
	// JWKSURL is where the issuer publishes its keys. Default: the
	// discovery document's jwks_uri.
	JWKSURL string
	// Audiences are this API's identifiers at the issuer; a token must name
	// one. Required.
	Audiences []string
	// Mapping says where the issuer puts the claims authgate reads (see the
	// presets in package claims). Default: Auth0's. Its FirstPartyClients
	// are added to SetupConfig's.
	Mapping claims.Mapping
	// ClientID and ClientSecret are the service's client at this issuer: for
	// logins (the first issuer with one), for introspecting opaque tokens,
	// and for revoking refresh tokens.
	ClientID, ClientSecret string
	// Opaque makes this issuer the one whose opaque (non-JWT) access tokens
	// are accepted: they are checked at its RFC 7662 introspection endpoint
	// when discovery lists one and a client is configured, else at its
	// userinfo endpoint (Auth0). At most one issuer may set it; when none
	// does, the first issuer takes opaque tokens.
	Opaque bool
	// Leeway is the clock skew tolerated on exp, nbf and iat. Default 30s.
	Leeway time.Duration
	// RequireType demands RFC 9068's typ "at+jwt" (and its required claims).
	RequireType bool
	// Budget caps the calls made to the issuer to check opaque tokens.
	// Default: tokenvalidator's default budget.
	Budget *tokenvalidator.Budget
}

// Gate is what Setup builds: the Authenticator, the middleware around it,
// and, with a client configured, the refresh service. Close releases it.
type Gate struct {
	Authenticator *Authenticator
	Middleware    *middleware.Middleware
	// Refresh serves logins, refreshes and logouts at the first issuer with
	// a client; nil when none has one. RefreshFor gives another issuer's.
	Refresh *refresh.Service

	jwts      verifier                    // the JWT side of validation
	keySets   []*tokenvalidator.JWKS      // one per issuer
	endpoints []*discovered               // one per issuer
	refreshBy map[string]*refresh.Service // by issuer
	cluster   *cache.Cluster              // nil without MemcacheServers
}

// verifier is the JWT side of a Gate's validation, one issuer or several.
type verifier interface {
	tokenvalidator.Validator
	refresh.Verifier
	Ready(ctx context.Context) error
}

// Setup builds a Gate for cfg, waiting within ctx. For each issuer it
// discovers the endpoints and fetches the keys; a failure is an error that
// names the issuer and the problem — unreachable, a discovery document that
// names another issuer (both spellings shown: the trailing slash is the
// classic), no usable key — unless cfg.StartWithoutProvider. opts are passed
// to the Authenticator (a logger, a registerer, an enricher, an HTTP client
// for the provider, a tracer provider) and, but for the enricher, to what
// Setup builds with it.
func Setup(ctx context.Context, cfg SetupConfig, opts ...Option) (*Gate, error) {
	issuers, err := cfg.issuers()
	if err != nil {
		return nil, err
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "authgate"
	}
	o := defaultOptions(opts)
	g := &Gate{refreshBy: map[string]*refresh.Service{}}
	if err := g.build(ctx, cfg, issuers, opts, o); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// issuers returns cfg's issuers, the one-issuer form included, checked,
// with the first-party clients and the opaque issuer settled.
func (cfg SetupConfig) issuers() ([]IssuerConfig, error) {
	issuers := slices.Clone(cfg.Issuers)
	switch {
	case len(issuers) > 0 && (cfg.Issuer != "" || cfg.Audience != "" || cfg.ClientID != ""):
		return nil, errors.New("authn: SetupConfig: set Issuers, or the one-issuer form (Issuer, Audience, ClientID), not both")
	case len(issuers) == 0:
		if cfg.Issuer == "" || cfg.Audience == "" {
			return nil, errors.New("authn: SetupConfig needs Issuer and Audience, or Issuers")
		}
		issuers = []IssuerConfig{{Issuer: cfg.Issuer, Audiences: []string{cfg.Audience}, Mapping: cfg.Mapping,
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret}}
	}
	firstParty := slices.Clone(cfg.FirstPartyClients)
	opaque, seen := -1, map[string]bool{}
	for i, is := range issuers {
		switch {
		case is.Issuer == "" || len(is.Audiences) == 0 || slices.Contains(is.Audiences, ""):
			return nil, fmt.Errorf("authn: SetupConfig.Issuers[%d] needs an Issuer and non-empty Audiences", i)
		case seen[is.Issuer]:
			return nil, fmt.Errorf("authn: SetupConfig: issuer %q listed twice", is.Issuer)
		case (is.ClientID == "") != (is.ClientSecret == ""):
			return nil, fmt.Errorf("authn: SetupConfig: issuer %q needs both ClientID and ClientSecret, or neither", is.Issuer)
		case template(is.Issuer) && (is.JWKSURL == "" || is.ClientID != "" || is.Opaque):
			return nil, fmt.Errorf("authn: SetupConfig: issuer template %q needs a JWKSURL, and takes neither a client nor opaque tokens", is.Issuer)
		case is.Opaque && opaque >= 0:
			return nil, errors.New("authn: SetupConfig: at most one issuer may take opaque tokens")
		case is.Opaque:
			opaque = i
		}
		if err := is.Mapping.Check(); err != nil {
			return nil, fmt.Errorf("authn: SetupConfig: issuer %q: %w", is.Issuer, err)
		}
		seen[is.Issuer] = true
		firstParty = append(firstParty, is.Mapping.FirstPartyClients...)
		if is.ClientID != "" {
			firstParty = append(firstParty, is.ClientID)
			if len(cfg.Secret) < 32 {
				return nil, errors.New("authn: SetupConfig.Secret of at least 32 bytes is required with a client")
			}
		}
	}
	if len(cfg.MemcacheServers) > 0 && len(cfg.Secret) < 32 {
		return nil, errors.New("authn: SetupConfig.Secret of at least 32 bytes is required with MemcacheServers")
	}
	if err := cfg.checkSecrets(); err != nil {
		return nil, err
	}
	if opaque < 0 && !template(issuers[0].Issuer) {
		opaque = 0
	}
	for i := range issuers {
		issuers[i].Mapping.FirstPartyClients = firstParty
		issuers[i].Opaque = i == opaque
	}
	return issuers, nil
}

func (g *Gate) build(ctx context.Context, cfg SetupConfig, issuers []IssuerConfig, opts []Option, o options) error {
	vopts := []tokenvalidator.Option{tokenvalidator.WithLogger(o.logger), tokenvalidator.WithClock(o.now),
		tokenvalidator.WithRegisterer(o.reg), tokenvalidator.WithTracerProvider(o.tp)}
	if o.httpClient != nil {
		vopts = append(vopts, tokenvalidator.WithHTTPClient(o.httpClient))
	}
	var opaque tokenvalidator.Validator
	keysFrom := make([]string, len(issuers)) // where each issuer's keys come from, for the log
	for i, is := range issuers {
		ep := newDiscovered(is.Issuer, o.httpClient, o.tracer)
		g.endpoints = append(g.endpoints, ep)
		v, jwksURL, err := g.issuer(ctx, cfg, is, ep, vopts, o)
		if v != nil {
			g.keySets = append(g.keySets, v)
		}
		if err != nil {
			return err
		}
		keysFrom[i] = jwksURL
		if is.Opaque {
			opaque = newOpaque(is, ep, vopts)
		}
	}
	if len(g.keySets) == 1 {
		g.jwts = g.keySets[0]
	} else {
		is, err := tokenvalidator.NewIssuers(g.keySets...)
		if err != nil {
			return err
		}
		g.jwts = is
	}
	metrics.Register(o.reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "authgate_authn_issuers_unready",
		Help: "Issuers without a usable key set, whose tokens are answered 503 until their provider answers: 0 in a healthy service.",
	}, g.countUnready))

	var store refresh.Store
	var shared *cache.Memcache
	if len(cfg.MemcacheServers) > 0 {
		cluster, err := cache.NewCluster(cfg.MemcacheServers, cfg.Memcache,
			cache.WithLogger(o.logger), cache.WithRegisterer(o.reg), cache.WithTracerProvider(o.tp))
		if err != nil {
			return err
		}
		g.cluster = cluster
		shared, err = cache.NewMemcache(cluster, cache.MemcacheConfig{
			Namespace: cfg.Namespace,
			HashKey:   derive(cfg.nameSecret(), "cache names"),
			MACKeys:   keys(cfg, "cache mac", func(id byte, k []byte) cache.MACKey { return cache.MACKey{ID: id, Secret: k} }),
		}, cache.WithLogger(o.logger), cache.WithRegisterer(o.reg), cache.WithClock(o.now))
		if err != nil {
			return err
		}
		opts = append(slices.Clone(opts), WithMemcache(shared))
		store = refresh.NewMemcacheStore(cluster)
	}
	validator, err := g.validator(cfg, issuers, opaque, vopts)
	if err != nil {
		return err
	}
	a, err := NewAuthenticator(validator, cfg.Cache, opts...)
	if err != nil {
		return err
	}
	g.Authenticator = a
	if g.Middleware, err = g.middleware(cfg, a, shared, vopts); err != nil {
		return err
	}
	if store == nil {
		store = refresh.NewMemoryStore(o.now)
	}
	for i, is := range issuers {
		if is.ClientID == "" {
			continue
		}
		ropts := []refresh.Option{refresh.WithTokenCache(a), refresh.WithLogger(o.logger), refresh.WithRegisterer(o.reg), refresh.WithClock(o.now),
			refresh.WithTracerProvider(o.tp)}
		if o.httpClient != nil {
			ropts = append(ropts, refresh.WithHTTPClient(o.httpClient))
		}
		svc, err := refresh.New(store, g.jwts, refresh.Config{
			Endpoints:      g.endpoints[i].refreshEndpoints,
			Issuer:         is.Issuer,
			ClientID:       is.ClientID,
			ClientSecret:   is.ClientSecret,
			Audience:       is.Audiences[0],
			Scopes:         cfg.LoginScopes,
			Namespace:      cfg.Namespace,
			HashKey:        derive(cfg.nameSecret(), "refresh names"),
			EncryptionKeys: keys(cfg, "refresh records", func(id byte, k []byte) refresh.Key { return refresh.Key{ID: id, Secret: k} }),
			Realm:          cfg.Realm,
		}, ropts...)
		if err != nil {
			return err
		}
		g.refreshBy[is.Issuer] = svc
		if g.Refresh == nil {
			g.Refresh = svc
		}
	}
	g.logStart(issuers, keysFrom, cfg, o)
	return nil
}

// middleware is the Gate's middleware over a, with DPoP proofs checked —
// each accepted once, across the instances sharing memcached — when
// cfg.DPoP asks for them.
func (g *Gate) middleware(cfg SetupConfig, a *Authenticator, shared *cache.Memcache, vopts []tokenvalidator.Option) (*middleware.Middleware, error) {
	mcfg := middleware.Config{Realm: cfg.Realm, DPoP: cfg.DPoP, PublicURL: cfg.PublicURL}
	if cfg.DPoP == middleware.DPoPOff {
		return middleware.New(a, mcfg)
	}
	replay := cache.NewReplay(cfg.DPoPReplay)
	if shared != nil {
		var err error
		if replay, err = cache.NewSharedReplay(shared, cfg.DPoPReplay); err != nil {
			return nil, err
		}
	}
	proofs, err := tokenvalidator.NewDPoP(replay, cfg.DPoPProofs, vopts...)
	if err != nil {
		return nil, err
	}
	return middleware.New(a, mcfg, middleware.WithProofVerifier(proofs))
}

// validator is what the Authenticator validates with: the issuers' keys
// and the opaque issuer, or the token service.
func (g *Gate) validator(cfg SetupConfig, issuers []IssuerConfig, opaque tokenvalidator.Validator, vopts []tokenvalidator.Option) (tokenvalidator.Validator, error) {
	if cfg.TokenService == nil {
		return tokenvalidator.Auto{JWT: g.jwts, Opaque: opaque}, nil
	}
	var iss, aud []string
	for _, is := range issuers {
		iss = append(iss, is.Issuer)
		aud = append(aud, is.Audiences...)
	}
	return tokenvalidator.NewRemote(tokenvalidator.RemoteConfig{
		URL: cfg.TokenService.URL, ClientID: cfg.TokenService.ClientID, ClientSecret: cfg.TokenService.ClientSecret,
		Issuers: iss, Audiences: aud, Mapping: issuers[0].Mapping,
	}, vopts...)
}

// issuer discovers one issuer's endpoints and builds its JWT validator,
// failing — unless cfg.StartWithoutProvider — when the issuer cannot be
// used. jwksURL is where its keys come from: "" when discovery has not
// said yet.
func (g *Gate) issuer(ctx context.Context, cfg SetupConfig, is IssuerConfig, ep *discovered, vopts []tokenvalidator.Option, o options) (v *tokenvalidator.JWKS, jwksURL string, err error) {
	jwksURL = is.JWKSURL
	if !template(is.Issuer) {
		var md *tokenvalidator.Metadata
		if md, err = ep.get(ctx); err == nil && jwksURL == "" {
			jwksURL = md.JWKSURI
		}
	}
	if err != nil && !cfg.StartWithoutProvider {
		return nil, jwksURL, fmt.Errorf("authn: issuer %q: %w", is.Issuer, err)
	}
	v, verr := tokenvalidator.NewJWKS(ctx, tokenvalidator.JWKSConfig{
		Issuer: is.Issuer, Audiences: is.Audiences, JWKSURL: jwksURL, Mapping: is.Mapping,
		Leeway: is.Leeway, RequireType: is.RequireType,
	}, vopts...)
	if verr != nil {
		return nil, jwksURL, fmt.Errorf("authn: issuer %q: %w", is.Issuer, verr)
	}
	if err == nil {
		err = v.Ready(ctx)
	}
	switch {
	case err == nil:
	case cfg.StartWithoutProvider:
		o.logger.Warn("authn: starting without this issuer's keys; its tokens are answered 503 until it answers",
			zap.String("issuer", is.Issuer), zap.Error(err))
	default:
		return v, jwksURL, fmt.Errorf("authn: issuer %q: %w", is.Issuer, err)
	}
	return v, jwksURL, nil
}

// Discovery returns issuer's OpenID discovery document — its authorization
// endpoint for a code-flow login, say — fetching it if Setup could not.
func (g *Gate) Discovery(ctx context.Context, issuer string) (*tokenvalidator.Metadata, error) {
	for _, ep := range g.endpoints {
		if ep.issuer == issuer {
			return ep.get(ctx)
		}
	}
	return nil, fmt.Errorf("authn: %q is not an issuer of this Gate", issuer)
}

// template reports whether issuer is a multi-tenant issuer template.
func template(issuer string) bool { return strings.Contains(issuer, claims.TenantPlaceholder) }

// RefreshFor returns the refresh service of issuer, nil when it has no
// client.
func (g *Gate) RefreshFor(issuer string) *refresh.Service { return g.refreshBy[issuer] }

// Ready reports whether every issuer has a usable key set — for readiness
// probes: nil, or what is wrong with each issuer that has none. It does no
// I/O.
func (g *Gate) Ready(ctx context.Context) error { return g.jwts.Ready(ctx) }

// countUnready counts the issuers without a usable key set.
func (g *Gate) countUnready() float64 {
	n := 0
	for _, v := range g.keySets {
		if v.Ready(context.Background()) != nil {
			n++
		}
	}
	return float64(n)
}

// logStart says at info what the Gate serves and where its keys come from:
// per issuer, its audiences, claim preset and JWKS URL (keysFrom, parallel
// to issuers; "" while discovery has not answered); then the shared tier,
// the DPoP mode and the token service validation is delegated to, if any.
func (g *Gate) logStart(issuers []IssuerConfig, keysFrom []string, cfg SetupConfig, o options) {
	for i, is := range issuers {
		keys := keysFrom[i]
		if keys == "" {
			keys = "discovery, once the provider answers"
		}
		o.logger.Info("authn: accepting tokens",
			zap.String("issuer", is.Issuer), zap.Strings("audiences", is.Audiences),
			zap.Stringer("preset", is.Mapping.Preset), zap.String("jwks_url", keys),
			zap.Bool("opaque_tokens", is.Opaque), zap.Bool("logins", g.refreshBy[is.Issuer] != nil))
	}
	fields := []zap.Field{zap.Strings("memcached", cfg.MemcacheServers), zap.String("namespace", cfg.Namespace),
		zap.Stringer("dpop", cfg.DPoP)}
	if cfg.TokenService != nil {
		fields = append(fields, zap.String("token_service", redacted(cfg.TokenService.URL)))
	}
	o.logger.Info("authn: gate ready", fields...)
}

// redacted is rawURL with any password in it masked, for a log.
func redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Close stops the Gate's background work (key-set refreshes, discoveries
// in flight, the probes of memcached nodes that are out).
func (g *Gate) Close() error {
	var errs []error
	for _, v := range g.keySets {
		errs = append(errs, v.Close())
	}
	for _, ep := range g.endpoints {
		ep.close()
	}
	if g.cluster != nil {
		errs = append(errs, g.cluster.Close())
	}
	return errors.Join(errs...)
}

// nameSecret is what the names of entries and records are keyed with.
func (cfg SetupConfig) nameSecret() []byte {
	if cfg.NameSecret != nil {
		return cfg.NameSecret
	}
	return cfg.Secret
}

// keys returns the keys for purpose: the current secret's first (it writes),
// then the previous ones' (they are read), each under its secret's id.
func keys[K any](cfg SetupConfig, purpose string, key func(id byte, secret []byte) K) []K {
	ks := []K{key(cfg.secretID(), derive(cfg.Secret, purpose))}
	for _, p := range cfg.PreviousSecrets {
		ks = append(ks, key(p.ID, derive(p.Secret, purpose)))
	}
	return ks
}

func (cfg SetupConfig) secretID() byte {
	if cfg.SecretID == 0 {
		return 1
	}
	return cfg.SecretID
}

// checkSecrets makes sure the secrets can key what Setup builds.
func (cfg SetupConfig) checkSecrets() error {
	ids := map[byte]bool{cfg.secretID(): true}
	for _, p := range cfg.PreviousSecrets {
		switch {
		case len(p.Secret) < 32:
			return fmt.Errorf("authn: SetupConfig.PreviousSecrets: secret %d must be at least 32 bytes", p.ID)
		case ids[p.ID]:
			return fmt.Errorf("authn: SetupConfig: secret id %d given twice", p.ID)
		}
		ids[p.ID] = true
	}
	if cfg.NameSecret != nil && len(cfg.NameSecret) < 32 {
		return errors.New("authn: SetupConfig.NameSecret must be at least 32 bytes")
	}
	return nil
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
