package quickstart

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestShellWords(t *testing.T) {
	got := shellWords(`curl -s -H "Authorization: Bearer x" -d 'a=b c' http://h/p`)
	want := []string{"curl", "-s", "-H", "Authorization: Bearer x", "-d", "a=b c", "http://h/p"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q", got)
	}
}

func TestStatusesIn(t *testing.T) {
	for comment, want := range map[string][]int{
		"# log out (204, then 401)": {204, 401},
		"# who am I (200)":          {200},
		"# no status":               nil,
		"# (2 items) read (403)":    {403},
	} {
		if got := statusesIn(comment); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v, want %v", comment, got, want)
		}
	}
}

// A printed session against a server: the token a line sets is sent by the
// lines after it, with the method, headers, form and Basic credentials each
// line names.
func TestReplay(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			fmt.Fprint(w, `{"access_token":"tok-1","token_type":"Bearer"}`)
		case "/who":
			if r.Header.Get("Authorization") != "Bearer tok-1" || r.Header.Get("X-Original-Method") != "POST" {
				w.WriteHeader(401)
			}
		case "/form":
			if id, secret, _ := r.BasicAuth(); r.Method != "PUT" || r.PostFormValue("token") != "tok-1" || id != "a" || secret != "b:c" {
				w.WriteHeader(400)
				return
			}
			w.WriteHeader(201)
		case "/start":
			http.SetCookie(w, &http.Cookie{Name: "binding", Value: "b-1"})
			http.Redirect(w, r, "/next?code=c-1", http.StatusFound)
		case "/next":
			if c, err := r.Cookie("binding"); err != nil || c.Value != "b-1" || r.URL.Query().Get("code") != "c-1" {
				w.WriteHeader(400)
			}
		}
	}))
	defer srv.Close()
	out := fmt.Sprintf(`intro text
# get a token (200)
TOKEN=$(curl -s -X POST %[1]s/token -d x=1 | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
# who (200, then 201)
curl -si %[1]s/who -H "Authorization: Bearer $TOKEN" -H "X-Original-Method: POST"
curl -s -X PUT %[1]s/form -u a:b:c -d token=$TOKEN
# a redirect and a cookie jar (302, then 200)
NEXT=$(curl -s -c jar -o /dev/null -w '%%{redirect_url}' %[1]s/start)
curl -s -b jar "$NEXT"
`, srv.URL)
	if n := Replay(t, out); n != 5 {
		t.Fatalf("%d lines replayed", n)
	}
}
