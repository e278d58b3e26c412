// Package claims holds the vocabulary every layer of authgate shares: the
// [Principal] a validated token becomes (with the [Confirmation] of a
// sender-constrained token), the mapping from a token's claims to it, the
// errors that tell an invalid token or DPoP proof from an unreachable
// provider, and the context helpers that carry a Principal through a
// request.
//
// It imports only the standard library.
package claims
