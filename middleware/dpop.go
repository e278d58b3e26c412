package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/bearer"
	"github.com/authgate/authgate/internal/dpop"
)

// DPoPMode says which authentication schemes the middleware accepts.
type DPoPMode uint8

// The modes. Whatever the mode, a DPoP-bound token (one whose Principal
// has a claims.Confirmation) sent with the Bearer scheme is refused: a
// stolen bound token must not work as a bearer token (RFC 9449 §7.2).
const (
	// DPoPOff accepts Bearer tokens only: "Authorization: DPoP" is no
	// credential at all. The default.
	DPoPOff DPoPMode = iota
	// DPoPAllowed accepts both: a bearer token with Bearer, a DPoP-bound
	// token with DPoP and a proof. Challenges name both schemes.
	DPoPAllowed
	// DPoPRequired accepts DPoP-bound tokens with DPoP and a proof only;
	// "Authorization: Bearer" is no credential at all.
	DPoPRequired
)

// String returns "off", "allowed" or "required".
func (m DPoPMode) String() string {
	switch m {
	case DPoPOff:
		return "off"
	case DPoPAllowed:
		return "allowed"
	case DPoPRequired:
		return "required"
	}
	return fmt.Sprintf("DPoPMode(%d)", uint8(m))
}

// ParseDPoPMode reads "off" (or ""), "allowed" or "required", as a
// service's configuration would spell them.
func ParseDPoPMode(s string) (DPoPMode, error) {
	switch strings.ToLower(s) {
	case "", "off":
		return DPoPOff, nil
	case "allowed":
		return DPoPAllowed, nil
	case "required":
		return DPoPRequired, nil
	}
	return 0, fmt.Errorf("middleware: DPoP mode %q: want off, allowed or required", s)
}

// ProofVerifier checks the DPoP proofs of requests that present a
// DPoP-bound token. *tokenvalidator.DPoP implements it.
type ProofVerifier interface {
	// VerifyProof checks proof, the request's DPoP header, against the
	// request (method, and uri: the target URI as the client addressed
	// it), the access token it presented and the thumbprint jkt its
	// Principal is bound to. Its errors must match claims.ErrInvalidProof
	// for proofs that are not acceptable (a *claims.ProofError says which
	// check failed) and claims.ErrUnavailable when the proof could not be
	// checked. nonce, when not empty, goes to the client in DPoP-Nonce.
	VerifyProof(ctx context.Context, proof, accessToken, jkt, method, uri string) (nonce string, err error)
	// Algorithms lists the accepted proof algorithms, for the DPoP
	// challenge's algs attribute.
	Algorithms() []string
}

// WithProofVerifier sets what checks DPoP proofs; Config.DPoP other than
// DPoPOff needs one. Default: none.
func WithProofVerifier(v ProofVerifier) Option {
	return optionFunc(func(m *Middleware) { m.proofs = v })
}

// setUpDPoP checks the DPoP settings and prepares what requests need.
func (m *Middleware) setUpDPoP() error {
	switch m.cfg.DPoP {
	case DPoPOff:
		m.challenges = []string{bearer.SchemeBearer}
		return nil
	case DPoPAllowed:
		m.challenges = []string{bearer.SchemeBearer, bearer.SchemeDPoP}
	case DPoPRequired:
		m.challenges = []string{bearer.SchemeDPoP}
		if m.cfg.AllowFormToken || m.cfg.InsecureAllowQueryToken {
			return errors.New("middleware: DPoPRequired takes tokens from the Authorization header only; AllowFormToken and InsecureAllowQueryToken give bearer tokens")
		}
	default:
		return fmt.Errorf("middleware: unknown DPoP mode %d", m.cfg.DPoP)
	}
	if m.proofs == nil {
		return fmt.Errorf("middleware: DPoP %s needs WithProofVerifier", m.cfg.DPoP)
	}
	m.algs = m.proofs.Algorithms()
	if len(m.algs) == 0 {
		return errors.New("middleware: the ProofVerifier accepts no algorithm")
	}
	if m.cfg.PublicURL != "" {
		base, err := dpop.NormalizeURI(m.cfg.PublicURL)
		if err != nil {
			return fmt.Errorf("middleware: PublicURL %q: want an absolute http(s) URL with a host", m.cfg.PublicURL)
		}
		m.publicBase = strings.TrimSuffix(base, "/")
	}
	return nil
}

// confirm checks that the request proves what p's token demands: a bound
// token came with the DPoP scheme and a good proof, and a DPoP-scheme
// token is bound. It sets DPoP-Nonce on w when the verifier hands out a
// nonce.
func (m *Middleware) confirm(w http.ResponseWriter, r *http.Request, token, scheme string, p *claims.Principal) *Error {
	if scheme == bearer.SchemeBearer {
		if p.Confirmation.Bound() {
			return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Scheme: scheme,
				Description: "the access token is DPoP-bound: send it with the DPoP scheme and a proof"}
		}
		return nil
	}
	if !p.Confirmation.Bound() {
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Scheme: scheme,
			Description: "the access token is not DPoP-bound: send it with the Bearer scheme"}
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return proofError(claims.InvalidProof(claims.ProofMissing, nil), "")
	}
	nonce, err := m.proofs.VerifyProof(r.Context(), proofs[0], token, p.Confirmation.JKT, r.Method, m.targetURI(r))
	if err != nil {
		return proofError(err, nonce)
	}
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	return nil
}

// targetURI is the URI a proof's htu must name: PublicURL, or the scheme
// and Host the request came with, followed by its path. Forwarded headers
// are never read: a client could set them to make a proof captured
// elsewhere fit.
func (m *Middleware) targetURI(r *http.Request) string {
	if m.publicBase != "" {
		return m.publicBase + r.URL.EscapedPath()
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return scheme + r.Host + r.URL.EscapedPath()
}

// proofError maps a ProofVerifier error to the answer: 401
// invalid_dpop_proof, use_dpop_nonce (with the nonce), or invalid_token
// for a proof by another key than the token's; a proof that could not be
// checked is answered as an Authenticator's error would be.
func proofError(err error, nonce string) *Error {
	check, ok := claims.ProofCheckOf(err)
	e := &Error{Status: http.StatusUnauthorized, Code: CodeInvalidDPoPProof, Scheme: bearer.SchemeDPoP, Err: err}
	switch {
	case !ok:
		return ErrorFor(err)
	case check == claims.ProofBinding:
		e.Code, e.Description = CodeInvalidToken, "the access token is not bound to the DPoP proof's key"
	case check == claims.ProofNonce:
		e.Code, e.Description, e.Nonce = CodeUseDPoPNonce, "a DPoP nonce is required: use the one in DPoP-Nonce", nonce
	default:
		e.Description = describeProof(check)
	}
	return e
}

// proofDescriptions say which check a proof failed, so that a client's
// developer can fix it; an attacker who does not hold the key learns
// nothing that helps forge a proof.
var proofDescriptions = map[claims.ProofCheck]string{
	claims.ProofMissing:   "send exactly one DPoP header with the DPoP scheme",
	claims.ProofType:      "the DPoP proof's typ is not dpop+jwt",
	claims.ProofAlgorithm: "the DPoP proof's alg is not accepted or does not fit its jwk",
	claims.ProofKey:       "the DPoP proof's jwk is not an acceptable public key",
	claims.ProofSignature: "the DPoP proof's signature does not verify",
	claims.ProofMethod:    "the DPoP proof's htm is not the request's method",
	claims.ProofURI:       "the DPoP proof's htu is not the request's URI",
	claims.ProofIssuedAt:  "the DPoP proof's iat is too old or in the future",
	claims.ProofTokenHash: "the DPoP proof's ath is not the access token's hash",
	claims.ProofReplay:    "the DPoP proof was used before",
}

func describeProof(c claims.ProofCheck) string {
	if d, ok := proofDescriptions[c]; ok {
		return d
	}
	return "the DPoP proof is malformed"
}

// schemeOf returns the scheme of the request's Authorization header,
// SchemeBearer or SchemeDPoP, or "" for anything else.
func schemeOf(r *http.Request) string {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case strings.EqualFold(scheme, bearer.SchemeBearer):
		return bearer.SchemeBearer
	case strings.EqualFold(scheme, bearer.SchemeDPoP):
		return bearer.SchemeDPoP
	}
	return ""
}
