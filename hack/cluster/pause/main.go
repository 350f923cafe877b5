// Command pause is the pod sandbox of the local kubelet node (the registry serves it as
// registry.k8s.io/pause:3.10): it holds the pod's namespaces open, reaps the children a shared
// process namespace hands it, and exits 0 on SIGTERM or SIGINT. Build it with CGO_ENABLED=0.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
