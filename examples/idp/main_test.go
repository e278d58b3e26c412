package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer written by run's goroutine and read by the
// test.
type syncBuffer struct {
	mu sync.Mutex // guards b
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

// TestRun starts the program on a free port, follows its printed
// instructions (the curl line, when curl is installed; else the same
// request from Go), and stops it.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string {
			if k == "ADDR" {
				return "127.0.0.1:0"
			}
			return ""
		}, &out)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "Serving until interrupted") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner; output so far:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	banner := out.String()
	for _, want := range []string{"http://127.0.0.1:", "alice  / alice-password", "venue-worker / venue-worker-secret",
		"https://api.venue.example: read:venues", "machine: client_credentials"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q:\n%s", want, banner)
		}
	}
	tokenURL := regexp.MustCompile(`curl -s (\S+)`).FindStringSubmatch(banner)[1]
	var body string
	if _, err := exec.LookPath("curl"); err == nil {
		line := regexp.MustCompile(`(?m)^curl .*$`).FindString(banner)
		b, err := exec.Command("sh", "-c", line).Output()
		if err != nil {
			t.Fatalf("the printed curl line: %v", err)
		}
		body = string(b)
	} else {
		resp, err := http.PostForm(tokenURL, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"},
			"client_id": {"venue-app"}, "client_secret": {"venue-app-secret"}, "audience": {"https://api.venue.example"}, "organization": {"org_acme"}})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		body = b.String()
	}
	if !strings.Contains(body, `"access_token"`) {
		t.Errorf("the password grant answered %s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
