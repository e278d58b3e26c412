package tokenvalidator_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/tokenvalidator"
)

// FuzzRemoteAnswer feeds arbitrary introspection answers to Remote's
// parser. It must never panic; every refusal is either an invalid token or
// an unavailable endpoint, never both; only an answer whose active member is
// true is accepted, and never cached past its exp.
func FuzzRemoteAnswer(f *testing.F) {
	now := time.Unix(1999990100, 0)
	v := newRemote(f, "http://ts/introspect", func() time.Time { return now }, func(c *tokenvalidator.RemoteConfig) {
		c.Issuers = []string{"https://idp.example/"}
	})
	for _, seed := range []string{
		serviceAnswer,
		`{"active":false}`,
		`{"active":true,"sub":"a","exp":2000000000,"aud":"x","scope":["a","b"]}`,
		`{"active":true,"client_id":"w","kind":"machine","sub":"w@clients","ext":null}`,
		`{"active":true,"kind":"user","sub":"s","ext":{"a":[]}}`,
		`{"active":true,"azp":"a","client_id":"b"}`,
		`{"active":1}`, `null`, `[]`, `{"active":true,"exp":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		res, err := v.Judge(answer)
		if err != nil {
			if errors.Is(err, claims.ErrInvalidToken) == errors.Is(err, claims.ErrUnavailable) {
				t.Fatalf("refusal is not exactly one of invalid or unavailable: %v", err)
			}
			return
		}
		var head struct {
			Active bool `json:"active"`
		}
		if json.Unmarshal(answer, &head) != nil || !head.Active {
			t.Fatalf("accepted an answer that is not active: %q", answer)
		}
		p := res.Principal
		if p == nil || p.Kind == claims.KindUnknown || p.Issuer != "https://idp.example/" {
			t.Fatalf("accepted %q as %+v", answer, p)
		}
		if !res.CacheUntil.After(now) || (!p.ExpiresAt.IsZero() && res.CacheUntil.After(p.ExpiresAt)) {
			t.Fatalf("cache until %v for exp %v", res.CacheUntil, p.ExpiresAt)
		}
	})
}
