package tokenvalidator

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"math/big"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/authgate/authgate/claims"
)

// The common case of a compact JWS — a protected header of alg, kid and
// typ, each a plain string, as every provider writes it — is verified here,
// without jws.Verify's message objects: parseHeader reads such a header,
// verifyCompact checks it exactly as the key provider checks jwx's parse of
// it (selectKey) and verifies the signature with crypto/* as jwx's
// verifiers do. Any other header goes to jws.Verify. FuzzCompact holds the
// two paths to the same verdict, reason and payload.

// maxCompactHeader bounds the decoded header parseHeader reads; a larger
// one goes to jws.Verify.
const maxCompactHeader = 512

// parseHeader reads a protected header segment that is a JSON object of at
// most one each of alg, kid and typ, with string values of printable ASCII
// without escapes, and reports whether it was one. Such a header means to
// jwx's parser exactly what it reads here; anything else (another member,
// a repeated one, an escape, a non-string value, non-ASCII) is jwx's to
// read and judge.
func parseHeader(seg string) (joseHeader, bool) {
	var h joseHeader
	var buf [maxCompactHeader]byte
	if base64.RawURLEncoding.DecodedLen(len(seg)) > len(buf) {
		return h, false
	}
	n, err := base64.RawURLEncoding.Strict().Decode(buf[:], []byte(seg))
	if err != nil {
		return h, false
	}
	b := buf[:n]
	// No whitespace around the object: jwx verifies the signature over the
	// header as it re-reads the object alone, so it refuses such a token.
	if n < 2 || b[0] != '{' || b[n-1] != '}' {
		return h, false
	}
	i := skipJSONSpace(b, 1)
	var seen [3]bool // alg, kid, typ
	if i < len(b) && b[i] == '}' {
		return h, i+1 == len(b)
	}
	for {
		name, next, ok := plainString(b, i)
		if !ok {
			return h, false
		}
		i = skipJSONSpace(b, next)
		if i == len(b) || b[i] != ':' {
			return h, false
		}
		value, next, ok := plainString(b, skipJSONSpace(b, i+1))
		if !ok {
			return h, false
		}
		var k int
		switch string(name) {
		case "alg":
			k, h.alg = 0, jwa.SignatureAlgorithm(value)
		case "kid":
			k, h.kid = 1, string(value)
		case "typ":
			k, h.typ = 2, string(value)
		default:
			return h, false
		}
		if seen[k] {
			return h, false
		}
		seen[k] = true
		i = skipJSONSpace(b, next)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipJSONSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			return h, i+1 == len(b)
		default:
			return h, false
		}
	}
}

// plainString reads the JSON string at b[i:] when it holds only printable
// ASCII and no escape, and returns its content and the index past it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// verifyCompact checks header h (parsed by parseHeader) and the signature
// of token, split into payload and signature segments, and returns the
// payload.
func (v *JWKS) verifyCompact(ctx context.Context, token string, h joseHeader, payloadSeg, signatureSeg string, mode verifyMode) ([]byte, error) {
	payload, err := decodeSegment(payloadSeg)
	if err != nil { // not after splitCompact, which checked the alphabet and the tail
		return nil, invalid(claims.ReasonMalformed, errors.New("not a parsable JWS"))
	}
	alg, key, err := v.selectKey(ctx, h, mode, payload)
	if err != nil {
		return nil, err
	}
	sig, err := decodeSegment(signatureSeg)
	if err != nil {
		return nil, invalid(claims.ReasonMalformed, errors.New("not a parsable JWS"))
	}
	signed := token[:len(token)-len(signatureSeg)-1]
	if !verifySignature(alg, key, signed, sig) {
		return nil, invalid(claims.ReasonBadSignature, nil)
	}
	return payload, nil
}

// verifySignature reports whether sig is alg's signature of signed under
// key, as jwx's verifier of alg decides it: key is one selectKey returned
// for alg (an HMAC secret, or a public key of the type alg needs).
func verifySignature(alg jwa.SignatureAlgorithm, key any, signed string, sig []byte) bool {
	switch alg {
	case jwa.HS256, jwa.HS384, jwa.HS512:
		mac := hmac.New(hashOf(alg).New, key.([]byte))
		mac.Write([]byte(signed))
		return hmac.Equal(sig, mac.Sum(nil))
	case jwa.RS256, jwa.RS384, jwa.RS512:
		h := hashOf(alg)
		return rsa.VerifyPKCS1v15(key.(*rsa.PublicKey), h, digest(h, signed), sig) == nil
	case jwa.PS256, jwa.PS384, jwa.PS512:
		h := hashOf(alg)
		return rsa.VerifyPSS(key.(*rsa.PublicKey), h, digest(h, signed), sig, nil) == nil
	case jwa.ES256, jwa.ES384, jwa.ES512:
		pub := key.(*ecdsa.PublicKey)
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(pub, digest(hashOf(alg), signed), r, s)
	case jwa.EdDSA:
		return ed25519.Verify(key.(ed25519.PublicKey), []byte(signed), sig)
	}
	return false
}

// hashOf is the hash of a SHA-2 based alg.
func hashOf(alg jwa.SignatureAlgorithm) crypto.Hash {
	switch alg {
	case jwa.HS384, jwa.RS384, jwa.PS384, jwa.ES384:
		return crypto.SHA384
	case jwa.HS512, jwa.RS512, jwa.PS512, jwa.ES512:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// digest is h (SHA-256, -384 or -512) of s.
func digest(h crypto.Hash, s string) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384([]byte(s))
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512([]byte(s))
		return d[:]
	}
	d := sha256.Sum256([]byte(s))
	return d[:]
}
