// Package secretenv reads the shared secret, and a rotation of it, from the
// environment, as the venue example and the token service take them:
//
//	AUTHGATE_SECRET              the current secret (32+ bytes)
//	AUTHGATE_SECRET_ID           its id, 1 to 255 (default 1)
//	AUTHGATE_PREVIOUS_SECRET     a secret still accepted during a rotation (32+ bytes)
//	AUTHGATE_PREVIOUS_SECRET_ID  its id when it was current (required with it)
//	AUTHGATE_NAME_SECRET         the secret names are keyed with (default AUTHGATE_SECRET)
//
// They map onto authn.SetupConfig's Secret, SecretID, PreviousSecrets and
// NameSecret; OPERATIONS.md gives the three deploys of a rotation.
package secretenv

import (
	"errors"
	"fmt"
	"strconv"
)

// MinLength is the shortest secret accepted, in bytes.
const MinLength = 32

// Secrets is what the environment says.
type Secrets struct {
	Current    []byte // nil when AUTHGATE_SECRET is unset
	CurrentID  byte   // 1 when unset
	Previous   []byte // nil outside a rotation
	PreviousID byte
	Names      []byte // nil: Current
}

// Read reads the variables above through getenv. It checks what it can
// alone: lengths of the secrets that are set, ids in range, a previous
// secret with an id distinct from the current one, and no rotation
// settings without AUTHGATE_SECRET. Whether a secret is required at all is
// the caller's to say.
func Read(getenv func(string) string) (Secrets, error) {
	s := Secrets{Current: bytesOrNil(getenv("AUTHGATE_SECRET")), Previous: bytesOrNil(getenv("AUTHGATE_PREVIOUS_SECRET")),
		Names: bytesOrNil(getenv("AUTHGATE_NAME_SECRET"))}
	var err error
	if s.CurrentID, err = id("AUTHGATE_SECRET_ID", getenv("AUTHGATE_SECRET_ID"), 1); err != nil {
		return Secrets{}, err
	}
	if s.PreviousID, err = id("AUTHGATE_PREVIOUS_SECRET_ID", getenv("AUTHGATE_PREVIOUS_SECRET_ID"), 0); err != nil {
		return Secrets{}, err
	}
	rotating := s.Previous != nil || s.PreviousID != 0 || s.Names != nil || getenv("AUTHGATE_SECRET_ID") != ""
	switch {
	case s.Current == nil && rotating:
		return Secrets{}, errors.New("AUTHGATE_SECRET is required with AUTHGATE_SECRET_ID, AUTHGATE_PREVIOUS_SECRET or AUTHGATE_NAME_SECRET")
	case s.Current != nil && len(s.Current) < MinLength:
		return Secrets{}, fmt.Errorf("AUTHGATE_SECRET: %d bytes, want %d or more", len(s.Current), MinLength)
	case (s.Previous == nil) != (s.PreviousID == 0):
		return Secrets{}, errors.New("AUTHGATE_PREVIOUS_SECRET and AUTHGATE_PREVIOUS_SECRET_ID go together")
	case s.Previous != nil && len(s.Previous) < MinLength:
		return Secrets{}, fmt.Errorf("AUTHGATE_PREVIOUS_SECRET: %d bytes, want %d or more", len(s.Previous), MinLength)
	case s.Previous != nil && s.PreviousID == s.CurrentID:
		return Secrets{}, fmt.Errorf("AUTHGATE_PREVIOUS_SECRET_ID is %d, the current secret's id: a rotation gives the new secret a new id", s.PreviousID)
	case s.Names != nil && len(s.Names) < MinLength:
		return Secrets{}, fmt.Errorf("AUTHGATE_NAME_SECRET: %d bytes, want %d or more", len(s.Names), MinLength)
	}
	return s, nil
}

// NameSecret is the secret names are keyed with: Names, else Current.
func (s Secrets) NameSecret() []byte {
	if s.Names != nil {
		return s.Names
	}
	return s.Current
}

func bytesOrNil(v string) []byte {
	if v == "" {
		return nil
	}
	return []byte(v)
}

// id parses a secret id, 1 to 255; def when v is empty.
func id(name, v string, def byte) (byte, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s: %q is not an id from 1 to 255", name, v)
	}
	return byte(n), nil
}
