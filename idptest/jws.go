package idptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // hashes for the signing algorithms
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The JWS compact serialization is written here by hand rather than with a
// JOSE library, so that a test can make the header say anything — an alg
// that is not the one used, a crit, a jku — which libraries refuse to do.

var b64 = base64.RawURLEncoding

// signCompact returns header.payload.signature, signing with alg and key
// whatever the header says.
func signCompact(header, claims map[string]any, alg string, key any) (string, error) {
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	sig, err := sign(alg, key, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

func hashOf(alg string) (crypto.Hash, error) {
	switch alg[2:] {
	case "256":
		return crypto.SHA256, nil
	case "384":
		return crypto.SHA384, nil
	case "512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("idptest: unsupported algorithm %q", alg)
}

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
	if len(alg) != 5 {
		return nil, fmt.Errorf("idptest: unsupported algorithm %q", alg)
	}
	h, err := hashOf(alg)
	if err != nil {
		return nil, err
	}
	if alg[:2] == "HS" {
		k, ok := key.([]byte)
		if !ok {
			return nil, fmt.Errorf("idptest: %s needs a []byte secret, not %T", alg, key)
		}
		m := hmac.New(h.New, k)
		m.Write(input)
		return m.Sum(nil), nil
	}
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch k := key.(type) {
	case *rsa.PrivateKey:
		switch alg[:2] {
		case "RS":
			return rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		case "PS":
			return rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
	case *ecdsa.PrivateKey:
		if alg[:2] == "ES" {
			r, s, err := ecdsa.Sign(rand.Reader, k, digest)
			if err != nil {
				return nil, err
			}
			size := (k.Curve.Params().BitSize + 7) / 8
			return append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...), nil
		}
	}
	return nil, fmt.Errorf("idptest: cannot sign %s with %T", alg, key)
}

func verify(alg string, pub crypto.PublicKey, input, sig []byte) bool {
	if alg == "EdDSA" {
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, input, sig)
	}
	if len(alg) != 5 {
		return false
	}
	h, err := hashOf(alg)
	if err != nil {
		return false
	}
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch alg[:2] {
		case "RS":
			return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		case "PS":
			return rsa.VerifyPSS(k, h, digest, sig, nil) == nil
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if alg[:2] != "ES" || len(sig) != 2*size {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}

var errNotOurs = errors.New("not a token signed by this provider")

// parseOwn verifies a compact JWS signed by one of keys (by kid) and returns
// its claims. It is how /userinfo and /oauth/introspect recognize JWTs.
func parseOwn(token string, keyByKID func(kid string) *key) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errNotOurs
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, errNotOurs
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(hb, &h) != nil {
		return nil, errNotOurs
	}
	k := keyByKID(h.Kid)
	if k == nil || k.alg != h.Alg || !verify(h.Alg, k.public(), []byte(parts[0]+"."+parts[1]), sig) {
		return nil, errNotOurs
	}
	var c map[string]any
	d := json.NewDecoder(strings.NewReader(string(pb)))
	d.UseNumber()
	if d.Decode(&c) != nil {
		return nil, errNotOurs
	}
	return c, nil
}
