package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authgate/authgate/cache"
	"github.com/authgate/authgate/claims"
)

// ErrBadRevocation is the error of a revocation asked for with nothing to
// name (an empty subject, client or organization) or a time T in the
// future.
var ErrBadRevocation = errors.New("authn: bad revocation")

// RevokeSubject makes every instance refuse the tokens of subject (sub)
// issued before before — every token of that user, through any client,
// for any API of the namespace — and accept those issued after it, so
// that a new login works. A zero before means now.
//
// On this instance it takes effect at once, also for a validation in
// flight. Every other instance refuses such a token when it validates it
// and on every shared-tier hit, through a mark written to the shared tier
// on two nodes; one that holds the token in its own memory keeps
// accepting it for at most Config.MemoryTTL. See the package
// documentation for the rules (iat, the mark's lifetime, what happens with
// memcached down).
func (a *Authenticator) RevokeSubject(ctx context.Context, subject string, before time.Time) error {
	if subject == "" {
		return fmt.Errorf("%w: no subject", ErrBadRevocation)
	}
	return a.revoke(ctx, markSubject, markDigest(markSubject, subject), before, func(p *claims.Principal) bool {
		return p.Subject == subject
	})
}

// RevokeGrant is RevokeSubject for the tokens of subject obtained through
// one client (azp, or client_id): a partner app acting for one user. The
// user's own logins and other partners are not touched.
func (a *Authenticator) RevokeGrant(ctx context.Context, subject, clientID string, before time.Time) error {
	if subject == "" || clientID == "" {
		return fmt.Errorf("%w: a grant needs a subject and a client id", ErrBadRevocation)
	}
	return a.revoke(ctx, markGrant, markDigest(markGrant, subject, clientID), before, func(p *claims.Principal) bool {
		return p.Subject == subject && p.AuthorizedParty == clientID
	})
}

// RevokeOrganization is RevokeSubject for every token of an organization
// (org_id): each of its members, through every client.
func (a *Authenticator) RevokeOrganization(ctx context.Context, orgID string, before time.Time) error {
	if orgID == "" {
		return fmt.Errorf("%w: no organization", ErrBadRevocation)
	}
	return a.revoke(ctx, markOrganization, markDigest(markOrganization, orgID), before, func(p *claims.Principal) bool {
		return p.OrgID == orgID
	})
}

// revoke records the mark d of time before: in this process — under the
// lock landing validations take, sweeping the Principals it refuses from
// memory, so that nothing validated before it is kept after it — then in
// the shared tier, where a later time is never replaced by an earlier one.
// The sweep looks at every entry in memory while validations wait to land
// (in-process hits go on): a revocation is an administrator's act, not a
// request's.
func (a *Authenticator) revoke(ctx context.Context, kind markKind, d cache.Digest, before time.Time, match func(*claims.Principal) bool) error {
	now := a.o.now()
	switch {
	case before.IsZero():
		before = now
	case before.After(now):
		return fmt.Errorf("%w: T is in the future", ErrBadRevocation)
	}
	until := a.markEnd(before)
	if !until.After(now) {
		return nil // every token it could refuse has expired
	}
	a.m.revocations[kind].Inc()
	a.flights.mu.Lock()
	if t, ok := a.marks.Get(d, now); !ok || t < before.UnixNano() {
		a.marks.Set(d, before.UnixNano(), until)
	}
	a.anyMarks.Store(true)
	a.memory.DeleteFunc(func(_ cache.Digest, p *claims.Principal) bool { return match(p) && refusedBy(p, before) })
	a.flights.mu.Unlock()
	if a.o.shared == nil {
		return nil
	}
	err := a.o.shared.SetReplicatedIf(ctx, d, cache.Entry{Value: encodeMark(before), Expires: until}, func(cur cache.Entry) bool {
		t, ok := decodeMark(cur.Value)
		return !ok || t.Before(before)
	})
	if err != nil {
		return fmt.Errorf("authn: revoking in the shared tier: %w", err)
	}
	return nil
}

// markEnd is when a mark of time before can be forgotten: no token issued
// before it is accepted anywhere any more. Config.RevocationTTL is the
// longest token lifetime; the validator's leeway and Config.ClockSkew are
// added as for Invalidate.
func (a *Authenticator) markEnd(before time.Time) time.Time {
	return before.Add(a.cfg.RevocationTTL + a.policy.Leeway + a.cfg.ClockSkew)
}

// revokedHere reports whether a mark this instance made refuses p. land
// asks it under flights.mu, which revoke holds while it records a mark and
// sweeps memory: a validation lands either before the sweep, which removes
// it, or after the mark, which refuses it.
func (a *Authenticator) revokedHere(p *claims.Principal, now time.Time) bool {
	if !a.anyMarks.Load() {
		return false
	}
	ms := marksOf(p)
	for _, d := range ms.digests() {
		if t, ok := a.marks.Get(d, now); ok && refusedBy(p, time.Unix(0, t)) {
			return true
		}
	}
	return false
}

// markVerdict is what the shared tier's marks say of a Principal.
type markVerdict struct {
	revoked bool
	until   time.Time // revoked: until when its mark lasts
	unknown bool      // a mark could not be read from either of its nodes
}

// judge reads the marks fetched for p (ls, in the order of marksOf(p)).
func judge(p *claims.Principal, ls []cache.Lookup) markVerdict {
	var v markVerdict
	for _, l := range ls {
		if l.Err != nil {
			v.unknown = true
			continue
		}
		for _, e := range l.Entries {
			if t, ok := decodeMark(e.Value); ok && refusedBy(p, t) {
				v.revoked = true
				v.until = later(v.until, e.Expires)
			}
		}
	}
	return v
}

// sharedMarks fetches and judges p's marks in the shared tier.
func (a *Authenticator) sharedMarks(ctx context.Context, p *claims.Principal) markVerdict {
	ms := marksOf(p)
	if ms.n == 0 {
		return markVerdict{}
	}
	ls, err := a.o.shared.GetMulti(ctx, ms.digests())
	if err != nil {
		return markVerdict{unknown: true}
	}
	return judge(p, ls)
}

// refuse remembers that token d is refused by a mark lasting until mark,
// for as long as the token could otherwise be accepted.
func (a *Authenticator) refuse(d cache.Digest, p *claims.Principal, mark time.Time) verdict {
	a.m.markRefusals.Inc()
	until := mark
	if !p.ExpiresAt.IsZero() {
		until = earliest(until, p.ExpiresAt.Add(a.policy.Leeway+a.cfg.ClockSkew))
	}
	a.revoked.Set(d, struct{}{}, until)
	return verdict{err: errRevoked}
}

// CheckRevocation returns an error matching claims.ErrInvalidToken when a
// revocation by subject, grant or organization refuses p — made by this
// instance, or found in the shared tier — and nil otherwise, also when
// the shared tier cannot be asked. The refresh service asks it before
// trading an access token for a new one, so that a session whose tokens
// were revoked cannot mint tokens issued after the revocation.
func (a *Authenticator) CheckRevocation(ctx context.Context, p *claims.Principal) error {
	if a.revokedHere(p, a.o.now()) {
		return errRevoked
	}
	if a.o.shared == nil {
		return nil
	}
	v := a.sharedMarks(ctx, p)
	if v.unknown {
		a.m.sharedError.Inc()
	}
	if v.revoked {
		return errRevoked
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
