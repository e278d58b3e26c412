package idptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/dpop"
)

// DPoP (RFC 9449) at the token endpoint: a token request with a valid DPoP
// proof gets a DPoP-bound access token (cnf.jkt = the proof key's RFC 7638
// thumbprint, token_type "DPoP"), and a public client's refresh token is
// bound to the key too; DPoPKey makes the proofs a client sends.

// dpopWindow is how far a token request's proof iat may be from the
// server's clock, either way.
const dpopWindow = time.Minute

// DPoPKey is a client's DPoP key pair. Its Proof method makes the proofs a
// client sends with token requests and with requests to a resource server.
// It is safe for concurrent use.
type DPoPKey struct {
	k   *key
	jwk map[string]any // the public key's required members, as the proof header carries it
	jkt string
}

// NewDPoPKey generates a DPoP key for alg: "ES256" (what most clients
// use), "ES384", "ES512", "EdDSA", or "RS256"…"PS512" (RSA 2048).
func NewDPoPKey(alg string) (*DPoPKey, error) {
	k, err := newKey(alg)
	if err != nil {
		return nil, err
	}
	pub := publicJWK(k.public())
	return &DPoPKey{k: k, jwk: pub, jkt: thumbprint(pub)}, nil
}

// Algorithm returns the key's JWS algorithm.
func (k *DPoPKey) Algorithm() string { return k.k.alg }

// Thumbprint returns the key's RFC 7638 SHA-256 JWK thumbprint, base64url:
// the cnf.jkt of tokens bound to it.
func (k *DPoPKey) Thumbprint() string { return k.jkt }

// PublicJWK returns the public key as a JWK (a fresh map), as a proof's
// jwk header carries it.
func (k *DPoPKey) PublicJWK() map[string]any { return clone(k.jwk) }

// PrivateJWK returns the key with its private members (d, and p, q… for
// RSA), for the negative case of a proof that sends them.
func (k *DPoPKey) PrivateJWK() map[string]any {
	j := clone(k.jwk)
	switch priv := k.k.priv.(type) {
	case *ecdsa.PrivateKey:
		d, _ := priv.Bytes() // fixed length; cannot fail for a key newKey made
		j["d"] = b64.EncodeToString(d)
	case ed25519.PrivateKey:
		j["d"] = b64.EncodeToString(priv.Seed())
	case *rsa.PrivateKey:
		j["d"] = b64.EncodeToString(priv.D.Bytes())
		j["p"] = b64.EncodeToString(priv.Primes[0].Bytes())
		j["q"] = b64.EncodeToString(priv.Primes[1].Bytes())
	}
	return j
}

// ProofOption changes a proof, to make the negative cases.
type ProofOption interface{ apply(*proofOptions) }

type proofOptions struct {
	header, claims map[string]any // set (nil: delete) after the defaults
}

type proofOption func(*proofOptions)

func (f proofOption) apply(o *proofOptions) { f(o) }

// WithProofClaim sets the claim name to value after the defaults — "iat"
// a minute ago, "htm" another method, "jti" one used before — or deletes
// it when value is nil.
func WithProofClaim(name string, value any) ProofOption {
	return proofOption(func(o *proofOptions) {
		if o.claims == nil {
			o.claims = map[string]any{}
		}
		o.claims[name] = value
	})
}

// WithProofHeader sets the header member name to value after the defaults
// — "typ" "JWT", "alg" another than the one used, "jwk" another key's or a
// private one (PrivateJWK) — or deletes it when value is nil. The proof is
// signed with the key's own algorithm and key whatever the header says.
func WithProofHeader(name string, value any) ProofOption {
	return proofOption(func(o *proofOptions) {
		if o.header == nil {
			o.header = map[string]any{}
		}
		o.header[name] = value
	})
}

// Proof returns a DPoP proof for a request with method to uri (its query
// and fragment are left out of htu), issued now with a fresh jti: with an
// ath of accessToken unless it is "" (a token request), and a nonce claim
// unless nonce is "". opts change it afterwards.
func (k *DPoPKey) Proof(method, uri, accessToken, nonce string, opts ...ProofOption) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("idptest: DPoP proof for %q: %w", uri, err)
	}
	u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
	header := map[string]any{"typ": "dpop+jwt", "alg": k.k.alg, "jwk": k.jwk}
	claims := map[string]any{"jti": randomID(16), "htm": method, "htu": u.String(), "iat": time.Now().Unix()}
	if accessToken != "" {
		claims["ath"] = dpop.TokenHash(accessToken)
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	var o proofOptions
	for _, opt := range opts {
		opt.apply(&o)
	}
	set(header, o.header)
	set(claims, o.claims)
	return signCompact(header, claims, k.k.alg, k.k.priv)
}

// set applies changes to m: each value set, or its member deleted if nil.
func set(m, changes map[string]any) {
	for name, v := range changes {
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
	}
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	set(c, m)
	return c
}

// publicJWK returns the members of pub's JWK that RFC 7638 hashes: crv,
// kty, x, y for EC; e, kty, n for RSA; crv, kty, x for Ed25519.
func publicJWK(pub crypto.PublicKey) map[string]any {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		raw, _ := pub.Bytes() // 0x04 || X || Y, each size bytes
		return map[string]any{"kty": "EC", "crv": pub.Curve.Params().Name, "x": b64.EncodeToString(raw[1 : 1+size]), "y": b64.EncodeToString(raw[1+size:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub)}
	}
	return nil
}

// thumbprint is RFC 7638's SHA-256 thumbprint of a JWK holding only the
// required members: encoding/json writes a map's members sorted and
// without whitespace, which is the canonical form.
func thumbprint(jwk map[string]any) string {
	b, _ := json.Marshal(jwk) // strings only
	sum := sha256.Sum256(b)
	return b64.EncodeToString(sum[:])
}

// parseJWK reads a proof's jwk header: a public EC (P-256, P-384, P-521),
// RSA (2048 bits or more) or Ed25519 key, with no private member.
func parseJWK(j map[string]any) (crypto.PublicKey, map[string]any, error) {
	str := func(name string) []byte {
		s, _ := j[name].(string)
		b, err := b64.DecodeString(s)
		if err != nil {
			return nil
		}
		return b
	}
	for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := j[m]; ok {
			return nil, nil, fmt.Errorf("jwk has the private member %q", m)
		}
	}
	var pub crypto.PublicKey
	switch j["kty"] {
	case "EC":
		curves := map[any]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		c, ok := curves[j["crv"]]
		if !ok {
			return nil, nil, errors.New("unsupported curve")
		}
		k, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, str("x")...), str("y")...))
		if err != nil {
			return nil, nil, err
		}
		pub = k
	case "RSA":
		n, e := new(big.Int).SetBytes(str("n")), new(big.Int).SetBytes(str("e"))
		if n.BitLen() < 2048 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, nil, errors.New("RSA key too small or exponent out of range")
		}
		pub = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "OKP":
		x := str("x")
		if j["crv"] != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, nil, errors.New("not an Ed25519 key")
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, nil, errors.New("kty is not EC, RSA or OKP")
	}
	return pub, publicJWK(pub), nil
}

// dpopProof checks the DPoP header of a token request (RFC 9449 §4.3, with
// htm POST and htu the token endpoint) and returns its key's thumbprint,
// or "" when the request has none.
func (s *Server) dpopProof(r *http.Request) (string, error) {
	values := r.Header.Values("DPoP")
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", refuse(400, "invalid_dpop_proof", "More than one DPoP header.")
	}
	jkt, jti, iat, err := s.checkProof(values[0])
	if err != nil {
		return "", refuse(400, "invalid_dpop_proof", "Invalid DPoP proof: "+err.Error()+".")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	if s.st.dpopProofs == nil {
		s.st.dpopProofs = map[string]time.Time{}
	}
	for k, until := range s.st.dpopProofs {
		if now.After(until) {
			delete(s.st.dpopProofs, k)
		}
	}
	id := jkt + " " + jti
	if _, seen := s.st.dpopProofs[id]; seen {
		return "", refuse(400, "invalid_dpop_proof", "Invalid DPoP proof: jti used before.")
	}
	s.st.dpopProofs[id] = iat.Add(2 * dpopWindow)
	return jkt, nil
}

// checkProof verifies a token request's proof and returns its key's
// thumbprint, jti and iat.
func (s *Server) checkProof(proof string) (jkt, jti string, iat time.Time, err error) {
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return "", "", time.Time{}, errors.New("not a compact JWS")
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	var h struct {
		Typ string         `json:"typ"`
		Alg string         `json:"alg"`
		JWK map[string]any `json:"jwk"`
	}
	var c struct {
		JTI string   `json:"jti"`
		HTM string   `json:"htm"`
		HTU string   `json:"htu"`
		IAT *float64 `json:"iat"`
	}
	if err := errors.Join(err1, err2, err3); err != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(pb, &c) != nil {
		return "", "", time.Time{}, errors.New("not a JWS of JSON objects")
	}
	if h.Typ != "dpop+jwt" || !slices.Contains(keyAlgorithms, h.Alg) {
		return "", "", time.Time{}, errors.New("typ is not dpop+jwt, or alg is not an asymmetric algorithm")
	}
	pub, members, err := parseJWK(h.JWK)
	if err != nil {
		return "", "", time.Time{}, err
	}
	if !verify(h.Alg, pub, []byte(parts[0]+"."+parts[1]), sig) {
		return "", "", time.Time{}, errors.New("the signature does not verify with the jwk")
	}
	htu, err := dpop.NormalizeURI(c.HTU)
	want, _ := dpop.NormalizeURI(s.TokenURL())
	switch {
	case c.JTI == "" || c.IAT == nil:
		return "", "", time.Time{}, errors.New("no jti or iat")
	case c.HTM != http.MethodPost || err != nil || htu != want:
		return "", "", time.Time{}, errors.New("htm and htu are not this token endpoint's")
	}
	iat = time.Unix(int64(*c.IAT), 0)
	if now := s.Now(); iat.Before(now.Add(-dpopWindow)) || iat.After(now.Add(dpopWindow)) {
		return "", "", time.Time{}, errors.New("iat is not within a minute of the server's clock")
	}
	return thumbprint(members), c.JTI, iat, nil
}

// boundGrantLocked runs grant type gt as grantLocked does and, when the
// request came with a proof of key jkt, binds what it issues: cnf.jkt in
// the access token, token_type DPoP, and a public client's refresh token
// bound to the key — which then must come with a proof of that key every
// time it is used (RFC 9449 §5). s.mu is held.
func (s *Server) boundGrantLocked(r *http.Request, gt string, f url.Values, jkt string) (issuance, error) {
	if gt == grantRefreshToken {
		if rt := s.st.refresh[f.Get("refresh_token")]; rt != nil && rt.jkt != "" && rt.jkt != jkt {
			return issuance{}, refuse(400, "invalid_grant", "The refresh token is bound to another DPoP key.")
		}
	}
	is, err := s.grantLocked(r, gt, f)
	if err != nil || jkt == "" {
		return is, err
	}
	cnf := map[string]any{"jkt": jkt}
	if is.access != nil {
		is.access["cnf"] = cnf
	} else if o := s.st.opaque[is.resp.AccessToken]; o != nil {
		o.claims["cnf"] = cnf
	}
	is.resp.TokenType = "DPoP"
	if rt := s.st.refresh[is.resp.RefreshToken]; rt != nil && rt.client.Secret == "" {
		rt.jkt = jkt
	}
	return is, nil
}
