package idptest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // registers the hashes of the signing algorithms
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// The JWS compact serialization (RFC 7515 §7.1) is written here by hand
// rather than with a JOSE library, so that a test can make the header say
// anything — an alg that is not the one used, a crit, a jku — which
// libraries refuse to produce.

var b64 = base64.RawURLEncoding

// signCompact returns header.payload.signature, signing with alg and key
// whatever the header says. alg "none" gives an empty signature.
func signCompact(header, claims map[string]any, alg string, key any) (string, error) {
	hb, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("idptest: encoding the JWS header: %w", err)
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("idptest: encoding the claims: %w", err)
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	sig, err := sign(alg, key, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// hashOf returns the hash of a JWS algorithm such as "RS256" or "HS512".
func hashOf(alg string) (crypto.Hash, bool) {
	if len(alg) != 5 {
		return 0, false
	}
	switch alg[2:] {
	case "256":
		return crypto.SHA256, true
	case "384":
		return crypto.SHA384, true
	case "512":
		return crypto.SHA512, true
	}
	return 0, false
}

func digest(h crypto.Hash, input []byte) []byte {
	d := h.New()
	d.Write(input)
	return d.Sum(nil)
}

// sign signs input as the JWS algorithm alg (RFC 7518 §3) with key.
func sign(alg string, key any, input []byte) ([]byte, error) {
	if alg == "none" {
		return nil, nil
	}
	if alg == "EdDSA" {
		k, ok := key.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("idptest: EdDSA needs an ed25519.PrivateKey, not %T", key)
		}
		return ed25519.Sign(k, input), nil
	}
	h, ok := hashOf(alg)
	if !ok {
		return nil, fmt.Errorf("idptest: unsupported signing algorithm %q", alg)
	}
	switch family := alg[:2]; family {
	case "HS":
		secret, ok := key.([]byte)
		if !ok {
			return nil, fmt.Errorf("idptest: %s needs a []byte secret, not %T", alg, key)
		}
		m := hmac.New(h.New, secret)
		m.Write(input)
		return m.Sum(nil), nil
	case "RS", "PS":
		rk, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("idptest: %s needs an *rsa.PrivateKey, not %T", alg, key)
		}
		if family == "RS" {
			return rsa.SignPKCS1v15(rand.Reader, rk, h, digest(h, input))
		}
		return rsa.SignPSS(rand.Reader, rk, h, digest(h, input), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES":
		ek, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("idptest: %s needs an *ecdsa.PrivateKey, not %T", alg, key)
		}
		r, s, err := ecdsa.Sign(rand.Reader, ek, digest(h, input))
		if err != nil {
			return nil, err
		}
		// RFC 7518 §3.4: R || S, each the size of the curve's order.
		size := (ek.Curve.Params().BitSize + 7) / 8
		return append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...), nil
	}
	return nil, fmt.Errorf("idptest: unsupported signing algorithm %q", alg)
}

// verify checks a signature made by sign with pub's private key.
func verify(alg string, pub crypto.PublicKey, input, sig []byte) bool {
	if alg == "EdDSA" {
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, input, sig)
	}
	h, ok := hashOf(alg)
	if !ok {
		return false
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch alg[:2] {
		case "RS":
			return rsa.VerifyPKCS1v15(k, h, digest(h, input), sig) == nil
		case "PS":
			return rsa.VerifyPSS(k, h, digest(h, input), sig, nil) == nil
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if alg[:2] != "ES" || len(sig) != 2*size {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest(h, input), r, s)
	}
	return false
}

// parseOwn verifies a compact JWS against the published key its kid names,
// whose algorithm must be the header's, and returns its claims with numbers
// as json.Number. It is how /userinfo and /oauth/introspect recognize the
// JWTs this provider signed.
func (s *Server) parseOwn(token string) (map[string]any, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, false
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(hb, &h) != nil {
		return nil, false
	}
	k := s.publishedKey(h.Kid)
	if k == nil || k.alg != h.Alg || !verify(h.Alg, k.public(), []byte(parts[0]+"."+parts[1]), sig) {
		return nil, false
	}
	var claims map[string]any
	d := json.NewDecoder(bytes.NewReader(pb))
	d.UseNumber()
	if d.Decode(&claims) != nil {
		return nil, false
	}
	return claims, true
}

// header returns the JWS header of a token k signs: {alg, typ, kid}.
func (k *key) header(typ string) map[string]any {
	return map[string]any{"alg": k.alg, "typ": typ, "kid": k.kid}
}

// signJWT signs claims with k under k.header(typ).
func (k *key) signJWT(claims map[string]any, typ string) (string, error) {
	return signCompact(k.header(typ), claims, k.alg, k.priv)
}
