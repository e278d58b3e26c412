// Package claims holds the vocabulary every layer of authgate shares: the
// [Principal] a validated token becomes, the mapping from a token's claims to
// it, the errors that tell an invalid token from an unreachable provider, and
// the context helpers that carry a Principal through a request.
//
// It imports only the standard library.
package claims
