package idptest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// ClaimsRequest says whose access token claims to build.
type ClaimsRequest struct {
	Username     string
	ClientID     string
	Audience     string   // "" = DefaultAudience
	Scopes       []string // nil = everything the user may have
	Organization string   // id or name; "" = none
	GrantType    string   // the gty claim, e.g. "password"; "" = none (authorization code)
}

// UserClaims returns exactly the claims the token endpoint would put in a
// user's access token, for a test to change before Mint.
func (s *Server) UserClaims(req ClaimsRequest) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.userGrant(req.Username, req.ClientID, req.Audience, req.Scopes, req.Organization, req.GrantType)
	if err != nil {
		return nil, err
	}
	return s.accessClaims(g), nil
}

// MachineClaims returns the claims of a client-credentials access token.
func (s *Server) MachineClaims(clientID, audience string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.state.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("idptest: unknown client %q", clientID)
	}
	g, err := s.machineGrant(c, audience, nil)
	if err != nil {
		return nil, err
	}
	return s.accessClaims(g), nil
}

// MintOption changes how Mint signs.
type MintOption interface{ apply(*mintOptions) }

type mintOptions struct {
	kid         string         // sign with this published key
	header      map[string]any // set (nil value: delete) after the key is chosen
	signerAlg   string         // sign with this algorithm and key instead
	signerKey   any
	unpublished bool
	none        bool
}

type mintOption func(*mintOptions)

func (f mintOption) apply(o *mintOptions) { f(o) }

// WithKeyID signs with the published key kid.
func WithKeyID(kid string) MintOption { return mintOption(func(o *mintOptions) { o.kid = kid }) }

// WithHeader sets a header member after the signing key was chosen — "alg"
// can then lie about the algorithm used — or deletes it when value is nil.
func WithHeader(name string, value any) MintOption {
	return mintOption(func(o *mintOptions) {
		if o.header == nil {
			o.header = map[string]any{}
		}
		o.header[name] = value
	})
}

// WithSigner signs with alg and key, which no JWKS publishes: "HS256" with
// a []byte secret (such as the bytes of a published public key), or an RSA,
// ECDSA or Ed25519 private key. The header gets no kid unless WithHeader
// adds one.
func WithSigner(alg string, key any) MintOption {
	return mintOption(func(o *mintOptions) { o.signerAlg, o.signerKey = alg, key })
}

// WithUnpublishedKey signs with a fresh key of the signer's algorithm that
// is not in the JWKS, under a new random kid.
func WithUnpublishedKey() MintOption {
	return mintOption(func(o *mintOptions) { o.unpublished = true })
}

// WithoutSignature makes an unsecured JWS: alg "none", empty signature.
func WithoutSignature() MintOption { return mintOption(func(o *mintOptions) { o.none = true }) }

// Mint signs claims as a compact JWS — by default with the signing key and
// the header {alg, typ, kid}. The claims are marshalled as given, so a test
// can send "exp" as a string or "aud" as a number.
func (s *Server) Mint(claims map[string]any, opts ...MintOption) (string, error) {
	var o mintOptions
	for _, opt := range opts {
		opt.apply(&o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signLocked(claims, o)
}

// signLocked is Mint with s.mu held.
func (s *Server) signLocked(claims map[string]any, o mintOptions) (string, error) {
	k := s.signer
	if o.kid != "" {
		if k = s.keyLocked(o.kid); k == nil {
			return "", fmt.Errorf("idptest: no published key %q", o.kid)
		}
	}
	if o.unpublished {
		fresh, err := newKey(k.alg)
		if err != nil {
			return "", err
		}
		k = fresh
	}
	alg, signKey := k.alg, any(k.priv)
	header := map[string]any{"alg": alg, "typ": s.cfg.AccessTokenType, "kid": k.kid}
	switch {
	case o.none:
		alg, signKey, header["alg"] = "none", nil, "none"
	case o.signerAlg != "":
		alg, signKey, header["alg"] = o.signerAlg, o.signerKey, o.signerAlg
		delete(header, "kid")
	}
	for name, v := range o.header {
		if v == nil {
			delete(header, name)
		} else {
			header[name] = v
		}
	}
	return signCompact(header, claims, alg, signKey)
}

// OpaqueToken registers an opaque access token with these claims: the
// userinfo and introspection endpoints answer for it until its "exp" (a
// Unix time; default now + AccessTokenTTL) or its revocation.
func (s *Server) OpaqueToken(claims map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp := s.now().Add(s.cfg.AccessTokenTTL)
	switch v := claims["exp"].(type) {
	case int64:
		exp = time.Unix(v, 0)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			exp = time.Unix(n, 0)
		}
	}
	return s.registerOpaque(maps.Clone(claims), exp, "")
}

// AuthorizeRequest stands in for a user's login through the browser
// (/authorize): the code it yields is exchanged at the token endpoint.
type AuthorizeRequest struct {
	ClientID     string
	Username     string
	RedirectURI  string
	Audience     string
	Scopes       []string
	Organization string
	Nonce        string
	// CodeChallenge and CodeChallengeMethod ("S256") set up PKCE.
	CodeChallenge       string
	CodeChallengeMethod string
}

// codeTTL is how long an authorization code can be exchanged.
const codeTTL = 5 * time.Minute

// AuthorizationCode logs req.Username in through req.ClientID and returns
// an authorization code, single-use and valid for five minutes.
func (s *Server) AuthorizationCode(req AuthorizeRequest) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.state.clients[req.ClientID]
	if !ok || !hasGrant(c, "authorization_code") {
		return "", fmt.Errorf("idptest: client %q may not use the authorization code grant", req.ClientID)
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != "S256" {
		return "", fmt.Errorf("idptest: code challenge method %q: only S256", req.CodeChallengeMethod)
	}
	g, err := s.userGrant(req.Username, req.ClientID, req.Audience, req.Scopes, req.Organization, "")
	if err != nil {
		return "", err
	}
	g.nonce = req.Nonce
	code := randomID(24)
	s.state.codes[code] = &authCode{grant: g, redirectURI: req.RedirectURI, challenge: req.CodeChallenge, expires: s.now().Add(codeTTL)}
	return code, nil
}

// S256Challenge returns the PKCE S256 challenge of verifier.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64.EncodeToString(sum[:])
}
