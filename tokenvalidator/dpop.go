package tokenvalidator

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/dpop"
)

// ReplayCache remembers the DPoP proofs a [DPoP] verifier accepted, so
// that each is accepted once (RFC 9449 §11.1). *cache.Replay implements
// it: in one process, or on every instance sharing memcached.
type ReplayCache interface {
	// Remember records id until expires and reports whether it is new:
	// false when id was recorded before and has not expired. An error
	// means it could not tell.
	Remember(ctx context.Context, id [32]byte, expires time.Time) (bool, error)
}

// DPoPConfig configures a [DPoP] verifier. Zero values are the documented
// defaults.
type DPoPConfig struct {
	// Algorithms is the allowlist of proof signature algorithms, sent to
	// clients in the DPoP challenge's algs. Default: ES256, ES384, ES512,
	// EdDSA, PS256, PS384, PS512, RS256, RS384, RS512. Only asymmetric
	// algorithms can be allowed (RFC 9449 §4.2).
	Algorithms []string
	// MaxAge is how long after its iat a proof is accepted. Default 60s.
	MaxAge time.Duration
	// Leeway is the clock skew tolerated on iat, either way: a proof is
	// accepted from iat−Leeway to iat+MaxAge+Leeway. Default 30s.
	Leeway time.Duration
	// MaxProofBytes bounds a proof's length. Default 8 KiB (an RSA-4096 jwk
	// takes under 1 KiB).
	MaxProofBytes int
	// NonceSecret, when set, makes the verifier demand server nonces (RFC
	// 9449 §9): a proof must carry one it issued within the last two
	// NonceLifetimes. Nonces are an HMAC of the time under this secret, so
	// every instance configured with the same secret (at least 32 bytes)
	// issues and accepts the same ones, and no state is kept.
	NonceSecret []byte
	// NonceLifetime is how long one nonce is handed out; it is accepted for
	// one lifetime more. Default 5 minutes.
	NonceLifetime time.Duration
}

// defaultProofAlgorithms are the asymmetric algorithms jwx verifies, in the
// order the challenge lists them.
var defaultProofAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}

// DPoP verifies the DPoP proofs (RFC 9449) that come with DPoP-bound access
// tokens at a resource server: the JWS with its own public key in the jwk
// header, and its claims against the request, the token and what it saw
// before. It is safe for concurrent use.
type DPoP struct {
	cfg       DPoPConfig
	allowed   map[jwa.SignatureAlgorithm]bool
	verifiers map[jwa.SignatureAlgorithm]jws.Verifier // one per allowed algorithm; jwx's are stateless
	replay    ReplayCache
	nonces    *nonces // nil: nonces are not demanded
	headers   proofHeaders
	now       func() time.Time
}

// NewDPoP returns a verifier that remembers accepted proofs in replay. Of
// opts only WithClock applies.
func NewDPoP(replay ReplayCache, cfg DPoPConfig, opts ...Option) (*DPoP, error) {
	if replay == nil {
		return nil, errors.New("tokenvalidator: NewDPoP needs a ReplayCache (cache.NewReplay for one instance, cache.NewSharedReplay for several)")
	}
	if cfg.Algorithms == nil {
		cfg.Algorithms = defaultProofAlgorithms
	}
	if len(cfg.Algorithms) == 0 {
		return nil, errors.New("tokenvalidator: DPoPConfig.Algorithms is empty")
	}
	allowed := make(map[jwa.SignatureAlgorithm]bool, len(cfg.Algorithms))
	verifiers := make(map[jwa.SignatureAlgorithm]jws.Verifier, len(cfg.Algorithms))
	for _, name := range cfg.Algorithms {
		if !slices.Contains(defaultProofAlgorithms, name) {
			return nil, fmt.Errorf("tokenvalidator: %q is not an asymmetric signature algorithm a DPoP proof may use", name)
		}
		alg := jwa.SignatureAlgorithm(name)
		verifier, err := jws.NewVerifier(alg)
		if err != nil {
			return nil, fmt.Errorf("tokenvalidator: %s: %w", name, err)
		}
		allowed[alg], verifiers[alg] = true, verifier
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	cfg.MaxAge = orDuration(cfg.MaxAge, time.Minute)
	cfg.Leeway = orDuration(cfg.Leeway, 30*time.Second)
	cfg.NonceLifetime = orDuration(cfg.NonceLifetime, 5*time.Minute)
	if cfg.MaxProofBytes == 0 {
		cfg.MaxProofBytes = 8 << 10
	}
	if cfg.MaxAge < 0 || cfg.Leeway < 0 || cfg.NonceLifetime < time.Second || cfg.MaxProofBytes < 0 {
		return nil, errors.New("tokenvalidator: negative duration or size in DPoPConfig, or NonceLifetime under a second")
	}
	o := buildOptions(0, opts)
	v := &DPoP{cfg: cfg, allowed: allowed, verifiers: verifiers, replay: replay, now: o.now}
	if cfg.NonceSecret != nil {
		if len(cfg.NonceSecret) < 32 {
			return nil, errors.New("tokenvalidator: DPoPConfig.NonceSecret must be at least 32 bytes")
		}
		v.nonces = newNonces(cfg.NonceSecret, cfg.NonceLifetime)
	}
	return v, nil
}

// Algorithms returns the accepted proof algorithms, for the DPoP
// challenge's algs attribute.
func (v *DPoP) Algorithms() []string { return slices.Clone(v.cfg.Algorithms) }

// VerifyProof checks proof, the DPoP header of a request with method to
// uri that presented accessToken, whose Principal is bound to the key with
// thumbprint jkt (claims.Confirmation.JKT). It makes every check of RFC
// 9449 §4.3: one compact JWS; typ dpop+jwt; an allowed asymmetric alg that
// fits a public jwk (no private members; RSA of 2048 bits or more); the
// signature; jti, htm, htu, iat and ath present and typed; htm = method;
// htu = uri, both normalized (RFC 3986 §6.2.2–6.2.3), query and fragment
// ignored; iat within [now−MaxAge−Leeway, now+Leeway]; ath =
// base64url(SHA-256(accessToken)); the jwk's RFC 7638 thumbprint = jkt;
// a current server nonce, when NonceSecret is set; and, last, that no
// proof with the same key and jti was accepted before.
//
// It returns a *claims.ProofError (claims.ErrInvalidProof) for a proof
// that fails, or an error matching claims.ErrUnavailable when the replay
// cache could not be asked. nonce, when not empty, is a nonce for the
// client's next proofs, to send in a DPoP-Nonce header: with a
// claims.ProofNonce error, or with success once the proof's nonce is no
// longer the current one.
func (v *DPoP) VerifyProof(ctx context.Context, proof, accessToken, jkt, method, uri string) (nonce string, err error) {
	if accessToken == "" || jkt == "" {
		return "", errors.New("tokenvalidator: VerifyProof needs the access token and its bound key's thumbprint")
	}
	now := v.now()
	pc, err := v.parse(proof)
	if err != nil {
		return "", err
	}
	if err := v.check(pc, accessToken, jkt, method, uri, now); err != nil {
		return "", err
	}
	if v.nonces != nil {
		current, fresh := v.nonces.check(pc.nonce, now)
		if !current {
			return v.nonces.issue(now), proofErr(claims.ProofNonce, "no nonce, or not a current one")
		}
		if !fresh {
			nonce = v.nonces.issue(now)
		}
	}
	first, err := v.replay.Remember(ctx, replayID(jkt, pc.jti), pc.iat.Add(v.cfg.MaxAge+2*v.cfg.Leeway))
	switch {
	case err != nil:
		return "", fmt.Errorf("tokenvalidator: DPoP replay check: %w: %w", claims.ErrUnavailable, err)
	case !first:
		return "", proofErr(claims.ProofReplay, "jti seen before")
	}
	if !pc.cached {
		v.headers.put(proof[:strings.IndexByte(proof, '.')], pc.head)
	}
	return nonce, nil
}

// proofClaims is what a verified proof says.
type proofClaims struct {
	head               *proofHeader
	cached             bool // whether head came from the cache
	jti, htm, htu, ath string
	nonce              string // "" when it has none
	iat                time.Time
}

// parse verifies proof's JWS and decodes its claims. The JWS is read here
// rather than by jws.Verify: a compact JWS with a handful of header members
// is quick to read strictly, a client's every proof has the same header,
// whose checks and key are kept (see proofHeaders), and jws.Verify's
// generality cost as much as the signature check itself.
func (v *DPoP) parse(proof string) (*proofClaims, error) {
	if len(proof) > v.cfg.MaxProofBytes {
		return nil, proofErr(claims.ProofMalformed, "longer than MaxProofBytes")
	}
	h64, p64, s64, err := splitCompact(proof)
	if err != nil {
		return nil, badProof(claims.ProofMalformed, err)
	}
	pb, err1 := decodeSegment(p64)
	sig, err2 := decodeSegment(s64)
	if errors.Join(err1, err2) != nil {
		return nil, proofErr(claims.ProofMalformed, "not base64url")
	}
	pc := &proofClaims{}
	if pc.head, pc.cached = v.headers.get(h64); !pc.cached {
		if pc.head, err = v.parseHeader(h64); err != nil {
			return nil, err
		}
	}
	if err := v.verifiers[pc.head.alg].Verify([]byte(proof[:len(h64)+1+len(p64)]), sig, pc.head.key.raw); err != nil {
		return nil, badProof(claims.ProofSignature, nil)
	}
	if err := decodeProofClaims(pb, pc); err != nil {
		return nil, badProof(claims.ProofMalformed, err)
	}
	return pc, nil
}

// proofHeader is what a proof's protected header says, checked: its
// algorithm and its jwk, ready to verify with.
type proofHeader struct {
	alg jwa.SignatureAlgorithm
	key *verifyKey
	jkt string // the jwk's RFC 7638 thumbprint
}

// parseHeader checks a proof's protected header (base64url): typ
// dpop+jwt, an allowed alg that fits the jwk, a public jwk, no crit or b64.
func (v *DPoP) parseHeader(h64 string) (*proofHeader, error) {
	hb, err := decodeSegment(h64)
	var h map[string]json.RawMessage
	if err != nil || !isJSONObject(hb) || json.Unmarshal(hb, &h) != nil {
		return nil, proofErr(claims.ProofMalformed, "the header is not a JSON object")
	}
	var typ, name string
	_ = decodeString(h["typ"], &typ)
	_ = decodeString(h["alg"], &name)
	alg := jwa.SignatureAlgorithm(name)
	switch typ = strings.ToLower(typ); {
	case typ != "dpop+jwt" && typ != "application/dpop+jwt":
		return nil, badProof(claims.ProofType, nil)
	case !v.allowed[alg]:
		return nil, badProof(claims.ProofAlgorithm, nil)
	case h["crit"] != nil:
		return nil, proofErr(claims.ProofMalformed, "crit header: no extension is understood")
	case h["b64"] != nil:
		return nil, proofErr(claims.ProofMalformed, "b64 header is not supported")
	case h["jwk"] == nil:
		return nil, proofErr(claims.ProofKey, "no jwk header")
	}
	key, jkt, err := parseProofKey(h["jwk"], alg)
	if err != nil {
		return nil, badProof(claims.ProofKey, err)
	}
	if key.alg != alg {
		return nil, proofErr(claims.ProofAlgorithm, "alg does not fit the jwk")
	}
	return &proofHeader{alg: alg, key: key, jkt: jkt}, nil
}

// check compares a verified proof with the request, the token and the
// clock.
func (v *DPoP) check(pc *proofClaims, accessToken, jkt, method, uri string, now time.Time) error {
	switch {
	case pc.htm != method:
		return proofErr(claims.ProofMethod, "htm is not the request's method")
	case pc.htu != uri && !sameURI(pc.htu, uri):
		return proofErr(claims.ProofURI, "htu is not the request's URI")
	case pc.iat.After(now.Add(v.cfg.Leeway)):
		return proofErr(claims.ProofIssuedAt, "iat is in the future")
	case pc.iat.Before(now.Add(-v.cfg.MaxAge - v.cfg.Leeway)):
		return proofErr(claims.ProofIssuedAt, "iat is too old")
	case !dpop.TokenHashMatches(pc.ath, accessToken):
		return proofErr(claims.ProofTokenHash, "ath is not the access token's hash")
	case pc.head.jkt != jkt:
		return proofErr(claims.ProofBinding, "the jwk's thumbprint is not the token's cnf.jkt")
	}
	return nil
}

// sameURI reports whether two URIs are equal once normalized.
func sameURI(a, b string) bool {
	na, err := dpop.NormalizeURI(a)
	if err != nil {
		return false
	}
	nb, err := dpop.NormalizeURI(b)
	return err == nil && na == nb
}

func proofErr(c claims.ProofCheck, detail string) error {
	return badProof(c, errors.New(detail))
}

// badProof returns the error for a proof that failed check c.
func badProof(c claims.ProofCheck, detail error) error {
	return fmt.Errorf("tokenvalidator: %w", claims.InvalidProof(c, detail))
}

// replayID names a proof in the replay cache: its key and its jti, so that
// one client's jti can never burn another's.
func replayID(jkt, jti string) [32]byte {
	h := sha256.New()
	h.Write([]byte("authgate dpop jti v1\x00"))
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	return [32]byte(h.Sum(nil))
}

// decodeProofClaims reads the claims of a proof presented with an access
// token: jti, htm, htu and ath strings, iat a NumericDate, nonce a string
// when present. A map, not a struct: encoding/json matches struct fields
// without regard to case, and "HTM" must not pass for htm.
func decodeProofClaims(payload []byte, pc *proofClaims) error {
	var raw map[string]json.RawMessage
	if !isJSONObject(payload) || json.Unmarshal(payload, &raw) != nil {
		return errors.New("claims are not a JSON object")
	}
	for _, f := range [...]struct {
		name string
		dst  *string
	}{{"jti", &pc.jti}, {"htm", &pc.htm}, {"htu", &pc.htu}, {"ath", &pc.ath}} {
		if err := decodeString(raw[f.name], f.dst); err != nil || *f.dst == "" {
			return fmt.Errorf("claim %s is missing or not a non-empty string", f.name)
		}
	}
	if v, ok := raw["nonce"]; ok {
		if err := decodeString(v, &pc.nonce); err != nil {
			return errors.New("claim nonce is not a string")
		}
	}
	iat, err := decodeNumericDate(raw["iat"])
	if err != nil {
		return errors.New("claim iat is missing or not a NumericDate")
	}
	pc.iat = iat
	return nil
}

func decodeString(v json.RawMessage, dst *string) error {
	if len(v) == 0 || v[0] != '"' {
		return errors.New("not a string")
	}
	return json.Unmarshal(v, dst)
}

// decodeNumericDate reads a JSON number of seconds since the epoch (a
// fraction is dropped); strings, even of digits, are not numbers.
func decodeNumericDate(v json.RawMessage) (time.Time, error) {
	s := string(v)
	if len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return time.Time{}, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 253402300799 { // up to year 9999
		return time.Time{}, errors.New("not a NumericDate")
	}
	return time.Unix(int64(f), 0), nil
}

// privateMembers are the JWK members of private keys (RFC 7518 §6.2.2,
// §6.3.2, RFC 8037 §2) and of symmetric ones (§6.4.1).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseProofKey reads a jwk header: a public signature key (RSA of 2048
// bits or more, EC on P-256/384/521, Ed25519) with no private member, for
// the proof's alg. It returns the key and its thumbprint.
func parseProofKey(raw []byte, alg jwa.SignatureAlgorithm) (*verifyKey, string, error) {
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, "", err
	}
	if private, err := jwk.IsPrivateKey(key); err != nil || private {
		return nil, "", errors.New("jwk is a private or symmetric key")
	}
	for _, m := range privateMembers {
		if _, ok := key.PrivateParams()[m]; ok {
			return nil, "", fmt.Errorf("jwk has the private member %q", m)
		}
	}
	// An RSA proof key names no alg, as a rule: the proof's own decides
	// which of the family it verifies (one per proof, RFC 8725 §3.1).
	rsaAlg := jwa.RS256
	if slices.Contains(rsaAlgorithms, alg) {
		rsaAlg = alg
	}
	vk, err := newVerifyKey(key, rsaAlg)
	if err != nil {
		return nil, "", err
	}
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, "", err
	}
	return vk, base64.RawURLEncoding.EncodeToString(sum), nil
}

// maxProofHeaders bounds the proof headers a verifier keeps checked.
const maxProofHeaders = 10_000

// proofHeaders keeps the checked headers of proofs that passed every
// check, by their base64url form: a client's proofs all have one header
// (typ, alg, its key), so its later proofs cost no header decoding or key
// parsing. Only headers of whole good proofs, by keys bound to tokens, are
// kept, and the cache starts over when full. Safe for concurrent use.
type proofHeaders struct {
	mu sync.RWMutex // guards m
	m  map[string]*proofHeader
}

func (c *proofHeaders) get(h64 string) (*proofHeader, bool) {
	c.mu.RLock()
	h, ok := c.m[h64]
	c.mu.RUnlock()
	return h, ok
}

func (c *proofHeaders) put(h64 string, h *proofHeader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxProofHeaders {
		c.m = make(map[string]*proofHeader)
	}
	c.m[h64] = h
}
