package tokenvalidator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"go.uber.org/zap"

	"github.com/authgate/authgate/claims"
)

// JWKSConfig configures a [JWKS] validator. Zero values are the documented
// defaults; Issuer and Audiences are required.
type JWKSConfig struct {
	// Issuer is the exact iss a token must carry, e.g.
	// "https://tenant.auth0.com/" (Auth0's has a trailing slash) — or, for a
	// multi-tenant Microsoft Entra ID app, the issuer template
	// "https://login.microsoftonline.com/{tenantid}/v2.0": a token is then
	// accepted when its iss is the template with its own tenant (tid, read
	// by claims.PresetEntra into Principal.OrgID) in place of {tenantid}.
	// A template needs JWKSURL, since there is no discovery document of its
	// own (Entra's: https://login.microsoftonline.com/common/discovery/v2.0/keys).
	Issuer string
	// Audiences lists this API's identifiers; a token's aud must name one.
	Audiences []string
	// JWKSURL is where the issuer publishes its keys. Default: the jwks_uri
	// of the issuer's OpenID discovery document, fetched on first use.
	JWKSURL string
	// Algorithms is the allowlist of signature algorithms. Default: RS256,
	// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA. "none" is
	// never allowed; HS256/384/512 only together with SharedSecret.
	Algorithms []string
	// RSAKeyAlgorithm is the one algorithm a published RSA key that names
	// no alg verifies (RFC 8725 §3.1: one algorithm per key): RS256 (the
	// default), RS384, RS512, PS256, PS384 or PS512. An EC key without alg
	// verifies its curve's algorithm, an Ed25519 key EdDSA; a key that
	// names its alg verifies that one only.
	RSAKeyAlgorithm string
	// SharedSecret, when set, verifies tokens signed with an HMAC algorithm
	// listed in Algorithms. HMAC keys are never taken from the JWKS.
	SharedSecret []byte
	// Leeway is the clock skew tolerated on exp, nbf and iat. Default 30s.
	Leeway time.Duration
	// RequireType demands an RFC 9068 access token: the header typ
	// "at+jwt" (or "application/at+jwt") and the claims RFC 9068 §2.2
	// requires — iat, jti and client_id beside iss, exp, aud and sub, which
	// are always required. Off by default because Auth0's default token
	// dialect sends "JWT". Either way a typ naming another kind of JWT (an
	// ID token's, a logout token's…) is refused.
	RequireType bool
	// MaxTokenBytes bounds the token's length. Default
	// DefaultMaxTokenBytes (16 KiB).
	MaxTokenBytes int
	// RefreshInterval is how often the JWKS is re-fetched in the background.
	// Default 10 minutes; at least one second.
	RefreshInterval time.Duration
	// UnknownKeyInterval is the least time between two fetches forced by a
	// token whose kid is not in the key set, so that a flood of made-up kids
	// cannot become a flood of fetches. After a failed fetch the next one is
	// allowed sooner: after 1s, doubling up to this interval. Default 30s.
	// While the limit holds, an unknown kid is answered 503 (retry when the
	// next fetch is allowed) if the token says it was issued after the key
	// set was fetched, and 401 otherwise; see [JWKS.Validate].
	UnknownKeyInterval time.Duration
	// UnknownKeyWait bounds how long a request with an unknown kid waits for
	// the fetch in flight. Default 1s.
	UnknownKeyWait time.Duration
	// FetchTimeout bounds each discovery or JWKS fetch. Default 5s.
	FetchTimeout time.Duration
	// Mapping says where the provider puts organization, permissions and
	// custom claims, and which clients are first-party.
	Mapping claims.Mapping
}

var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// JWKS validates JWT access tokens locally against an issuer's published
// keys. It is safe for concurrent use; Close stops its background refresh.
type JWKS struct {
	cfg     JWKSConfig
	allowed map[jwa.SignatureAlgorithm]bool
	keys    *keySet
	o       options
	// The key providers of jws.Verify, one per verifyMode, made once: a
	// pointer to one fits in an interface without an allocation per token.
	providers [numVerifyModes]keyProvider
}

// NewJWKS checks cfg, makes the first fetch of the issuer's keys, waiting
// for it within ctx, and starts their background refresh. A first fetch
// that fails is not an error: the validator answers ErrUnavailable and
// fetches again, after a backoff, in the background and on later requests
// — so a service can start while its provider is down. [JWKS.Ready] says
// whether keys have been loaded, and if not why. Configuration mistakes
// are errors.
func NewJWKS(ctx context.Context, cfg JWKSConfig, opts ...Option) (*JWKS, error) {
	cfg, allowed, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	o := buildOptions(cfg.FetchTimeout, opts)
	v := &JWKS{cfg: cfg, allowed: allowed, keys: newKeySet(cfg, allowed, o), o: o}
	for m := range v.providers {
		v.providers[m] = keyProvider{v: v, mode: verifyMode(m)}
	}
	if err := v.keys.start(ctx); err != nil {
		o.logger.Warn("tokenvalidator: no keys yet; fetching again after a backoff", zap.String("issuer", cfg.Issuer), zap.Error(err))
	}
	return v, nil
}

func (cfg JWKSConfig) withDefaults() (JWKSConfig, map[jwa.SignatureAlgorithm]bool, error) {
	switch {
	case cfg.Issuer == "":
		return cfg, nil, errors.New("tokenvalidator: JWKSConfig.Issuer is required")
	case isTemplate(cfg.Issuer) && cfg.JWKSURL == "":
		return cfg, nil, errors.New("tokenvalidator: JWKSConfig.Issuer is an issuer template: JWKSURL is required")
	}
	if len(cfg.Audiences) == 0 || slices.Contains(cfg.Audiences, "") {
		return cfg, nil, errors.New("tokenvalidator: JWKSConfig.Audiences needs at least one non-empty audience")
	}
	if cfg.Algorithms == nil {
		cfg.Algorithms = defaultAlgorithms
	}
	allowed := make(map[jwa.SignatureAlgorithm]bool, len(cfg.Algorithms))
	for _, name := range cfg.Algorithms {
		alg := jwa.SignatureAlgorithm(name)
		switch {
		case alg == jwa.NoSignature || strings.EqualFold(name, "none"):
			return cfg, nil, errors.New(`tokenvalidator: algorithm "none" can never be allowed`)
		case isHMAC(alg) && len(cfg.SharedSecret) == 0:
			return cfg, nil, fmt.Errorf("tokenvalidator: %s needs SharedSecret (HMAC keys never come from a JWKS)", name)
		case !isHMAC(alg) && !slices.Contains(defaultAlgorithms, name):
			return cfg, nil, fmt.Errorf("tokenvalidator: unsupported algorithm %q", name)
		}
		allowed[alg] = true
	}
	if len(allowed) == 0 {
		return cfg, nil, errors.New("tokenvalidator: JWKSConfig.Algorithms is empty")
	}
	if cfg.RSAKeyAlgorithm == "" {
		cfg.RSAKeyAlgorithm = string(jwa.RS256)
	}
	if !slices.Contains(rsaAlgorithms, jwa.SignatureAlgorithm(cfg.RSAKeyAlgorithm)) {
		return cfg, nil, fmt.Errorf("tokenvalidator: JWKSConfig.RSAKeyAlgorithm %q is not an RSA signature algorithm", cfg.RSAKeyAlgorithm)
	}
	if len(cfg.SharedSecret) > 0 && len(cfg.SharedSecret) < 32 {
		return cfg, nil, errors.New("tokenvalidator: SharedSecret must be at least 32 bytes")
	}
	cfg.Leeway = orDuration(cfg.Leeway, 30*time.Second)
	cfg.RefreshInterval = orDuration(cfg.RefreshInterval, 10*time.Minute)
	cfg.UnknownKeyInterval = orDuration(cfg.UnknownKeyInterval, 30*time.Second)
	cfg.UnknownKeyWait = orDuration(cfg.UnknownKeyWait, time.Second)
	cfg.FetchTimeout = orDuration(cfg.FetchTimeout, 5*time.Second)
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.RefreshInterval < time.Second || cfg.Leeway < 0 || cfg.UnknownKeyInterval < 0 ||
		cfg.UnknownKeyWait < 0 || cfg.FetchTimeout < 0 || cfg.MaxTokenBytes < 0 {
		return cfg, nil, errors.New("tokenvalidator: negative duration or size, or RefreshInterval under a second")
	}
	return cfg, allowed, nil
}

func isHMAC(alg jwa.SignatureAlgorithm) bool {
	return alg == jwa.HS256 || alg == jwa.HS384 || alg == jwa.HS512
}

// Issuer returns the issuer this validator accepts.
func (v *JWKS) Issuer() string { return v.cfg.Issuer }

// Close stops the background refresh of the keys.
func (v *JWKS) Close() error {
	v.keys.close()
	return nil
}

// Ready reports whether v can verify tokens: nil once a usable key set has
// been loaded (and from then on, since the last good keys keep serving when
// fetches fail). Otherwise it waits within ctx for the fetch in flight, if
// any, and returns an error that names the problem: discovery failed, the
// discovery document names another issuer (ErrIssuerMismatch), the JWKS
// cannot be fetched, or it holds no usable key (ErrNoUsableKey). The error
// matches claims.ErrUnavailable when the provider could not be reached or
// answered nonsense, and not when the configuration (here or at the
// provider) is wrong. Ready does no I/O of its own: while no keys are
// loaded the background refresh retries after a backoff (1s, doubling up to
// UnknownKeyInterval). For readiness probes and for failing fast at setup.
func (v *JWKS) Ready(ctx context.Context) error {
	return v.keys.ready(ctx)
}

// Validate verifies token's signature against the issuer's keys and checks
// its header (alg allowlist, alg pinned to the key, typ, no crit or nested
// JWT) and claims (iss, aud, exp, nbf, iat, sub; with RequireType also jti
// and client_id).
//
// A kid that is not in the key set forces a fetch when the rate limit
// allows (see UnknownKeyInterval). When none may start, the answer depends
// on whether the key set can be current: 503 — a *claims.RetryError whose
// After is when the next fetch is allowed — when the latest fetch failed,
// or when the key set was fetched before the token's (unverified) iat, give
// or take Leeway: a rotation this instance cannot have seen. Otherwise 401
// with claims.ReasonUnknownKey. A client with a token from a freshly
// rotated key retries and succeeds; one that invents kids and iats only
// gets 503s, and no extra fetches.
func (v *JWKS) Validate(ctx context.Context, token string) (Result, error) {
	p, err := v.verify(ctx, token, verifyValidate)
	if err != nil {
		return Result{}, err
	}
	return Result{Principal: p, CacheUntil: p.ExpiresAt}, nil
}

// ValidateLocal is Validate without I/O: the same checks and the same
// answer, or ErrNotLocal when the answer needs the provider — the token's
// kid is not in the key set held (or none is held yet), so a fetch may be
// due. See [LocalValidator].
func (v *JWKS) ValidateLocal(ctx context.Context, token string) (Result, error) {
	p, err := v.verify(ctx, token, verifyLocal)
	if err != nil {
		return Result{}, err
	}
	return Result{Principal: p, CacheUntil: p.ExpiresAt}, nil
}

// VerifyIgnoringExpiry makes every check of Validate but exp's: a refresh
// endpoint must accept an expired access token whose signature, issuer and
// audience still hold. Never use it to authorize a request.
func (v *JWKS) VerifyIgnoringExpiry(ctx context.Context, token string) (*claims.Principal, error) {
	return v.verify(ctx, token, verifyIgnoringExpiry)
}

// VerifyIssued verifies a token this service has just received from the
// provider's token endpoint (a login, a refresh, a code exchange), making
// every check of VerifyIgnoringExpiry. Only for such tokens: since they come
// over an authenticated channel, an unknown kid is proof of a key rotation,
// not an attack, so it forces an immediate key-set fetch whatever the
// unknown-kid rate limit (still at most one fetch in flight, which it joins)
// and waits for it within ctx. Once it returns, Validate accepts the token
// at once. If the provider's JWKS still lacks the key, the error is a
// *claims.RetryError (the provider is out of step; the user is not at
// fault). Never pass it a token a client presented.
func (v *JWKS) VerifyIssued(ctx context.Context, token string) (*claims.Principal, error) {
	return v.verify(ctx, token, verifyIssued)
}

// verifyMode says which of the JWKS's entry points is verifying.
type verifyMode uint8

const (
	verifyValidate       verifyMode = iota // Validate: every check
	verifyIgnoringExpiry                   // VerifyIgnoringExpiry: all but exp
	verifyIssued                           // VerifyIssued: all but exp; unknown kids fetch at once
	verifyLocal                            // ValidateLocal: every check; no key-set fetch
	numVerifyModes
)

func (v *JWKS) verify(ctx context.Context, token string, mode verifyMode) (*claims.Principal, error) {
	if len(token) > v.cfg.MaxTokenBytes {
		return nil, invalid(claims.ReasonTooLarge, nil)
	}
	header, payload, signature, err := splitCompact(token)
	if err != nil {
		return nil, invalid(claims.ReasonMalformed, err)
	}
	var body []byte
	if h, ok := parseHeader(header); ok {
		body, err = v.verifyCompact(ctx, token, h, payload, signature, mode)
	} else {
		body, err = v.verifyJWS(ctx, token, mode)
	}
	if err != nil {
		return nil, err
	}
	p, err := v.cfg.Mapping.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("tokenvalidator: %w", err)
	}
	if err := v.checkClaims(p, mode == verifyValidate || mode == verifyLocal); err != nil {
		return nil, err
	}
	if v.cfg.RequireType {
		if err := requireRFC9068(p, body); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// verifyJWS verifies token with jws.Verify, for the headers parseHeader
// leaves to jwx (members beside alg, kid and typ, escapes, non-ASCII), and
// returns its payload.
func (v *JWKS) verifyJWS(ctx context.Context, token string, mode verifyMode) ([]byte, error) {
	payload, err := jws.Verify([]byte(token), jws.WithKeyProvider(&v.providers[mode]), jws.WithContext(ctx))
	if err != nil {
		return nil, verifyError(err)
	}
	return payload, nil
}

// verifyError sorts a jws.Verify failure into the reasons callers see.
func verifyError(err error) error {
	var pe providerError
	switch {
	case errors.As(err, &pe):
		return pe.err // our key provider's verdict, already classified
	case jws.IsVerificationError(err):
		return invalid(claims.ReasonBadSignature, nil)
	default:
		return invalid(claims.ReasonMalformed, errors.New("not a parsable JWS"))
	}
}

// providerError carries the key provider's verdict through jws.Verify, which
// wraps it in text of its own.
type providerError struct{ err error }

func (e providerError) Error() string { return e.err.Error() }

func (v *JWKS) checkClaims(p *claims.Principal, checkExpiry bool) error {
	now := v.o.now()
	leeway := v.cfg.Leeway
	switch {
	case !issuerMatches(v.cfg.Issuer, p.Issuer, p.OrgID):
		return invalid(claims.ReasonIssuer, nil)
	case !slices.ContainsFunc(p.Audience, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }):
		return invalid(claims.ReasonAudience, nil)
	case p.ExpiresAt.IsZero():
		return invalid(claims.ReasonMalformed, errors.New("no exp claim"))
	case p.Subject == "":
		return invalid(claims.ReasonMalformed, errors.New("no sub claim"))
	case checkExpiry && !now.Before(p.ExpiresAt.Add(leeway)):
		return invalid(claims.ReasonExpired, nil)
	case !p.NotBefore.IsZero() && now.Add(leeway).Before(p.NotBefore):
		return invalid(claims.ReasonNotYetValid, errors.New("nbf is in the future"))
	case !p.IssuedAt.IsZero() && now.Add(leeway).Before(p.IssuedAt):
		return invalid(claims.ReasonNotYetValid, errors.New("iat is in the future"))
	}
	return nil
}

// requireRFC9068 checks the claims RFC 9068 §2.2 requires of a JWT access
// token beyond those every token must have (iss, exp, aud, sub).
func requireRFC9068(p *claims.Principal, payload []byte) error {
	var missing string
	switch {
	case p.IssuedAt.IsZero():
		missing = "iat"
	case p.TokenID == "":
		missing = "jti"
	case !hasClaim(payload, "client_id"): // azp alone is not enough
		missing = "client_id"
	default:
		return nil
	}
	return invalid(claims.ReasonMalformed, fmt.Errorf("no %s claim (RFC 9068 §2.2 requires it of an at+jwt token)", missing))
}

// keyProvider checks a JWS's protected header and hands jws the one key that
// may verify it. Doing the checks here, rather than with jwt.WithKeySet,
// closes jwx's gap of not comparing the header alg with the key's.
type keyProvider struct {
	v    *JWKS
	mode verifyMode
}

func (kp *keyProvider) FetchKeys(ctx context.Context, sink jws.KeySink, sig *jws.Signature, msg *jws.Message) error {
	h := sig.ProtectedHeaders()
	_, b64 := h.Get("b64")
	jh := joseHeader{alg: h.Algorithm(), kid: h.KeyID(), typ: h.Type(), cty: h.ContentType(), crit: len(h.Critical()) > 0, b64: b64}
	alg, key, err := kp.v.selectKey(ctx, jh, kp.mode, msg.Payload())
	if err != nil {
		return providerError{err}
	}
	sink.Key(alg, key)
	return nil
}

// joseHeader is what selectKey reads of a protected header.
type joseHeader struct {
	alg           jwa.SignatureAlgorithm
	kid, typ, cty string
	crit          bool // a non-empty crit member
	b64           bool // a b64 member, whatever its value
}

// selectKey checks the protected header and returns the algorithm and the one
// key that may verify the signature. payload (unverified) is read only when
// the kid is unknown, which in verifyLocal mode is ErrNotLocal.
func (v *JWKS) selectKey(ctx context.Context, h joseHeader, mode verifyMode, payload []byte) (jwa.SignatureAlgorithm, any, error) {
	alg := h.alg
	switch {
	case !v.allowed[alg]:
		return "", nil, invalid(claims.ReasonAlgorithm, nil)
	case h.cty != "":
		return "", nil, invalid(claims.ReasonType, errors.New("cty header: nested JWTs are not accepted"))
	case !v.typeAllowed(h.typ):
		return "", nil, invalid(claims.ReasonType, nil)
	case h.crit:
		return "", nil, invalid(claims.ReasonMalformed, errors.New("crit header: no extension is understood"))
	case h.b64:
		return "", nil, invalid(claims.ReasonMalformed, errors.New("b64 header is not supported"))
	}
	if isHMAC(alg) {
		return alg, v.cfg.SharedSecret, nil
	}
	if h.kid == "" {
		return "", nil, invalid(claims.ReasonUnknownKey, errors.New("no kid header"))
	}
	var key *verifyKey
	if mode == verifyLocal {
		if key = v.keys.lookup(h.kid); key == nil {
			return "", nil, ErrNotLocal
		}
	} else {
		var err error
		if key, err = v.keys.key(ctx, h.kid, mode == verifyIssued, payload); err != nil {
			return "", nil, err
		}
	}
	if alg != key.alg {
		return "", nil, invalid(claims.ReasonAlgorithm, errors.New("alg is not the key's"))
	}
	return alg, key.raw, nil
}

// typeAllowed enforces explicit typing (RFC 8725 §3.11, RFC 9068 §4): at+jwt
// always passes; a plain JWT typ, or none, only when RequireType is off.
func (v *JWKS) typeAllowed(typ string) bool {
	switch strings.ToLower(typ) {
	case "at+jwt", "application/at+jwt":
		return true
	case "", "jwt", "application/jwt":
		return !v.cfg.RequireType
	}
	return false
}

// isTemplate reports whether issuer is a multi-tenant issuer template.
func isTemplate(issuer string) bool { return strings.Contains(issuer, claims.TenantPlaceholder) }

// issuerMatches reports whether a token's iss, of tenant, is the configured
// issuer: equal to it, or the template filled with the token's own tenant.
func issuerMatches(configured, iss, tenant string) bool {
	if isTemplate(configured) {
		return claims.MatchIssuerTemplate(configured, iss, tenant)
	}
	return iss == configured
}
