package memcachedtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sysProcAttr makes the kernel kill memcached if the test binary dies before
// its cleanup runs, so that no memcached outlives a crashed test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// waitStopped waits until every thread of pid is stopped: SIGSTOP is
// delivered asynchronously, and a thread still running could answer one
// more request after Pause returned.
func waitStopped(pid int) error {
	deadline := time.Now().Add(startTimeout)
	for {
		stopped, err := allStopped(pid)
		if err != nil || stopped {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("memcached pid %d not stopped after %v", pid, startTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// allStopped reports whether every thread of pid is in state T (stopped).
func allStopped(pid int) (bool, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false, fmt.Errorf("memcached pid %d: no threads in /proc", pid)
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		// The state follows the command name, which is in parentheses.
		_, rest, ok := strings.Cut(string(b), ") ")
		if !ok || !strings.HasPrefix(rest, "T") {
			return false, nil
		}
	}
	return true, nil
}
