package pgtest

import "syscall"

// sysProcAttr runs the process as cred (when not nil) and makes the kernel
// kill it if the test binary dies before its cleanup runs. Go sets the
// parent-death signal after switching credentials, which would clear it.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
