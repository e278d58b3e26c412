package tokenvalidator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/authgate/authgate/claims"
	"github.com/authgate/authgate/idptest"
)

// FuzzCompactSigned: any header, HMAC-signed with the shared secret so that the
// signature holds whatever the header says: the compact path and jwx's
// must agree on payload, verdict and reason in every mode. (FuzzCompact
// mutates signed tokens, whose signatures then fail: it cannot reach an
// accepted token; this one can.)
func FuzzCompactSigned(f *testing.F) {
	idp := idptest.Start(f, idptest.Demo())
	v, secret := withSharedSecret(f, idp)
	c, _ := idp.UserClaims(idptest.ClaimsRequest{Username: "alice", ClientID: "venue-app", Audience: idptest.DemoAPI})
	tok, _ := idp.Mint(c)
	_, rest, _ := strings.Cut(tok, ".")
	payloadSeg, _, _ := strings.Cut(rest, ".")
	for _, h := range []string{`{"alg":"HS256"}`, `{"alg":"HS256","typ":"JWT"}`, `{"alg":"HS256","kid":"x","typ":"at+jwt"}`,
		` {"typ":"JWT" , "alg" : "HS256"} `, `{"alg":"HS256","cty":"JWT"}`, `{"alg":"HS256","crit":[]}`, `{"alg":"HS256","b64":true}`,
		`{"alg":"HS256","typ":"dpop+jwt"}`, `{"alg":"HS256","typ":"JWT","typ":"at+jwt"}`, `{"alg":"HS256","x":1}`} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		signed := base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + payloadSeg
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signed))
		token := signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		header, payload, signature, err := splitCompact(token)
		if err != nil {
			return
		}
		ph, ok := parseHeader(header)
		if !ok {
			return
		}
		ctx := context.Background()
		for _, mode := range []verifyMode{verifyValidate, verifyIssued, verifyLocal} {
			a, aerr := v.verifyJWS(ctx, token, mode)
			b, berr := v.verifyCompact(ctx, token, ph, payload, signature, mode)
			ar, _ := claims.ReasonOf(aerr)
			br, _ := claims.ReasonOf(berr)
			if !bytes.Equal(a, b) || (aerr == nil) != (berr == nil) || ar != br {
				t.Fatalf("mode %d header %q: jwx %v %v; compact %v %v", mode, h, len(a), aerr, len(b), berr)
			}
		}
	})
}
