package tokenvalidator

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/claims"
)

// Policy is what decides whether a validator accepts a token: the issuers
// and audiences it accepts, and everything else that changes its verdict or
// the Principal it makes (required type, algorithms, claim mapping, where
// opaque tokens are checked). A cache of validated tokens binds its entries
// to it — two validators with different policies never share one — and
// re-checks the issuer and audience of every entry it reads back against it.
type Policy struct {
	// Rules lists what is accepted, one rule per issuer (and method).
	Rules []Rule
	// Leeway is the longest clock skew any rule tolerates past a token's
	// exp: no token is accepted later than exp + Leeway.
	Leeway time.Duration
}

// Rule is one issuer a validator accepts tokens of.
type Rule struct {
	// Issuer is the exact iss accepted, or a multi-tenant issuer template
	// (see JWKSConfig.Issuer); "" accepts whatever issuer the provider's
	// answer names (a userinfo or introspection validator configured
	// without one).
	Issuer string
	// Audiences must contain one of a token's aud values; empty means the
	// audience is not checked (userinfo proves none).
	Audiences []string
	// Detail is the rest of the rule, written canonically: method, URLs,
	// required type, algorithms, mapping. It only feeds the fingerprint.
	Detail string
}

// Admits reports whether some rule accepts p's issuer and audience: the
// second line of defence a shared cache applies to what it reads back.
func (p Policy) Admits(pr *claims.Principal) bool {
	for _, r := range p.Rules {
		if r.Issuer != "" && !issuerMatches(r.Issuer, pr.Issuer, pr.OrgID) {
			continue
		}
		if len(r.Audiences) == 0 || slices.ContainsFunc(pr.Audience, func(a string) bool { return slices.Contains(r.Audiences, a) }) {
			return true
		}
	}
	return false
}

// Fingerprint is a hash of the whole policy, rules in any order: equal for
// validators that accept alike, different as soon as an issuer, an audience
// or any detail differs.
func (p Policy) Fingerprint() [sha256.Size]byte {
	rules := make([]string, len(p.Rules))
	for i, r := range p.Rules {
		var b []byte
		b = appendField(b, r.Issuer)
		b = appendField(b, strings.Join(sortedCopy(r.Audiences), "\x00"))
		b = appendField(b, r.Detail)
		rules[i] = string(b)
	}
	slices.Sort(rules)
	h := sha256.New()
	fmt.Fprintf(h, "authgate policy v1\x00leeway=%d\x00", p.Leeway)
	for _, r := range slices.Compact(rules) {
		h.Write(appendField(nil, r))
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// appendField appends s with its length, so that no two lists of fields
// encode alike.
func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func sortedCopy(ss []string) []string {
	c := slices.Clone(ss)
	slices.Sort(c)
	return slices.Compact(c)
}

// detail writes a rule's Detail from name=value pairs.
func detail(pairs ...any) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "%s=%q;", pairs[i], fmt.Sprint(pairs[i+1]))
	}
	return b.String()
}

// Policy returns what v accepts.
func (v *JWKS) Policy() Policy {
	algs := make([]string, 0, len(v.allowed))
	for a := range v.allowed {
		algs = append(algs, a.String())
	}
	secret := ""
	if len(v.cfg.SharedSecret) > 0 {
		sum := sha256.Sum256(v.cfg.SharedSecret)
		secret = fmt.Sprintf("%x", sum[:8])
	}
	return Policy{
		Rules: []Rule{{
			Issuer:    v.cfg.Issuer,
			Audiences: v.cfg.Audiences,
			Detail: detail("method", "jwt", "jwks_url", v.cfg.JWKSURL, "algorithms", sortedCopy(algs), "rsa_key_algorithm", v.cfg.RSAKeyAlgorithm,
				"require_type", v.cfg.RequireType, "hmac_secret", secret, "max_token_bytes", v.cfg.MaxTokenBytes,
				"mapping", v.cfg.Mapping.Canonical()),
		}},
		Leeway: v.cfg.Leeway,
	}
}

// Policy returns what v accepts. Answers are reused up to CacheTTL, so it
// is part of the policy: a service that wants revocations seen sooner must
// not read entries written by one that waits longer.
func (v *Introspection) Policy() Policy {
	return Policy{Rules: []Rule{{
		Issuer:    v.cfg.Issuer,
		Audiences: v.cfg.Audiences,
		Detail: detail("method", "introspection", "url", v.cfg.URL, "client", v.cfg.ClientID,
			"cache_ttl", v.cfg.CacheTTL, "max_token_bytes", v.cfg.MaxTokenBytes, "mapping", v.cfg.Mapping.Canonical()),
	}}}
}

// Policy returns what v accepts: any audience, since userinfo proves none.
func (v *UserInfo) Policy() Policy {
	return Policy{Rules: []Rule{{
		Issuer: v.cfg.Issuer,
		Detail: detail("method", "userinfo", "url", v.cfg.URL, "cache_ttl", v.cfg.CacheTTL,
			"max_token_bytes", v.cfg.MaxTokenBytes, "mapping", v.cfg.Mapping.Canonical()),
	}}}
}

// Policy returns the union of the issuers' policies.
func (is *Issuers) Policy() Policy {
	var ps []Policy
	for _, v := range is.byIssuer {
		ps = append(ps, v.Policy())
	}
	return union(ps...)
}

// Policy returns the union of the policies of a's validators.
func (a Auto) Policy() Policy {
	var ps []Policy
	for _, v := range []Validator{a.JWT, a.Opaque} {
		if v != nil {
			ps = append(ps, v.Policy())
		}
	}
	return union(ps...)
}

// union accepts what any of ps accepts.
func union(ps ...Policy) Policy {
	var u Policy
	for _, p := range ps {
		u.Rules = append(u.Rules, p.Rules...)
		u.Leeway = max(u.Leeway, p.Leeway)
	}
	return u
}
