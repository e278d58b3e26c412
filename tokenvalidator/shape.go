package tokenvalidator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
)

var (
	errNotCompactJWS = errors.New("not a compact JWS: want three base64url segments")
	errNotJSONObject = errors.New("segment is not a base64url JSON object")
)

// LooksLikeJWT reports whether token has the shape of a compact JWS (three
// base64url segments whose first decodes to a JSON object). It says nothing
// about validity; [Auto] uses it to route a token.
func LooksLikeJWT(token string) bool {
	header, _, _, err := splitCompact(token)
	if err != nil {
		return false
	}
	h, err := decodeSegment(header)
	return err == nil && isJSONObject(h)
}

// splitCompact splits a compact JWS into its segments, insisting on the
// unpadded base64url alphabet (RFC 7515 §2): padded or standard-base64
// variants, which some decoders quietly accept, are malformed here.
func splitCompact(token string) (header, payload, signature string, err error) {
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", "", errNotCompactJWS
	}
	payload, signature, ok = strings.Cut(rest, ".")
	if !ok || header == "" || payload == "" || strings.IndexByte(signature, '.') >= 0 {
		return "", "", "", errNotCompactJWS
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !isBase64URL(c) && c != '.' {
			return "", "", "", errNotCompactJWS
		}
	}
	if !canonicalTail(header) || !canonicalTail(payload) || !canonicalTail(signature) {
		return "", "", "", errNotCompactJWS
	}
	return header, payload, signature, nil
}

// canonicalTail reports whether seg's length and last character are those
// of canonical unpadded base64url: the bits past the last whole byte must be
// zero. Lenient decoders ignore them, which would give one signature many
// spellings — and one token many cache keys.
func canonicalTail(seg string) bool {
	if len(seg) == 0 {
		return true
	}
	v := strings.IndexByte(base64URLAlphabet, seg[len(seg)-1])
	switch len(seg) % 4 {
	case 1:
		return false
	case 2:
		return v&0x0f == 0
	case 3:
		return v&0x03 == 0
	}
	return true
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func decodeSegment(seg string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(seg)
}

func isJSONObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// unverifiedIssuer reads the iss claim of a compact JWS without verifying
// anything, to route the token to the validator configured for that issuer.
func unverifiedIssuer(token string) (string, error) {
	_, payload, _, err := splitCompact(token)
	if err != nil {
		return "", err
	}
	b, err := decodeSegment(payload)
	if err != nil {
		return "", errNotJSONObject
	}
	if _, err := claimsObject(b); err != nil {
		return "", err
	}
	iss, ok := stringMember(b, "iss")
	if !ok {
		return "", errors.New("no iss claim, or not a string")
	}
	return iss, nil
}

// unverifiedKID reads the kid header of a compact JWS without verifying
// anything; "" when it has none.
func unverifiedKID(token string) string {
	header, _, _, err := splitCompact(token)
	if err != nil {
		return ""
	}
	b, err := decodeSegment(header)
	if err != nil {
		return ""
	}
	kid, _ := stringMember(b, "kid")
	return kid
}

// payloadIssuer returns the (unverified) claims payload's iss, or "" when it
// has none that is a string.
func payloadIssuer(payload []byte) string {
	iss, _ := stringMember(payload, "iss")
	return iss
}

// stringMember returns the string member name of the JSON object b, and
// false when b is not an object or name is absent or not a string.
func stringMember(b []byte, name string) (string, bool) {
	c, err := claimsObject(b)
	var v string
	if err != nil || len(c[name]) == 0 || c[name][0] != '"' || json.Unmarshal(c[name], &v) != nil {
		return "", false
	}
	return v, true
}

// issuedAfter reports whether the (unverified) claims payload has a numeric
// iat after t.
func issuedAfter(payload []byte, t time.Time) bool {
	c, err := claimsObject(payload)
	if err != nil {
		return false
	}
	var iat float64
	if raw := c["iat"]; len(raw) == 0 || json.Unmarshal(raw, &iat) != nil || math.IsNaN(iat) {
		return false
	}
	return iat > float64(t.Unix())
}

// hasClaim reports whether the claims payload has a member name.
func hasClaim(payload []byte, name string) bool {
	c, err := claimsObject(payload)
	_, ok := c[name]
	return err == nil && ok
}

// claimsObject decodes a JSON object's members. A map, not a struct:
// encoding/json matches struct fields without regard to case, and "ISS" is
// not "iss".
func claimsObject(b []byte) (map[string]json.RawMessage, error) {
	var c map[string]json.RawMessage
	if !isJSONObject(b) || json.Unmarshal(b, &c) != nil {
		return nil, errNotJSONObject
	}
	return c, nil
}
