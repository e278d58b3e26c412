package memcachedtest

import "syscall"

// sysProcAttr makes the kernel kill memcached if the test binary dies before
// its cleanup runs, so that no memcached outlives a crashed test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
