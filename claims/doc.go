// Package claims holds the vocabulary every layer of authgate shares: the
// [Principal] a validated token becomes (with the [Confirmation] of a
// sender-constrained token), the mapping from a token's claims to it, the
// errors that tell an invalid token or DPoP proof from an unreachable
// provider, and the context helpers that carry a Principal through a
// request.
//
// A [Mapping] reads a token's claims — a JWT payload, an introspection or a
// userinfo answer — into a Principal: who calls (sub), through which client
// (the authorized party), with which scopes, permissions and organization,
// and whether the caller is a user, a partner app acting for a user, or a
// machine. Providers say these things in different words, so a Mapping
// names a [Preset]: Auth0 (the default), RFC 9068, Okta, Keycloak,
// Microsoft Entra ID or Dex. Each preset's documentation says where it
// reads each field and what marks a machine; the presets table in
// preset.go is where the code says it.
//
//	m := claims.Mapping{Preset: claims.PresetKeycloak, RolesClient: "venue-api", FirstPartyClients: []string{"venue-app"}}
//	p, err := m.Decode(payload) // a *TokenError of ReasonMalformed when a claim has the wrong type
//
// A Principal is encoded compactly for caches (MarshalBinary) and travels
// in a request's context (NewContext, FromContext). Its scopes and
// permissions are a [Set], checked without allocation.
//
// It imports only the standard library.
package claims
