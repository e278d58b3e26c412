package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process (the provider or a venue) whose output goes to a
// log file; its stdout lines can also be waited for, and the last lines of
// its output are kept for error messages.
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string   // stdout lines, for waitLine; dropped when nobody reads
	done  chan struct{} // closed when the process has exited
	err   error         // its exit, once done is closed

	mu     sync.Mutex // guards tail and stdout
	tail   []string   // the last lines of stdout and stderr
	stdout []string   // every stdout line (the provider's events)
}

const tailLines = 8

// startProc starts cmd with its output in logDir/name.log.
func startProc(name, logDir string, cmd *exec.Cmd) (*proc, error) {
	log, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Close()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		log.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	var wg sync.WaitGroup
	var logMu sync.Mutex // guards log, written by both readers
	read := func(r io.Reader, isStdout bool) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			fmt.Fprintln(log, line)
			logMu.Unlock()
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > tailLines {
				p.tail = p.tail[1:]
			}
			if isStdout {
				p.stdout = append(p.stdout, line)
			}
			p.mu.Unlock()
			if isStdout {
				select {
				case p.lines <- line:
				default:
				}
			}
		}
	}
	wg.Add(2)
	go read(stdout, true)
	go read(stderr, false)
	go func() {
		wg.Wait() // the pipes must be drained before Wait
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// waitLine waits for a stdout line starting with prefix and returns it.
func (p *proc) waitLine(ctx context.Context, prefix string, within time.Duration) (string, error) {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case line := <-p.lines:
			if strings.HasPrefix(line, prefix) {
				return line, nil
			}
		case <-p.done:
			return "", fmt.Errorf("%s exited (%v) before saying %q; its last output:\n%s", p.name, p.err, prefix, p.lastOutput())
		case <-timer.C:
			return "", fmt.Errorf("%s did not say %q within %s; its last output:\n%s", p.name, prefix, within, p.lastOutput())
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// exited waits for the process to end by itself and returns its exit.
func (p *proc) exited(within time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(within):
		return nil, false
	}
}

// stdoutMark is the number of stdout lines read so far.
func (p *proc) stdoutMark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.stdout)
}

// awaitStdout waits for a stdout line after the first since that contains
// substr: the provider logs its events as it answers, and the line may be
// read a moment after the answer.
func (p *proc) awaitStdout(since int, substr string, within time.Duration) (string, bool) {
	deadline := time.Now().Add(within)
	for {
		p.mu.Lock()
		for _, line := range p.stdout[since:] {
			if strings.Contains(line, substr) {
				p.mu.Unlock()
				return line, true
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			return "", false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) lastOutput() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "    " + strings.Join(p.tail, "\n    ")
}

// stop ends the process: SIGTERM, then SIGKILL after a few seconds.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// providerInfo is what the provider script prints when it is ready.
type providerInfo struct {
	Listen    string `json:"listen"`
	Issuer    string `json:"issuer"`
	Resources struct {
		JWT            string `json:"jwt"`
		Opaque         string `json:"opaque"`
		ExpiredFixture string `json:"expiredFixture"`
	} `json:"resources"`
	User struct {
		Username string `json:"username"`
		Password string `json:"password"`
		ID       string `json:"id"`
	} `json:"user"`
	Clients struct {
		JWT     client `json:"jwt"`
		Opaque  client `json:"opaque"`
		Machine client `json:"machine"`
	} `json:"clients"`
}

type client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// startProvider runs interop/oidc-provider/server.js under issuer (the
// tap's address), with the venues' callbacks registered.
func startProvider(ctx context.Context, repo, logDir, issuer string, callbacks map[string]string) (*proc, *providerInfo, error) {
	cmd := exec.Command("node", "server.js", "--issuer", issuer,
		"--callback-jwt", callbacks["jwt"], "--callback-opaque", callbacks["opaque"])
	cmd.Dir = filepath.Join(repo, "interop", "oidc-provider")
	p, err := startProc("provider", logDir, cmd)
	if err != nil {
		return nil, nil, err
	}
	line, err := p.waitLine(ctx, `{"ready":`, 30*time.Second)
	if err != nil {
		p.stop()
		return nil, nil, err
	}
	var ready struct {
		Ready providerInfo `json:"ready"`
	}
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		p.stop()
		return nil, nil, fmt.Errorf("the provider's ready line: %w", err)
	}
	return p, &ready.Ready, nil
}

// buildVenue builds examples/venue into dir.
func buildVenue(ctx context.Context, repo, dir string) (string, error) {
	bin := filepath.Join(dir, "venue")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/venue")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/venue: %w\n%s", err, out)
	}
	return bin, nil
}

// startVenue runs the venue binary with env added to ours and waits until
// it listens. It returns the process even when it fails to start, so that
// the caller can read its exit.
func startVenue(ctx context.Context, bin, logDir, name string, env map[string]string) (*proc, error) {
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p, err := startProc(name, logDir, cmd)
	if err != nil {
		return nil, err
	}
	_, err = p.waitLine(ctx, "venue API listening on ", 60*time.Second)
	return p, err
}

// freeAddr returns a loopback address with a port free at the time of the
// call, for a process that must be named before it starts (the venue,
// whose callback the provider registers).
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
