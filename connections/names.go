package connections

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/authgate/authgate/internal/seal"
)

// keys names and seals what the package keeps: a keyed hash for cache
// names, AES-256-GCM for values.
type keys struct {
	namespace string
	hashKey   []byte
	box       *seal.Box
}

func newKeys(cfg FlowConfig) (*keys, error) {
	sk := make([]seal.Key, len(cfg.EncryptionKeys))
	for i, k := range cfg.EncryptionKeys {
		sk[i] = seal.Key{ID: k.ID, Secret: k.Secret}
	}
	box, err := seal.New(sk)
	if err != nil {
		return nil, fmt.Errorf("connections: %w", err)
	}
	return &keys{namespace: cfg.Namespace, hashKey: cfg.HashKey, box: box}, nil
}

// name returns the cache name of kind for parts: "agc1:<namespace>:<kind>:"
// and a keyed hash, so that memcached never sees a subject or a state.
func (k *keys) name(kind string, parts ...string) string {
	mac := hmac.New(sha256.New, k.hashKey)
	mac.Write(seal.AD(parts...))
	return "agc1:" + k.namespace + ":" + kind + ":" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:24])
}

// sealJSON seals v as JSON bound to ad.
func (k *keys) sealJSON(v any, ad []byte) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return k.box.Seal(plain, ad), nil
}

// errUnreadable is a sealed value that does not open or decode: tampered,
// moved to another user, party or version, or sealed under a key no longer
// listed.
var errUnreadable = errors.New("connections: stored record unreadable (tampered, moved, or sealed under an unknown key)")

// openJSON opens sealed, bound to ad, into v.
func (k *keys) openJSON(sealed, ad []byte, v any) error {
	plain, err := k.box.Open(sealed, ad)
	if err != nil {
		return errUnreadable
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errUnreadable
	}
	return nil
}

// Associated data of each kind of sealed value.
func grantAD(subject, party string, version int64) []byte {
	return seal.AD("authgate connection grant", subject, party, strconv.FormatInt(version, 10))
}

func tokenAD(subject, party string) []byte {
	return seal.AD("authgate connection access token", subject, party)
}

func stateAD(name string) []byte { return seal.AD("authgate connection state", name) }
