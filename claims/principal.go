package claims

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Kind says who is calling.
type Kind uint8

// The kinds of caller. The zero Kind is KindUnknown, which no authorization
// check accepts.
const (
	KindUnknown   Kind = iota
	KindUser           // a user, through one of the service's own first-party apps
	KindDelegated      // a partner app acting for a user
	KindMachine        // a client acting for itself (client-credentials grant)
)

var kindNames = [...]string{
	KindUnknown:   "unknown",
	KindUser:      "user",
	KindDelegated: "delegated",
	KindMachine:   "machine",
}

// String returns "user", "delegated", "machine" or "unknown".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind returns the Kind whose String is s: "user", "delegated" or
// "machine". Any other text, "unknown" included, is an error: no
// configuration or answer can name a kind that no check accepts.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if k != int(KindUnknown) && s == name {
			return Kind(k), nil
		}
	}
	return KindUnknown, fmt.Errorf("claims: unknown kind of caller %q (want user, delegated or machine)", truncate(s))
}

// Principal is what a validated token says about its caller.
//
// A Principal served from the cache is shared by every request that presents
// the same token: treat it as read-only.
type Principal struct {
	Subject         string // sub
	AuthorizedParty string // azp, or client_id (RFC 9068, RFC 7662)
	OrgID           string // the organization's stable id; authorize on this
	OrgName         string // the organization's name; it can change
	Scopes          Set    // scope, space-delimited in the token
	Permissions     Set    // the RBAC permissions array
	GrantType       string // gty, e.g. "client-credentials" or "password"
	Issuer          string // iss
	Audience        []string
	IssuedAt        time.Time // iat; zero when absent
	NotBefore       time.Time // nbf; zero when absent
	ExpiresAt       time.Time // exp; zero when the provider gave none (userinfo)
	TokenID         string    // jti
	Kind            Kind

	// Confirmation is the key the token is bound to (its cnf claim): a
	// request that presents it must prove possession of that key.
	Confirmation Confirmation

	// Custom holds the token's namespaced custom claims (see
	// Mapping.CustomClaimPrefixes) as compact JSON; read one with CustomClaim.
	Custom map[string]json.RawMessage

	// Enrichment holds what the service's enricher added, such as the datasets
	// the caller's organization may see. It is cached with the Principal.
	Enrichment map[string][]string
}

// HasScope reports whether the token was granted scope s.
func (p *Principal) HasScope(s string) bool { return p.Scopes.Has(s) }

// HasPermission reports whether the token carries permission s.
func (p *Principal) HasPermission(s string) bool { return p.Permissions.Has(s) }

// CustomClaim decodes the custom claim name into v. It reports false, and
// leaves v alone, when the token has no such claim.
func (p *Principal) CustomClaim(name string, v any) (bool, error) {
	raw, ok := p.Custom[name]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("claims: custom claim %q: %w", name, err)
	}
	return true, nil
}

// ValidAt reports whether the token has not expired at t. A Principal with
// no expiry (from userinfo) is valid at any t; its cache lifetime is bounded
// elsewhere.
func (p *Principal) ValidAt(t time.Time) bool {
	return p.ExpiresAt.IsZero() || t.Before(p.ExpiresAt)
}

type contextKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, contextKey{}, p)
}

// FromContext returns the Principal carried by ctx, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(contextKey{}).(*Principal)
	return p, ok && p != nil
}
