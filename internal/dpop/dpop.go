// Package dpop holds the parts of DPoP (RFC 9449) that the proof verifier
// (tokenvalidator) and the test provider (idptest) both need and that need
// no JOSE library: comparing a proof's htu with a request's URI, and the
// access-token hash ath.
package dpop

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/tokenhash"
)

// ErrURI is NormalizeURI's answer for anything that is not an absolute
// http or https URI with a host and no user information.
var ErrURI = errors.New("dpop: not an absolute http(s) URI with a host")

// NormalizeURI returns uri as htu is compared (RFC 9449 §4.3): without its
// query and fragment, after syntax-based normalization (RFC 3986 §6.2.2:
// scheme and host in lower case, percent-encodings in upper case and
// decoded where they encode an unreserved character, dot segments
// removed) and scheme-based normalization (§6.2.3: no default or empty
// port, "/" for an empty path). Two URIs that normalize alike name the same
// resource.
func NormalizeURI(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", ErrURI
	}
	scheme := strings.ToLower(u.Scheme)
	var defaultPort string
	switch scheme {
	case "https":
		defaultPort = "443"
	case "http":
		defaultPort = "80"
	default:
		return "", ErrURI
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", ErrURI
	}
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]" // an IPv6 literal
	}
	if port := u.Port(); port != "" && port != defaultPort {
		host += ":" + port
	}
	path := removeDotSegments(normalizeEscapes(u.EscapedPath()))
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// normalizeEscapes upper-cases the hex digits of every percent-encoding in
// an escaped path and decodes those of unreserved characters (RFC 3986
// §6.2.2.1, §6.2.2.2). The path comes from url.URL.EscapedPath, so every
// "%" starts a valid encoding.
func normalizeEscapes(p string) string {
	if strings.IndexByte(p, '%') < 0 {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) {
			b.WriteByte(p[i])
			continue
		}
		c := unhex(p[i+1])<<4 | unhex(p[i+2])
		if unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0x0f])
		}
		i += 2
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986 §5.2.4's algorithm for an absolute path:
// "." segments go, and ".." removes the segment before it.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "") // "/a/." is "/a/"
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	if len(out) == 1 && out[0] == "" {
		return "/"
	}
	return strings.Join(out, "/")
}

// TokenHash returns the ath of token: base64url(SHA-256(token)), without
// padding (RFC 9449 §4.2).
func TokenHash(token string) string {
	sum := tokenhash.Sum(token)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TokenHashMatches reports whether ath is token's hash, without allocating.
func TokenHashMatches(ath, token string) bool {
	const n = 43 // base64.RawURLEncoding.EncodedLen(sha256.Size)
	if len(ath) != n {
		return false
	}
	var buf [n]byte
	sum := tokenhash.Sum(token)
	base64.RawURLEncoding.Encode(buf[:], sum[:sha256.Size])
	return string(buf[:]) == ath
}
