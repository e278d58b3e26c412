package refresh

import (
	"fmt"

	"github.com/authgate/authgate/internal/seal"
)

// Key is an AES-256 key for sealing records at rest. ID goes into every
// sealed record, so keys can rotate: records are sealed with the first key
// of Config.EncryptionKeys and opened with whichever key they name.
type Key struct {
	ID     byte
	Secret []byte // 32 bytes
}

// sealer seals records with AES-256-GCM (internal/seal): a fresh random
// nonce per record, and the record's store name bound in as associated
// data, so that a record moved under another access token's name, altered,
// or cut does not open.
type sealer struct{ box *seal.Box }

func newSealer(keys []Key) (*sealer, error) {
	sk := make([]seal.Key, len(keys))
	for i, k := range keys {
		sk[i] = seal.Key{ID: k.ID, Secret: k.Secret}
	}
	box, err := seal.New(sk)
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return &sealer{box: box}, nil
}

// seal returns version | key id | nonce | ciphertext-and-tag, where the
// associated data is version | key id | name.
func (s *sealer) seal(plaintext []byte, name string) []byte {
	return s.box.Seal(plaintext, []byte(name))
}

func (s *sealer) open(sealed []byte, name string) ([]byte, error) {
	return s.box.Open(sealed, []byte(name))
}
