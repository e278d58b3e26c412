package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/internal/secretenv"
)

// settings are the program's environment, read once.
type settings struct {
	addr string
	// issuers and audiences are the comma lists of ISSUER_URL and AUDIENCE:
	// tokens of any listed issuer for any listed audience are accepted.
	issuers, audiences []string
	mapping            claims.Mapping // from CLAIMS_PRESET and FIRST_PARTY_CLIENTS
	memcacheServers    []string
	namespace          string
	secrets            secretenv.Secrets
	clients            serviceClients
	rulesFile          string
}

func readSettings(getenv func(string) string) (settings, error) {
	s := settings{
		addr:            or(getenv("ADDR"), "127.0.0.1:8081"),
		issuers:         list(getenv("ISSUER_URL")),
		audiences:       list(getenv("AUDIENCE")),
		memcacheServers: list(getenv("MEMCACHE_SERVERS")),
		namespace:       or(getenv("CACHE_NAMESPACE"), "tokenservice"),
		rulesFile:       getenv("RULES_FILE"),
	}
	var err error
	if s.secrets, err = secretenv.Read(getenv); err != nil {
		return s, err
	}
	if s.mapping, err = preset(getenv("CLAIMS_PRESET")); err != nil {
		return s, err
	}
	s.mapping.FirstPartyClients = list(getenv("FIRST_PARTY_CLIENTS"))
	if s.clients, err = parseServiceClients(getenv("SERVICE_CLIENTS")); err != nil {
		return s, err
	}
	switch {
	case len(s.issuers) > 0 && len(s.audiences) == 0:
		return s, errors.New("AUDIENCE is required with ISSUER_URL")
	case len(s.memcacheServers) > 0 && s.secrets.Current == nil:
		return s, errors.New("AUTHGATE_SECRET (32+ bytes, the same on every instance) is required with MEMCACHE_SERVERS")
	}
	if s.secrets.Current == nil {
		// One instance, nothing shared: a random key per run will do.
		s.secrets.Current = []byte(rand.Text() + rand.Text())
	}
	return s, nil
}

// preset returns the claim mapping CLAIMS_PRESET names (see
// claims.ParsePreset): auth0, the default, rfc9068, okta, keycloak, entra or
// dex.
func preset(name string) (claims.Mapping, error) {
	if name == "" {
		return claims.Mapping{}, nil
	}
	p, err := claims.ParsePreset(name)
	if err != nil {
		return claims.Mapping{}, fmt.Errorf("CLAIMS_PRESET: %w", err)
	}
	return claims.Mapping{Preset: p}, nil
}

// serviceClients are the id:secret pairs of SERVICE_CLIENTS: the services
// allowed to call /introspect. Secrets are kept as SHA-256 digests and
// compared in constant time.
type serviceClients map[string][sha256.Size]byte

// parseServiceClients reads "id:secret,id:secret". An id cannot contain a
// colon (HTTP Basic forbids it); a secret can, but not a comma.
func parseServiceClients(v string) (serviceClients, error) {
	cs := serviceClients{}
	for _, pair := range list(v) {
		id, secret, ok := strings.Cut(pair, ":")
		if !ok || id == "" || secret == "" {
			return nil, errors.New("SERVICE_CLIENTS must list id:secret pairs, separated by commas")
		}
		if _, dup := cs[id]; dup {
			return nil, fmt.Errorf("SERVICE_CLIENTS names %q twice", id)
		}
		cs[id] = sha256.Sum256([]byte(secret))
	}
	return cs, nil
}

// unknownClient is compared against when the id is unknown, so that an
// unknown id and a wrong secret take the same time.
var unknownClient = sha256.Sum256([]byte("not a client"))

// authenticate reports whether r carries the HTTP Basic credentials of one
// of the clients. RFC 6749 §2.3.1 has OAuth clients (tokenvalidator.Remote
// among them) form-encode the id and secret first, and curl -u does not:
// both spellings are accepted.
func (cs serviceClients) authenticate(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if cs.check(id, secret) {
		return true
	}
	did, err1 := url.QueryUnescape(id)
	dsecret, err2 := url.QueryUnescape(secret)
	return err1 == nil && err2 == nil && (did != id || dsecret != secret) && cs.check(did, dsecret)
}

// check compares secret with id's in constant time; an unknown id takes as
// long as a wrong secret.
func (cs serviceClients) check(id, secret string) bool {
	want, known := cs[id]
	if !known {
		want = unknownClient
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && known
}

// list splits a comma-separated setting, dropping blanks.
func list(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
