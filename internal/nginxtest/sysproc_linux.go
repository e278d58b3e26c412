package nginxtest

import "syscall"

// sysProcAttr makes the kernel kill nginx if the test binary dies before its
// cleanup runs. nginx runs with master_process off, so this one process is
// all there is.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
