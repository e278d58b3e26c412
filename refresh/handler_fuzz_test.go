package refresh

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzReadCredentials feeds arbitrary bodies and content types to the login
// handler's parser: it never panics, and what it accepts has both fields.
func FuzzReadCredentials(f *testing.F) {
	f.Add("application/json", `{"username":"alice","password":"alice-password"}`)
	f.Add("application/x-www-form-urlencoded", "username=alice&password=p%20w")
	f.Add("application/x-www-form-urlencoded; charset=utf-8", "username=&password=")
	f.Add("text/plain", "username=alice")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		c, err := readCredentials(httptest.NewRecorder(), r)
		if err == nil && (c.Username == "" || c.Password == "") {
			t.Fatalf("accepted %+v", c)
		}
	})
}
