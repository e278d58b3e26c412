package idptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"
)

// key is a signing key of the provider.
type key struct {
	kid  string
	alg  string
	priv crypto.Signer
	cert []byte // self-signed certificate (DER) for RSA keys' x5c, as Auth0 publishes
}

func (k *key) public() crypto.PublicKey { return k.priv.Public() }

// newKey generates a key for alg.
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
		return nil, fmt.Errorf("idptest: unsupported key algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	k := &key{kid: randomID(12), alg: alg, priv: priv}
	if rk, ok := priv.(*rsa.PrivateKey); ok {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idptest"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		}
		if k.cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rk.PublicKey, rk); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// jwk returns the public key as a JSON Web Key with kid, use and alg.
func (k *key) jwk() map[string]any {
	j := map[string]any{"kid": k.kid, "use": "sig", "alg": k.alg}
	switch pub := k.public().(type) {
	case *rsa.PublicKey:
		j["kty"] = "RSA"
		j["n"] = b64.EncodeToString(pub.N.Bytes())
		j["e"] = b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
		j["x5c"] = []string{base64.StdEncoding.EncodeToString(k.cert)}
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		j["kty"] = "EC"
		j["crv"] = pub.Curve.Params().Name
		j["x"] = b64.EncodeToString(pub.X.FillBytes(make([]byte, size)))
		j["y"] = b64.EncodeToString(pub.Y.FillBytes(make([]byte, size)))
	case ed25519.PublicKey:
		j["kty"] = "OKP"
		j["crv"] = "Ed25519"
		j["x"] = b64.EncodeToString(pub)
	}
	return j
}

// randomID returns n random bytes, base64url-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return b64.EncodeToString(b)
}
