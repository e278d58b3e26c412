package claims

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestPresetTable: Decode keeps the party claims in an array of
// maxParties (a preset's and client_id), and the names are distinct.
func TestPresetTable(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Presets() {
		spec, _ := p.spec()
		if len(spec.parties)+1 > maxParties {
			t.Errorf("%v reads %d party claims besides client_id; maxParties is %d", p, len(spec.parties), maxParties)
		}
		if seen[spec.name] || spec.name == "" {
			t.Errorf("preset name %q", spec.name)
		}
		seen[spec.name] = true
	}
}

func TestIsDexClientSubject(t *testing.T) {
	for _, client := range []string{"w", "venue-worker", strings.Repeat("x", 64), strings.Repeat("y", 127), strings.Repeat("z", 300)} {
		sub := append([]byte{0x0a}, byte(len(client)))
		if len(client) >= 128 {
			sub = append([]byte{0x0a}, byte(len(client)&0x7f|0x80), byte(len(client)>>7))
		}
		enc := base64.RawURLEncoding.EncodeToString(append(sub, client...))
		if !isDexClientSubject(enc, client) {
			t.Errorf("%d-byte client: %q not recognized", len(client), enc)
		}
		if isDexClientSubject(enc, client+"x") || isDexClientSubject(enc[:len(enc)-1], client) {
			t.Errorf("%d-byte client: a near miss was recognized", len(client))
		}
	}
}
