// Package osspecific supplies the Linux signal helpers that the argo-workflows v4.0.7 module zip
// lacks (it ships only the darwin and windows variants, so cmd/argoexec does not build on Linux).
// hack/cluster/build.sh lays this file over the module with `go build -overlay`; it is never part
// of the product.
package osspecific

import (
	"os"
	"syscall"

	"github.com/argoproj/argo-workflows/v4/util/errors"
)

// Term is the signal argoexec forwards to ask the main process to stop.
var Term = syscall.SIGTERM

// CanIgnoreSignal reports whether argoexec may swallow s instead of forwarding it to its child.
func CanIgnoreSignal(s os.Signal) bool {
	return s == syscall.SIGCHLD || s == syscall.SIGURG
}

// Kill sends s to the process group of pid, or to pid alone when it has no group.
func Kill(pid int, s syscall.Signal) error {
	if pgid, err := syscall.Getpgid(pid); err == nil {
		return syscall.Kill(-pgid, s)
	}
	return syscall.Kill(pid, s)
}

// Setpgid makes the child the leader of a new process group, so Kill reaches its descendants.
func Setpgid(a *syscall.SysProcAttr) {
	a.Setpgid = true
}

// Wait reaps process and turns a non-zero exit or a fatal signal into an exit error.
func Wait(process *os.Process) error {
	var status syscall.WaitStatus
	for {
		_, err := syscall.Wait4(process.Pid, &status, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	switch {
	case status.Signaled():
		return errors.NewExitErr(128 + int(status.Signal()))
	case status.Exited() && status.ExitStatus() != 0:
		return errors.NewExitErr(status.ExitStatus())
	}
	return nil
}
