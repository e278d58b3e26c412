package idptest

import (
	"fmt"
	"maps"
	"slices"
)

// ClaimsRequest says whose access-token claims UserClaims builds, with
// the parameters of a token request.
type ClaimsRequest struct {
	Username string
	ClientID string
	Audience string // "" = no API: the claims of an opaque token good only at /userinfo
	// Scopes are the scopes asked; as at the token endpoint the token gets
	// those the user's roles allow in the organization, plus the OIDC
	// scopes asked.
	Scopes       []string
	Organization string // ID or name; "" = none
	// GrantType is the gty claim: "password" as the password grant gives,
	// "" (none) as the authorization_code grant gives.
	GrantType string
}

// UserClaims returns the claims the token endpoint would put in an access
// token for req — fresh iat, exp and jti included — for a test to change
// and Mint. The map is the caller's.
func (s *Server) UserClaims(req ClaimsRequest) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.st.users[req.Username]
	if !ok || u.removed {
		return nil, fmt.Errorf("idptest: unknown user %q", req.Username)
	}
	c, ok := s.st.clients[req.ClientID]
	if !ok {
		return nil, fmt.Errorf("idptest: unknown client %q", req.ClientID)
	}
	g, err := s.userGrantLocked(u, c, req.Audience, req.Scopes, req.Organization, req.GrantType)
	if err != nil {
		return nil, err
	}
	claims, _ := s.accessClaims(g, s.Now())
	return claims, nil
}

// MachineClaims returns the claims the token endpoint would put in a
// client-credentials access token of clientID for audience ("" =
// DefaultAudience), with every scope the client was granted there.
func (s *Server) MachineClaims(clientID, audience string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("idptest: unknown client %q", clientID)
	}
	if !slices.Contains(c.Grants, grantClientCredentials) {
		return nil, fmt.Errorf("idptest: client %q may not use the client_credentials grant", clientID)
	}
	g, err := s.machineGrantLocked(c, audience, nil)
	if err != nil {
		return nil, err
	}
	claims, _ := s.accessClaims(g, s.Now())
	return claims, nil
}

// MintOption changes how Mint signs. Options are applied in order.
type MintOption interface{ apply(*mintOptions) }

type mintOptions struct {
	kid         string         // sign with this published key instead of the signer
	unpublished bool           // sign with a fresh key of the chosen key's algorithm
	signerAlg   string         // sign with this algorithm and signerKey instead
	signerKey   any            //
	none        bool           // no signature, alg "none"
	header      map[string]any // set (nil: delete) after all of the above
}

type mintOption func(*mintOptions)

func (f mintOption) apply(o *mintOptions) { f(o) }

// WithKeyID signs with the published key kid rather than the signer; Mint
// fails with ErrUnknownKey if there is none.
func WithKeyID(kid string) MintOption {
	return mintOption(func(o *mintOptions) { o.kid = kid })
}

// WithHeader sets the header member name to value after everything else
// was decided — so "alg" can name another algorithm than the one used
// (algorithm confusion), and "typ", "crit", "cty", "jku", "x5u", "jwk" or
// "kid" can say anything — or deletes the member when value is nil.
func WithHeader(name string, value any) MintOption {
	return mintOption(func(o *mintOptions) {
		if o.header == nil {
			o.header = map[string]any{}
		}
		o.header[name] = value
	})
}

// WithSigner signs with alg and key, which no JWKS publishes: "HS256",
// "HS384" or "HS512" with a []byte secret (such as the PEM or DER bytes of
// a published public key), "RS…" or "PS…" with an *rsa.PrivateKey, "ES…"
// with an *ecdsa.PrivateKey, "EdDSA" with an ed25519.PrivateKey. The
// header says alg and has no kid unless WithHeader adds one.
func WithSigner(alg string, key any) MintOption {
	return mintOption(func(o *mintOptions) { o.signerAlg, o.signerKey = alg, key })
}

// WithUnpublishedKey signs with a fresh key of the signer's algorithm (or
// of WithKeyID's key) that is not in the JWKS, under a new random kid.
func WithUnpublishedKey() MintOption {
	return mintOption(func(o *mintOptions) { o.unpublished = true })
}

// WithoutSignature makes an unsecured JWS (RFC 7515 §A.5): alg "none" and
// an empty signature; the kid stays. WithHeader can still set another alg.
// It takes precedence over WithSigner and WithUnpublishedKey.
func WithoutSignature() MintOption {
	return mintOption(func(o *mintOptions) { o.none = true })
}

// Mint signs claims as a compact JWS, by default with the signing key under
// the header {alg, typ, kid} (typ is Config.AccessTokenType). The claims
// are marshalled with encoding/json as given, so a test can make "exp" a
// string or "aud" a number. The options make the negative cases: another
// key, another algorithm, a lying header, no signature.
func (s *Server) Mint(claims map[string]any, opts ...MintOption) (string, error) {
	var o mintOptions
	for _, opt := range opts {
		opt.apply(&o)
	}
	s.keysMu.Lock()
	k := s.signer
	var err error
	if o.kid != "" {
		k, err = s.keyLocked(o.kid)
	}
	s.keysMu.Unlock()
	if err != nil {
		return "", err
	}
	header := k.header(s.cfg.AccessTokenType)
	alg, signKey := k.alg, any(k.priv)
	switch {
	case o.none:
		alg, signKey = "none", nil
		header["alg"] = alg
	case o.signerAlg != "":
		alg, signKey = o.signerAlg, o.signerKey
		header["alg"] = alg
		delete(header, "kid")
	case o.unpublished:
		fresh, err := newKey(k.alg)
		if err != nil {
			return "", err
		}
		signKey = fresh.priv
		header["kid"] = fresh.kid
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

// OpaqueToken registers an opaque access token with these claims and
// returns it: /userinfo and /oauth/introspect answer for it with the
// claims (a copy of the map, not of values nested in it) until its
// revocation or its numeric "exp". Without "exp" it gets one,
// now + Config.AccessTokenTTL; with an "exp" that is not a number it keeps
// that claim and expires after AccessTokenTTL.
func (s *Server) OpaqueToken(claims map[string]any) string {
	c := maps.Clone(claims)
	if c == nil {
		c = map[string]any{}
	}
	exp, ok := numericDate(c["exp"])
	if !ok {
		exp = s.Now().Add(s.cfg.AccessTokenTTL)
		if _, present := c["exp"]; !present {
			c["exp"] = exp.Unix()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registerOpaqueLocked(c, exp, "")
}
