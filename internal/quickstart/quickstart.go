// Package quickstart replays the curl lines a program prints for its users
// to try ("paste into a shell"), so that a test proves each line answers
// the status its comment promises.
//
// The printed form is: a comment line "# what it shows (200)" — or "(204,
// then 401)" for the lines that follow — then command lines, each either
// "curl …" or "NAME=$(curl …)", which sets $NAME for the lines after it to
// what the command prints: the JSON member a piped sed extracts
// (sed -E 's/.*"access_token":"([^"]+)".*/\1/'), or -w '%{redirect_url}'.
// curl's -s, -i, -X, -H, -d, -u, -o, -w, -c and -b (cookie jars) are
// understood; redirects are not followed. A "sleep N" line (at most 5
// seconds) waits.
//
// [Start] runs such a program in the test's process, the way its main
// would, until the test ends or [Program.Stop].
package quickstart

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RunFunc is a program's body: it serves until ctx ends, with settings from
// getenv, printing to out, and sends its listening address to ready.
type RunFunc func(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error

// Program is a program started by Start.
type Program struct {
	// URL is "http://" and the address it listens on.
	URL  string
	out  syncBuffer
	stop sync.Once
	end  func()
}

// Start runs run with env — ADDR defaults to a free loopback port — until
// the test ends, and fails the test if it does not start within 20 s or
// ends with an error.
func Start(tb testing.TB, run RunFunc, env map[string]string) *Program {
	tb.Helper()
	getenv := func(k string) string {
		if k == "ADDR" && env[k] == "" {
			return "127.0.0.1:0"
		}
		return env[k]
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Program{}
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, getenv, &p.out, ready) }()
	p.end = func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("run: %v", err)
		}
	}
	tb.Cleanup(p.Stop)
	select {
	case addr := <-ready:
		p.URL = "http://" + addr
		return p
	case err := <-done:
		done <- err
		tb.Fatalf("run ended: %v\n%s", err, p.Output())
	case <-time.After(20 * time.Second):
		tb.Fatal("the program did not start")
	}
	return nil
}

// Output returns what the program has printed so far.
func (p *Program) Output() string { return p.out.String() }

// Stop ends the program and waits for it; later calls do nothing.
func (p *Program) Stop() { p.stop.Do(p.end) }

// syncBuffer is a program's stdout: written by run, read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Replay runs every command line of out in order, fails tb for each answer
// whose status is not the one its comment promises (any 2xx when it names
// none), and returns how many lines it ran.
func Replay(tb testing.TB, out string) int {
	tb.Helper()
	var expected []int
	sh := &shell{vars: map[string]string{}, jars: map[string][]*http.Cookie{}}
	lines := 0
	for _, line := range strings.Split(out, "\n") {
		name, cmd, assigns := assignment(line)
		switch {
		case strings.HasPrefix(line, "# "):
			expected = statusesIn(line)
		case strings.HasPrefix(line, "sleep "):
			d, err := time.ParseDuration(strings.TrimPrefix(line, "sleep ") + "s")
			if err != nil || d > 5*time.Second {
				tb.Fatalf("%s: not a short sleep", line)
			}
			time.Sleep(d) // a printed flow that waits, as a user pasting the lines would
		case assigns || strings.HasPrefix(line, "curl "):
			lines++
			want := 0
			if len(expected) > 0 {
				want, expected = expected[0], expected[1:]
			}
			status, body, output := sh.run(tb, cmd)
			if (want == 0 && status/100 != 2) || (want != 0 && status != want) {
				tb.Errorf("%s\n  answered %d %s, want %d", line, status, body, want)
			}
			if assigns {
				if output == "" {
					tb.Fatalf("%s\n  set $%s to nothing: %d %s", line, name, status, body)
				}
				sh.vars[name] = output
			}
		}
	}
	return lines
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

// run sends the request of one printed command — curl, possibly piped to
// the sed that extracts a JSON member — with the shell's variables, and
// returns the status and body of its answer, and what the command prints:
// the member sed extracts, or what -w writes (only %{redirect_url} is
// known).
func (sh *shell) run(tb testing.TB, line string) (int, string, string) {
	tb.Helper()
	line, pipe, _ := strings.Cut(line, " | ")
	for name, v := range sh.vars {
		line = strings.ReplaceAll(line, "$"+name, v)
	}
	words := shellWords(line)
	method, target, header, data := "", "", http.Header{}, []string{}
	var user, password, writeOut, saveJar, sendJar string
	basic := false
	for i := 1; i < len(words); i++ {
		switch words[i] {
		case "-s", "-i", "-si":
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
		case "-u":
			i++
			user, password, _ = strings.Cut(words[i], ":")
			basic = true
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
		method = or(method, http.MethodPost)
	}
	req, err := http.NewRequest(or(method, http.MethodGet), target, body)
	if err != nil {
		tb.Fatalf("%s: %v", line, err)
	}
	req.Header = header
	if basic {
		req.SetBasicAuth(user, password)
	}
	for _, c := range sh.jars[sendJar] {
		req.AddCookie(c)
	}
	resp, err := curlClient.Do(req)
	if err != nil {
		tb.Fatalf("%s: %v", line, err)
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
		tb.Fatalf("%s: unknown -w %q", line, writeOut)
	case pipe != "":
		m := sedField.FindStringSubmatch(pipe)
		if m == nil {
			tb.Fatalf("%s: unknown pipe %q", line, pipe)
		}
		if v := regexp.MustCompile(`"` + m[1] + `":"([^"]+)"`).FindStringSubmatch(string(b)); v != nil {
			output = v[1]
		}
	}
	return resp.StatusCode, string(b), output
}

// curlClient does not follow redirects, as curl without -L.
var curlClient = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

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
			if end < 0 {
				end = len(s) - i - 1
			}
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
