package refresh

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/authgate/authgate/claims"
)

// A subject's sessions are findable. Each family (a login and its
// rotations) is listed, with its client, in its subject's index; its head
// names its current record. Both are sealed like records, under names
// that are keyed hashes of the subject and of the family id:
//
//	agr1:<namespace>:sub:<keyed hash of the subject>   the index
//	agr1:<namespace>:fam:<keyed hash of the family>    the head
//
// The index changes only under its lock (Store.Lock, an owner lock on
// both nodes with MemcacheStore): when a login adds a family, when a
// logout, a reuse or EndSubject ends families. A rotation moves the head,
// under the refresh lock it already holds.

// subjectIndex lists a subject's families.
type subjectIndex struct {
	Version  int       `json:"v"`
	Families []indexed `json:"families"` // oldest first
	Until    int64     `json:"until"`    // Unix seconds: when the index expires
}

type indexed struct {
	ID     string `json:"id"`
	Client string `json:"client"`
}

// familyHead names a family's current record.
type familyHead struct {
	Version int    `json:"v"`
	Subject string `json:"sub"`
	Current string `json:"current"`
}

const (
	indexVersion = 1
	// indexLockTTL bounds how long an index update holds the index: a
	// read, a write and at most maxPrune reads, each well within a second.
	indexLockTTL = 5 * time.Second
	// pruneAbove is how many families an index lists before an addition
	// also drops families that have ended without being removed (their
	// head has expired); maxPrune bounds the heads read for it.
	pruneAbove = 32
	maxPrune   = 16
	// maxFamilies bounds one subject's index; a login past it keeps no
	// refresh token (as when the store refuses it).
	maxFamilies = 4096
)

var errTooManySessions = errors.New("refresh: the subject has too many sessions")

// keyedName is the store name of a subject's index or a family's head.
func (s *Service) keyedName(kind, value string) string {
	mac := hmac.New(sha256.New, s.cfg.HashKey)
	mac.Write([]byte(kind))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return "agr1:" + s.cfg.Namespace + ":" + kind + ":" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Service) indexName(subject string) string { return s.keyedName("sub", subject) }
func (s *Service) headName(family string) string   { return s.keyedName("fam", family) }

// track lists a new family in its subject's index and names name as its
// current record: before the record is stored, so that no stored login is
// missing from the index.
func (s *Service) track(ctx context.Context, rec *record, name string) error {
	err := s.updateIndex(ctx, rec.Subject, func(idx *subjectIndex) (bool, error) {
		if len(idx.Families) >= pruneAbove {
			s.prune(ctx, idx)
		}
		if len(idx.Families) >= maxFamilies {
			return false, errTooManySessions
		}
		idx.Families = append(idx.Families, indexed{ID: rec.FamilyID, Client: rec.ClientID})
		return true, nil
	})
	if err != nil {
		return err
	}
	return s.save(ctx, s.headName(rec.FamilyID), &familyHead{Version: indexVersion, Subject: rec.Subject, Current: name}, s.cfg.RecordTTL)
}

// prune drops from idx, oldest first, families whose head has gone (ended
// without being removed, or expired), reading at most maxPrune heads.
func (s *Service) prune(ctx context.Context, idx *subjectIndex) {
	var gone []string
	for _, f := range idx.Families[:min(len(idx.Families), maxPrune)] {
		var h familyHead
		if err := s.load(ctx, s.headName(f.ID), &h); errors.Is(err, ErrNotFound) {
			gone = append(gone, f.ID)
		}
	}
	idx.Families = slices.DeleteFunc(idx.Families, func(f indexed) bool { return slices.Contains(gone, f.ID) })
}

// moved lists rec's family, which a rotation has just moved (the caller
// wrote its head), again if its index lacks it (a login made before
// sessions were indexed) or expires within half a RecordTTL (a family kept
// alive by refreshes outlives the login that listed it). idx and err are
// what loading the index found.
func (s *Service) moved(ctx context.Context, rec *record, idx *subjectIndex, err error) {
	if err == nil && idx.has(rec.FamilyID) && time.Unix(idx.Until, 0).Sub(s.o.now()) > s.cfg.RecordTTL/2 {
		return
	}
	err = s.updateIndex(ctx, rec.Subject, func(idx *subjectIndex) (bool, error) {
		if !idx.has(rec.FamilyID) {
			idx.Families = append(idx.Families, indexed{ID: rec.FamilyID, Client: rec.ClientID})
		}
		return true, nil
	})
	if err != nil {
		s.o.logger.Warn("refresh: could not list a family in its subject's index", zap.String("family", rec.FamilyID), zap.Error(err))
	}
}

func (idx *subjectIndex) has(family string) bool {
	return slices.ContainsFunc(idx.Families, func(f indexed) bool { return f.ID == family })
}

// forget removes ended families of subject from its index and deletes
// their heads. A failure leaves entries that the next addition prunes.
func (s *Service) forget(ctx context.Context, subject string, families ...string) {
	for _, f := range families {
		if err := s.store.Delete(ctx, s.headName(f)); err != nil {
			s.o.logger.Warn("refresh: could not delete an ended family's head", zap.String("family", f), zap.Error(err))
		}
	}
	err := s.updateIndex(ctx, subject, func(idx *subjectIndex) (bool, error) {
		n := len(idx.Families)
		idx.Families = slices.DeleteFunc(idx.Families, func(f indexed) bool { return slices.Contains(families, f.ID) })
		return len(idx.Families) != n, nil
	})
	if err != nil {
		s.o.logger.Warn("refresh: could not remove ended families from their subject's index", zap.Error(err))
	}
}

// updateIndex changes subject's index under its lock: update reports
// whether it changed anything, and an empty index is deleted.
func (s *Service) updateIndex(ctx context.Context, subject string, update func(*subjectIndex) (bool, error)) error {
	name := s.indexName(subject)
	owner := rand.Text()
	for wait := newBackoff(indexLockTTL); ; {
		err := s.store.Lock(ctx, lockName(name), owner, indexLockTTL)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLocked) {
			return storeError(err)
		}
		if err := wait.sleep(ctx); err != nil {
			return storeError(fmt.Errorf("waiting for a subject's sessions index: %w", err))
		}
	}
	defer func() {
		ctx, cancel := detach(ctx, storeWindow)
		defer cancel()
		if err := s.store.Unlock(ctx, lockName(name), owner); err != nil {
			s.o.logger.Warn("refresh: releasing a sessions index lock failed; it expires with its TTL", zap.Error(err))
		}
	}()
	var idx subjectIndex
	switch err := s.load(ctx, name, &idx); {
	case errors.Is(err, errUnreadable):
		// Tampered with or sealed with a retired key: what it listed is
		// lost to this index (those sessions still end with their logins).
		idx = subjectIndex{}
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	}
	changed, err := update(&idx)
	switch {
	case err != nil:
		return err
	case !changed:
		return nil
	case len(idx.Families) == 0:
		if err := s.store.Delete(ctx, name); err != nil {
			return storeError(err)
		}
		return nil
	}
	idx.Version = indexVersion
	idx.Until = s.o.now().Add(s.cfg.RecordTTL).Unix()
	return s.save(ctx, name, &idx, s.cfg.RecordTTL)
}

// EndSubject ends every session subject holds in this service, as Logout
// ends one: each family's refresh token is revoked at the provider (RFC
// 7009) and its records deleted. It returns how many sessions it ended.
// With an authn.Authenticator as the token cache, RevokeSubject refuses
// the access tokens; EndSubject makes sure no session mints new ones. A
// session that could not be ended (the store or the provider failing) is
// reported in the error and left listed, for a retry to finish.
//
// A refresh of one of the sessions racing with EndSubject can leave its
// newest record stored, with a refresh token revoked at the provider
// (revoking one token of a family revokes the family); with the
// Authenticator as token cache, its refresh is refused anyway.
func (s *Service) EndSubject(ctx context.Context, subject string) (int, error) {
	return s.endSessions(ctx, subject, "")
}

// EndGrant is EndSubject for the sessions subject holds through one client
// (the client id the access tokens name as azp).
func (s *Service) EndGrant(ctx context.Context, subject, clientID string) (int, error) {
	if clientID == "" {
		return 0, errors.New("refresh: EndGrant needs a client id")
	}
	return s.endSessions(ctx, subject, clientID)
}

func (s *Service) endSessions(ctx context.Context, subject, clientID string) (int, error) {
	if subject == "" {
		return 0, errors.New("refresh: no subject")
	}
	var idx subjectIndex
	switch err := s.load(ctx, s.indexName(subject), &idx); {
	case errors.Is(err, ErrNotFound), errors.Is(err, errUnreadable):
		return 0, nil
	case err != nil:
		return 0, err
	}
	var ended []string
	var errs []error
	n := 0
	for _, f := range idx.Families {
		if clientID != "" && f.Client != clientID {
			continue
		}
		live, err := s.endIndexed(ctx, subject, f.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ended = append(ended, f.ID)
		if live {
			n++
		}
	}
	if len(ended) > 0 {
		s.forget(ctx, subject, ended...)
	}
	return n, errors.Join(errs...)
}

// endIndexed ends family, listed in subject's index, and reports whether
// it was still live (it had a record to end).
func (s *Service) endIndexed(ctx context.Context, subject, family string) (bool, error) {
	var h familyHead
	switch err := s.load(ctx, s.headName(family), &h); {
	case errors.Is(err, ErrNotFound), errors.Is(err, errUnreadable):
		return false, nil
	case err != nil:
		return false, err
	case h.Subject != subject:
		s.o.logger.Warn("refresh: a family's head names another subject; left alone", zap.String("family", family))
		return false, nil
	}
	rec, err := s.get(ctx, h.Current)
	switch {
	case errors.Is(err, ErrLoginRequired):
		return false, nil // ended already
	case err != nil:
		return false, err
	case rec.Subject != subject || rec.FamilyID != family:
		s.o.logger.Warn("refresh: a family's head names a login of another family; left alone", zap.String("family", family))
		return false, nil
	}
	return true, s.endFamily(ctx, h.Current, rec)
}

// RevocationChecker says whether a revocation by subject, grant or
// organization refuses an access token's Principal: an error matching
// claims.ErrInvalidToken when it does. *authn.Authenticator implements it;
// see WithTokenCache.
type RevocationChecker interface {
	CheckRevocation(ctx context.Context, p *claims.Principal) error
}

// errUnreadable is load's answer for a value that does not open.
var errUnreadable = errors.New("refresh: stored value unreadable")

// load reads and opens the sealed JSON under name into v: ErrNotFound when
// absent, errUnreadable when it does not open (tampered, moved, sealed
// with a retired key), a store error otherwise.
func (s *Service) load(ctx context.Context, name string, v any) error {
	sealed, err := s.store.Get(ctx, name)
	return s.open(name, sealed, err, v)
}

// open is load's answer for what a read of name returned: sealed, or err.
func (s *Service) open(name string, sealed []byte, err error, v any) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrNotFound
	case err != nil:
		return storeError(err)
	}
	plain, err := s.sealer.open(sealed, name)
	if err == nil {
		err = json.Unmarshal(plain, v)
	}
	if err != nil {
		s.m.rejected.Inc()
		s.o.logger.Warn("refresh: stored value rejected (tampered, moved or unknown key)")
		return errUnreadable
	}
	return nil
}

// saving is a value for saveAll to seal and store.
type saving struct {
	name string
	v    any
	ttl  time.Duration
}

// saveAll saves each of vs as save does, at once: when the refresh lock
// h can (MemcacheStore), in one call that then releases h (h.released),
// one round trip per node; otherwise side by side. It returns each one's
// error.
func (s *Service) saveAll(ctx context.Context, h *held, vs []saving) []error {
	errs := make([]error, len(vs))
	if h.setThenUnlock == nil {
		var wg sync.WaitGroup
		for i, v := range vs {
			wg.Go(func() { errs[i] = s.save(ctx, v.name, v.v, v.ttl) })
		}
		wg.Wait()
		return errs
	}
	entries := make([]entry, 0, len(vs))
	for i, v := range vs {
		plain, err := json.Marshal(v.v)
		if err != nil {
			errs[i] = err
			continue
		}
		entries = append(entries, entry{name: v.name, value: s.sealer.seal(plain, v.name), ttl: v.ttl})
	}
	stored, err := h.setThenUnlock(ctx, entries)
	h.released = true
	if err != nil {
		s.o.logger.Warn("refresh: releasing a refresh lock failed; it expires with its TTL", zap.Error(err))
	}
	for i, k := 0, 0; i < len(vs); i++ {
		if errs[i] != nil {
			continue
		}
		if stored[k] != nil {
			errs[i] = storeError(stored[k])
		}
		k++
	}
	return errs
}

// save seals v as JSON under name for ttl.
func (s *Service) save(ctx context.Context, name string, v any, ttl time.Duration) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.store.Set(ctx, name, s.sealer.seal(plain, name), ttl); err != nil {
		return storeError(err)
	}
	return nil
}
