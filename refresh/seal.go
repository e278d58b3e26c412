package refresh

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Key is an AES-256 key for sealing records at rest. ID goes into every
// sealed record, so keys can rotate: records are sealed with the first key
// of Config.EncryptionKeys and opened with whichever key they name.
type Key struct {
	ID     byte
	Secret []byte // 32 bytes
}

// sealVersion is the first byte of a sealed record.
const sealVersion = 1

var errSealed = errors.New("refresh: record does not open under any known key")

// sealer seals records with AES-256-GCM: a fresh random nonce per record,
// and the record's store key bound in as associated data, so that a record
// moved under another access token's key, altered, or cut does not open.
type sealer struct {
	current byte
	aeads   map[byte]cipher.AEAD
}

func newSealer(keys []Key) (*sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("refresh: at least one encryption key is required")
	}
	s := &sealer{current: keys[0].ID, aeads: make(map[byte]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("refresh: encryption key %d must be 32 bytes (AES-256), not %d", k.ID, len(k.Secret))
		}
		if _, dup := s.aeads[k.ID]; dup {
			return nil, fmt.Errorf("refresh: encryption key id %d given twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads[k.ID] = aead
	}
	return s, nil
}

// seal returns version | key id | nonce | ciphertext-and-tag, where the
// associated data is version | key id | name.
func (s *sealer) seal(plaintext []byte, name string) []byte {
	aead := s.aeads[s.current]
	out := make([]byte, 2, 2+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0], out[1] = sealVersion, s.current
	nonce := out[2 : 2+aead.NonceSize()]
	out = out[:2+aead.NonceSize()]
	rand.Read(nonce) // never fails (Go 1.24+: it crashes the program instead)
	return aead.Seal(out, nonce, plaintext, associatedData(out[:2], name))
}

func (s *sealer) open(sealed []byte, name string) ([]byte, error) {
	if len(sealed) < 2 || sealed[0] != sealVersion {
		return nil, errSealed
	}
	aead, ok := s.aeads[sealed[1]]
	if !ok || len(sealed) < 2+aead.NonceSize()+aead.Overhead() {
		return nil, errSealed
	}
	nonce, ciphertext := sealed[2:2+aead.NonceSize()], sealed[2+aead.NonceSize():]
	plaintext, err := aead.Open(nil, nonce, ciphertext, associatedData(sealed[:2], name))
	if err != nil {
		return nil, errSealed
	}
	return plaintext, nil
}

func associatedData(header []byte, name string) []byte {
	return append(append(make([]byte, 0, len(header)+len(name)), header...), name...)
}
