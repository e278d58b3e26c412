//go:build !linux

package memcachedtest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped cannot tell, off Linux, when SIGSTOP has taken effect.
func waitStopped(int) error { return nil }
