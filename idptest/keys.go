package idptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"time"
)

// ErrUnknownKey is the error (wrapped) of the key operations and of Mint
// when a kid names no published key.
var ErrUnknownKey = errors.New("idptest: no published key with this kid")

// key is a signing key of the provider. It does not change once made.
type key struct {
	kid  string
	alg  string
	priv crypto.Signer
	cert []byte // self-signed certificate (DER) of an RSA key, for x5c
}

func (k *key) public() crypto.PublicKey { return k.priv.Public() }

// newKey generates a key for alg, with a random kid.
func newKey(alg string) (*key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("idptest: unsupported key algorithm %q (want one of %v)", alg, keyAlgorithms)
	}
	if err != nil {
		return nil, fmt.Errorf("idptest: generating a %s key: %w", alg, err)
	}
	k := &key{kid: randomID(16), alg: alg, priv: priv}
	if rk, ok := priv.(*rsa.PrivateKey); ok {
		// Auth0 publishes its RSA keys with a self-signed certificate.
		now := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "idptest"},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		}
		if k.cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rk.PublicKey, rk); err != nil {
			return nil, fmt.Errorf("idptest: self-signing the key: %w", err)
		}
	}
	return k, nil
}

// jwk returns the public key as a JSON Web Key with kid, use and alg; RSA
// keys also carry x5c and x5t, as at Auth0.
func (k *key) jwk() map[string]any {
	j := publicJWK(k.public())
	j["kid"], j["use"], j["alg"] = k.kid, "sig", k.alg
	if k.cert != nil {
		thumb := sha1.Sum(k.cert)
		j["x5c"] = []string{base64.StdEncoding.EncodeToString(k.cert)}
		j["x5t"] = b64.EncodeToString(thumb[:])
	}
	return j
}

// serveJWKS publishes every key that is not retired.
func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	s.keysMu.Lock()
	keys := make([]map[string]any, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, k.jwk())
	}
	s.keysMu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400")
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// SigningKeyID returns the kid of the key that signs new tokens.
func (s *Server) SigningKeyID() string {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	return s.signer.kid
}

// AddKey generates a key for alg — "RS256", "RS384", "RS512", "PS256",
// "PS384", "PS512", "ES256", "ES384", "ES512" or "EdDSA" — and publishes
// it in the JWKS. It does not sign until UseKey.
func (s *Server) AddKey(alg string) (kid string, err error) {
	k, err := newKey(alg)
	if err != nil {
		return "", err
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	s.keys = append(s.keys, k)
	return k.kid, nil
}

// UseKey makes the published key kid the signer of new tokens.
func (s *Server) UseKey(kid string) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	k, err := s.keyLocked(kid)
	if err != nil {
		return err
	}
	s.signer = k
	return nil
}

// RetireKey removes the key kid from the JWKS. The signer cannot be
// retired: UseKey another key first.
func (s *Server) RetireKey(kid string) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if s.signer.kid == kid {
		return fmt.Errorf("idptest: key %q signs new tokens and cannot be retired; UseKey another first", kid)
	}
	n := len(s.keys)
	s.keys = slices.DeleteFunc(s.keys, func(k *key) bool { return k.kid == kid })
	if len(s.keys) == n {
		return fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	return nil
}

// RotateKey adds a key for alg and makes it the signer, as AddKey and
// UseKey. The old key stays published until RetireKey, as at Auth0.
func (s *Server) RotateKey(alg string) (kid string, err error) {
	kid, err = s.AddKey(alg)
	if err != nil {
		return "", err
	}
	return kid, s.UseKey(kid)
}

// PublicKey returns the public key of the published key kid: an
// *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
func (s *Server) PublicKey(kid string) (crypto.PublicKey, bool) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	k, err := s.keyLocked(kid)
	if err != nil {
		return nil, false
	}
	return k.public(), true
}

// publishedKey returns the published key kid, or nil.
func (s *Server) publishedKey(kid string) *key {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	k, _ := s.keyLocked(kid)
	return k
}

// keyLocked finds the published key kid; s.keysMu is held.
func (s *Server) keyLocked(kid string) (*key, error) {
	for _, k := range s.keys {
		if k.kid == kid {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}

// randomID returns n random bytes, base64url-encoded: no dots, no padding.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b64.EncodeToString(b)
}
