package claims

import (
	"errors"
)

// Confirmation is what a token's cnf claim (RFC 7800) binds it to. The zero
// Confirmation is a bearer token's: whoever holds it may use it.
type Confirmation struct {
	// JKT is the base64url SHA-256 JWK thumbprint (RFC 7638) of the DPoP
	// key the token is bound to: cnf.jkt (RFC 9449 §6), in a JWT or an
	// introspection answer. Every request that presents the token must
	// carry a DPoP proof signed with that key.
	JKT string
}

// Bound reports whether the token is sender-constrained: refused unless a
// request proves possession of its key.
func (c Confirmation) Bound() bool { return c.JKT != "" }

// decodeConfirmation reads a cnf claim: an object whose jkt, when present
// (the last, if given twice), is a non-empty string. Other confirmation
// methods are not read.
func decodeConfirmation(v value) (Confirmation, error) {
	if v.raw[0] != '{' {
		return Confirmation{}, errNotObject
	}
	raw := lastMember(v.raw, "jkt")
	if raw.raw == "" {
		return Confirmation{}, nil
	}
	jkt, err := decodeString(raw)
	if err != nil || jkt == "" {
		// An empty thumbprint must not read as "not bound".
		return Confirmation{}, errors.New("jkt is not a non-empty string")
	}
	return Confirmation{JKT: jkt}, nil
}

// ErrInvalidProof matches (errors.Is) every *ProofError: a DPoP proof (RFC
// 9449) that is not acceptable.
var ErrInvalidProof = errors.New("invalid DPoP proof")

// ProofCheck names the check of RFC 9449 §4.3 that a DPoP proof failed.
type ProofCheck uint8

// The checks a DPoP proof can fail. Their String forms are short, stable
// and safe to show to a client or use as a metric label.
const (
	ProofMissing   ProofCheck = iota + 1 // no DPoP header, or more than one
	ProofMalformed                       // not one compact JWS, or a required claim missing or mistyped
	ProofType                            // typ is not dpop+jwt
	ProofAlgorithm                       // alg is not an allowed asymmetric algorithm, or not the key's
	ProofKey                             // jwk missing, private, symmetric, too weak or unusable
	ProofSignature                       // the signature does not verify with jwk
	ProofMethod                          // htm is not the request's method
	ProofURI                             // htu is not the request's URI
	ProofIssuedAt                        // iat is outside the accepted window
	ProofTokenHash                       // ath is not the access token's hash
	ProofBinding                         // the key is not the one the access token is bound to
	ProofNonce                           // no nonce, or not a current one of this server
	ProofReplay                          // the proof (its jti) was accepted before
)

var proofCheckNames = [...]string{
	ProofMissing:   "missing",
	ProofMalformed: "malformed",
	ProofType:      "type",
	ProofAlgorithm: "algorithm",
	ProofKey:       "key",
	ProofSignature: "signature",
	ProofMethod:    "method",
	ProofURI:       "uri",
	ProofIssuedAt:  "issued_at",
	ProofTokenHash: "token_hash",
	ProofBinding:   "binding",
	ProofNonce:     "nonce",
	ProofReplay:    "replay",
}

// ProofChecks lists every ProofCheck, for pre-creating metric series.
func ProofChecks() []ProofCheck {
	cs := make([]ProofCheck, 0, len(proofCheckNames)-1)
	for c := ProofMissing; int(c) < len(proofCheckNames); c++ {
		cs = append(cs, c)
	}
	return cs
}

// String returns the check's short name, such as "replay".
func (c ProofCheck) String() string {
	if int(c) < len(proofCheckNames) && proofCheckNames[c] != "" {
		return proofCheckNames[c]
	}
	return "unknown"
}

// ProofError reports a DPoP proof that is not acceptable. It matches
// ErrInvalidProof with errors.Is. Its message never contains the proof or
// the token.
type ProofError struct {
	Check ProofCheck
	// Err, when set, gives detail for logs; it is not meant for clients.
	Err error
}

// InvalidProof returns a *ProofError for check with optional detail.
func InvalidProof(check ProofCheck, detail error) *ProofError {
	return &ProofError{Check: check, Err: detail}
}

// Error returns "invalid DPoP proof: <check>" followed by the detail, if
// any.
func (e *ProofError) Error() string {
	msg := ErrInvalidProof.Error() + ": " + e.Check.String()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrInvalidProof.
func (e *ProofError) Is(target error) bool { return target == ErrInvalidProof }

// Unwrap returns the detail error.
func (e *ProofError) Unwrap() error { return e.Err }

// ProofCheckOf returns the check of the *ProofError in err's chain, and
// false when err is not an invalid-proof error.
func ProofCheckOf(err error) (ProofCheck, bool) {
	var pe *ProofError
	if errors.As(err, &pe) {
		return pe.Check, true
	}
	return 0, false
}
