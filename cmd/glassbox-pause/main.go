// Command glassbox-pause is a pod sandbox's process, what Kubernetes' pause
// container runs: it holds the pod's namespaces (network, IPC, UTS) while the
// pod's containers join them by path, reaps the processes re-parented to it
// (it is pid 1 of a pod that shares its pid namespace), and exits on SIGINT
// or SIGTERM. As an image of one static file it is a sandbox image that needs
// no registry (docs/kubernetes.md).
package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGCHLD)
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			os.Exit(0)
		}
		// One SIGCHLD may stand for several exits.
		for {
			var status unix.WaitStatus
			if pid, err := unix.Wait4(-1, &status, unix.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
