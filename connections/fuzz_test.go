package connections

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseCallback: whatever a redirect's query holds, ParseCallback
// either refuses it or returns a callback with a state and exactly one of
// code and error, each within bounds.
func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{
		"code=abc&state=xyz",
		"error=access_denied&error_description=The+user+declined&state=xyz",
		"code=a&code=b&state=x",
		"state=x",
		"code=a&error=b&state=x",
		"error=%22bad%22&state=x",
		"code=%00&state=x",
		"code=a&state=x&iss=https%3A%2F%2Froomsmart.example%2F",
		"code=a&state=x&iss=a&iss=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		cb, err := ParseCallback(q)
		if err != nil {
			return
		}
		if cb.State == "" || (cb.Code == "") == (cb.Error == "") {
			t.Fatalf("accepted %q as %+v", raw, cb)
		}
		for _, v := range []string{cb.Code, cb.State, cb.Error, cb.ErrorDescription, cb.Issuer} {
			if len(v) > maxCallbackValue || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("accepted %q", v)
			}
		}
	})
}

// FuzzStoredRecords: records read back from a store — a sealed grant, an
// app_metadata entry — never open unless sealed by us for that very
// subject, party and version, and never panic.
func FuzzStoredRecords(f *testing.F) {
	k, err := newKeys(FlowConfig{Namespace: "n", HashKey: make([]byte, 32), EncryptionKeys: []Key{{ID: 1, Secret: make([]byte, 32)}}})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := k.sealJSON(grant{Layout: grantLayout, Status: StatusConnected, RefreshToken: "rt"}, grantAD("s", "p", 1))
	f.Add(good, []byte(`{"version":1,"grant":"AQE"}`))
	f.Add([]byte{1, 1, 0}, []byte(`{"version":"1"}`))
	f.Fuzz(func(t *testing.T, data, entry []byte) {
		var g grant
		if err := k.openJSON(data, grantAD("s", "p", 1), &g); err == nil && g.RefreshToken != "rt" {
			// Only what we sealed (the seed, in whichever process made
			// it) opens: the fuzzer cannot forge GCM.
			t.Fatalf("a record the fuzzer made opened: %x", data)
		}
		if r, err := decodeStored("s", "p", json.RawMessage(entry)); err == nil && r.Version < 1 {
			t.Fatalf("version %d accepted", r.Version)
		}
	})
}
