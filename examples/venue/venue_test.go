package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/internal/memcachedtest"
)

// syncBuffer is the program's stdout in a test: written by run, read by the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// start runs the program with env until the test ends and returns its
// address and what it printed.
func start(t *testing.T, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	if env["ADDR"] == "" {
		env["ADDR"] = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, ready, done := &syncBuffer{}, make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, out, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr, out
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, out)
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not start")
	}
	return "", nil
}

func call(t *testing.T, method, u, token string, form url.Values) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &v)
	return resp.StatusCode, v
}

// TestCallers drives the venue routes with the three kinds of caller, each
// obtained from idptest the way a real client would: a user logging in
// through the service, a partner app by authorization code, a machine by
// client credentials.
func TestCallers(t *testing.T) {
	idp := idptest.Start(t, idptest.Demo())
	api, _ := start(t, map[string]string{
		"ISSUER_URL": idp.Issuer(), "AUDIENCE": idptest.DemoAPI,
		"CLIENT_ID": "venue-app", "CLIENT_SECRET": "venue-app-secret",
	})

	status, body := call(t, "POST", api+"/auth/login", "", url.Values{"username": {"alice"}, "password": {"alice-password"}, "organization": {"org_acme"}})
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	user := body["access_token"].(string)

	code, err := idp.AuthorizationCode(idptest.AuthorizeRequest{ClientID: "partner-app", Username: "bob", RedirectURI: "https://partner.example/cb",
		Audience: idptest.DemoAPI, Scopes: []string{"read:venues", "book:venues", "read:datasets"}, Organization: "org_globex"})
	if err != nil {
		t.Fatal(err)
	}
	status, body = call(t, "POST", idp.TokenURL(), "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"https://partner.example/cb"}, "client_id": {"partner-app"}, "client_secret": {"partner-app-secret"}})
	if status != 200 {
		t.Fatalf("partner code exchange: %d %v", status, body)
	}
	partner := body["access_token"].(string)

	// The partner acts for bob, who has not turned it on: refused; then he
	// turns it on for his organization with his own token.
	if status, body := call(t, "GET", api+"/v1/venues", partner, nil); status != 403 || !strings.Contains(fmt.Sprint(body["error_description"]), "not enabled") {
		t.Errorf("partner before bob enables it: %d %v, want 403 naming the integration", status, body)
	}
	status, body = call(t, "POST", api+"/auth/login", "", url.Values{"username": {"bob"}, "password": {"bob-password"}, "organization": {"org_globex"}})
	if status != 200 {
		t.Fatalf("bob's login: %d %v", status, body)
	}
	if status, body := call(t, "POST", api+"/v1/integrations/partner-app", body["access_token"].(string), nil); status != 201 || body["org_id"] != "org_globex" {
		t.Fatalf("bob enables partner-app: %d %v", status, body)
	}
	if status, _ := call(t, "POST", api+"/v1/integrations/partner-app", partner, nil); status != 403 {
		t.Errorf("the partner enabling itself: %d, want 403", status)
	}

	status, body = call(t, "POST", idp.TokenURL(), "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"venue-worker"},
		"client_secret": {"venue-worker-secret"}, "audience": {idptest.DemoAPI}})
	if status != 200 {
		t.Fatalf("client credentials: %d %v", status, body)
	}
	machine := body["access_token"].(string)

	for _, tc := range []struct {
		caller, token, method, path string
		want                        int
	}{
		{"user", user, "GET", "/v1/venues", 200},
		{"user", user, "POST", "/v1/venues/v1/bookings", 201},
		{"user", user, "GET", "/v1/orgs/org_acme/datasets", 200},
		{"user", user, "GET", "/v1/orgs/org_globex/datasets", 403},
		{"partner", partner, "GET", "/v1/venues", 200},
		{"partner", partner, "POST", "/v1/venues/v1/bookings", 403}, // bob's roles do not grant book:venues
		{"partner", partner, "GET", "/v1/orgs/org_globex/datasets", 200},
		{"partner", partner, "GET", "/v1/orgs/org_acme/datasets", 403},
		{"machine", machine, "GET", "/v1/venues", 200},
		{"machine", machine, "POST", "/v1/venues/v1/bookings", 403},
		{"machine", machine, "GET", "/v1/orgs/org_acme/datasets", 403},
		{"nobody", "", "GET", "/v1/venues", 401},
		{"forged", user + "x", "GET", "/v1/venues", 401},
		{"two tokens", user + " " + partner, "GET", "/v1/venues", 400},
		{"health check", "", "GET", "/healthz", 200},
	} {
		if status, body := call(t, tc.method, api+tc.path, tc.token, nil); status != tc.want {
			t.Errorf("%s %s %s: %d %v, want %d", tc.caller, tc.method, tc.path, status, body, tc.want)
		}
	}

	for caller, want := range map[string]map[string]any{
		user:    {"subject": "auth0|alice", "kind": "user", "org_id": "org_acme", "org_name": "acme", "authorized_party": "venue-app"},
		partner: {"subject": "auth0|bob", "kind": "delegated", "org_id": "org_globex", "authorized_party": "partner-app"},
		machine: {"subject": "venue-worker@clients", "kind": "machine", "org_id": "", "authorized_party": "venue-worker"},
	} {
		status, body := call(t, "GET", api+"/v1/whoami", caller, nil)
		if status != 200 {
			t.Fatalf("whoami: %d", status)
		}
		for k, v := range want {
			if body[k] != v {
				t.Errorf("whoami %s = %v, want %v", k, body[k], v)
			}
		}
		for _, k := range []string{"scopes", "permissions", "issuer", "expires_at"} {
			if _, ok := body[k]; !ok {
				t.Errorf("whoami lacks %q", k)
			}
		}
		if _, err := time.Parse(time.RFC3339, body["expires_at"].(string)); err != nil {
			t.Errorf("expires_at %v is not RFC 3339", body["expires_at"])
		}
	}
	if status, body := call(t, "GET", api+"/v1/orgs/org_acme/datasets", user, nil); status != 200 || fmt.Sprint(body["datasets"]) != "[bookings-2026 footfall ticket-sales]" {
		t.Errorf("datasets: %d %v", status, body)
	}
}

// TestQuickstartAsPrinted starts the program as the README's first command
// does, with a real memcached added, and replays the curl lines it prints,
// checking each against the status its comment promises.
func TestQuickstartAsPrinted(t *testing.T) {
	mc := memcachedtest.Start(t)
	_, out := start(t, map[string]string{
		"MEMCACHE_SERVERS": mc.Addr(),
		"AUTHGATE_SECRET":  "a secret of at least thirty-two bytes",
	})
	var expected []int
	sh := &shell{vars: map[string]string{}, jars: map[string][]*http.Cookie{}}
	lines := 0
	for _, line := range strings.Split(out.String(), "\n") {
		name, cmd, assigns := assignment(line)
		switch {
		case strings.HasPrefix(line, "# "):
			expected = statusesIn(line)
		case strings.HasPrefix(line, "sleep "):
			d, err := time.ParseDuration(strings.TrimPrefix(line, "sleep ") + "s")
			if err != nil || d > 5*time.Second {
				t.Fatalf("%s: not a short sleep", line)
			}
			time.Sleep(d) // the printed flow waits for the clock's next second, as a user pasting lines would
		case assigns || strings.HasPrefix(line, "curl "):
			lines++
			want := 0
			if len(expected) > 0 {
				want, expected = expected[0], expected[1:]
			}
			status, body, output := sh.replay(t, cmd)
			if (want == 0 && status/100 != 2) || (want != 0 && status != want) {
				t.Errorf("%s\n  answered %d %s, want %d", line, status, body, want)
			}
			if assigns {
				if output == "" {
					t.Fatalf("%s\n  set $%s to nothing: %d %s", line, name, status, body)
				}
				sh.vars[name] = output
			}
		}
	}
	if lines < 20 {
		t.Fatalf("only %d command lines printed:\n%s", lines, out)
	}
}

// assignment splits NAME=$(command) into NAME and the command.
func assignment(line string) (name, cmd string, ok bool) {
	m := assignLine.FindStringSubmatch(line)
	if m == nil {
		return "", line, false
	}
	return m[1], m[2], true
}

var assignLine = regexp.MustCompile(`^([A-Z_]+)=\$\((.*)\)$`)

// sedField reads the JSON member a printed sed expression extracts.
var sedField = regexp.MustCompile(`"([a-z_]+)":"\(\[\^"\]\+\)"`)

// statusesIn reads the expected statuses from a comment's last parentheses:
// "(200)" or "(204, then 401)".
func statusesIn(comment string) []int {
	open := strings.LastIndexByte(comment, '(')
	if open < 0 {
		return nil
	}
	var out []int
	for _, f := range strings.FieldsFunc(comment[open:], func(r rune) bool { return r < '0' || r > '9' }) {
		if n, err := strconv.Atoi(f); err == nil && n >= 100 && n < 600 {
			out = append(out, n)
		}
	}
	return out
}

// shell is what the printed lines share: variables and cookie jars.
type shell struct {
	vars map[string]string
	jars map[string][]*http.Cookie // by file name
}

// replay runs one printed command — curl, possibly piped to the sed that
// extracts a JSON member — with the shell's variables, and returns the
// status and body of its request, and what the command prints: the
// member sed extracts, or what -w writes (only %{redirect_url} is known).
func (sh *shell) replay(t *testing.T, line string) (int, string, string) {
	t.Helper()
	line, pipe, _ := strings.Cut(line, " | ")
	for name, v := range sh.vars {
		line = strings.ReplaceAll(line, "$"+name, v)
	}
	words := shellWords(line)
	method, target, header, data := "GET", "", http.Header{}, []string{}
	var writeOut, saveJar, sendJar string
	for i := 1; i < len(words); i++ {
		switch words[i] {
		case "-s":
		case "-X":
			i++
			method = words[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(words[i], ": ")
			header.Add(k, v)
		case "-d":
			i++
			data = append(data, words[i])
		case "-o":
			i++ // the body is not printed: only -w's output is
		case "-w":
			i++
			writeOut = words[i]
		case "-c":
			i++
			saveJar = words[i]
		case "-b":
			i++
			sendJar = words[i]
		default:
			target = words[i]
		}
	}
	var body io.Reader
	if len(data) > 0 {
		body = strings.NewReader(strings.Join(data, "&"))
		header.Set("Content-Type", "application/x-www-form-urlencoded")
		if method == "GET" {
			method = "POST"
		}
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	req.Header = header
	for _, c := range sh.jars[sendJar] {
		req.AddCookie(c)
	}
	resp, err := curlClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if saveJar != "" {
		sh.jars[saveJar] = resp.Cookies()
	}
	var output string
	switch {
	case writeOut == "%{redirect_url}":
		if loc, err := resp.Location(); err == nil {
			output = loc.String()
		}
	case writeOut != "":
		t.Fatalf("%s: unknown -w %q", line, writeOut)
	case pipe != "":
		m := sedField.FindStringSubmatch(pipe)
		if m == nil {
			t.Fatalf("%s: unknown pipe %q", line, pipe)
		}
		if v := regexp.MustCompile(`"` + m[1] + `":"([^"]+)"`).FindStringSubmatch(string(b)); v != nil {
			output = v[1]
		}
	}
	return resp.StatusCode, string(b), output
}

// curlClient does not follow redirects, as curl without -L.
var curlClient = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// shellWords splits a command line the way a POSIX shell would for the
// printed lines: words separated by spaces, "double" and 'single' quotes.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case '"', '\'':
			end := strings.IndexByte(s[i+1:], c)
			cur.WriteString(s[i+1 : i+1+end])
			i, inWord = i+1+end, true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestTwoAPIsShareMemcached: two venue-style services for different APIs
// (AUDIENCE) over one memcached, with the same secret and namespace, refuse
// each other's tokens — also once the other has cached them.
func TestTwoAPIsShareMemcached(t *testing.T) {
	const tickets = "https://api.tickets.example"
	cfg := idptest.Demo()
	cfg.APIs = append(cfg.APIs, idptest.API{Identifier: tickets, Scopes: []string{"read:venues"}})
	idp := idptest.Start(t, cfg)
	mc := memcachedtest.Start(t)
	service := func(audience string) string {
		api, _ := start(t, map[string]string{
			"ISSUER_URL": idp.Issuer(), "AUDIENCE": audience,
			"MEMCACHE_SERVERS": mc.Addr(), "AUTHGATE_SECRET": "a secret of at least thirty-two bytes",
		})
		return api
	}
	venues, ticketing := service(idptest.DemoAPI), service(tickets)
	token := func(audience string) string {
		status, body := call(t, "POST", idp.TokenURL(), "", url.Values{"grant_type": {"password"}, "username": {"alice"},
			"password": {"alice-password"}, "client_id": {"venue-app"}, "client_secret": {"venue-app-secret"},
			"audience": {audience}, "scope": {"read:venues"}})
		if status != 200 {
			t.Fatalf("password grant for %s: %d %v", audience, status, body)
		}
		return body["access_token"].(string)
	}
	for _, tc := range []struct{ name, owner, other, audience string }{
		{"a venues token", venues, ticketing, idptest.DemoAPI},
		{"a tickets token", ticketing, venues, tickets},
	} {
		tok := token(tc.audience)
		if status, body := call(t, "GET", tc.owner+"/v1/whoami", tok, nil); status != 200 {
			t.Fatalf("%s at its own API: %d %v", tc.name, status, body)
		}
		if status, _ := call(t, "GET", tc.other+"/v1/whoami", tok, nil); status != 401 {
			t.Errorf("%s at the other API, after its own cached it: %d, want 401", tc.name, status)
		}
	}
}
