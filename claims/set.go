package claims

import (
	"encoding/json"
	"slices"
	"strings"
)

// Set is an immutable set of strings, such as a token's scopes or
// permissions. It is built once, when a token is validated, so that checks on
// every request are a binary search with no splitting and no allocation. The
// zero Set is empty and ready to use.
type Set struct {
	items []string // sorted, no duplicates, nil when empty
}

// NewSet returns the set of the given items; empty strings are dropped.
func NewSet(items ...string) Set {
	if len(items) == 0 {
		return Set{}
	}
	return ownedSet(slices.Clone(items))
}

// ParseScope returns the set of a space-delimited scope string (RFC 6749
// §3.3), as found in a token's "scope" claim.
func ParseScope(scope string) Set {
	return ownedSet(strings.Fields(scope))
}

// Has reports whether x is in the set.
func (s Set) Has(x string) bool {
	_, ok := slices.BinarySearch(s.items, x)
	return ok
}

// HasAll reports whether every one of xs is in the set; it is true for no xs.
func (s Set) HasAll(xs ...string) bool {
	for _, x := range xs {
		if !s.Has(x) {
			return false
		}
	}
	return true
}

// HasAny reports whether at least one of xs is in the set; it is false for no xs.
func (s Set) HasAny(xs ...string) bool {
	for _, x := range xs {
		if s.Has(x) {
			return true
		}
	}
	return false
}

// Len returns the number of items.
func (s Set) Len() int { return len(s.items) }

// Strings returns the items in sorted order, as a new slice the caller may keep.
func (s Set) Strings() []string { return slices.Clone(s.items) }

// All iterates over the items in sorted order.
func (s Set) All(yield func(string) bool) {
	for _, it := range s.items {
		if !yield(it) {
			return
		}
	}
}

// String returns the items space-delimited, in the form of a scope claim.
func (s Set) String() string { return strings.Join(s.items, " ") }

// MarshalJSON encodes the set as a JSON array of strings ([] when empty).
func (s Set) MarshalJSON() ([]byte, error) {
	if s.items == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(s.items)
}

// union returns the set of the items of s and t.
func (s Set) union(t Set) Set {
	switch {
	case len(t.items) == 0:
		return s
	case len(s.items) == 0:
		return t
	}
	return ownedSet(append(slices.Clone(s.items), t.items...))
}
