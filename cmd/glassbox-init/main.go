// Command glassbox-init is every container's first process, from clone(2) to
// the execve(2) of the user's program: it runs the container-side half of each
// stage when glassbox tells it to (see stages.InitMain).
//
// It is a program of its own, installed beside glassbox like docker-init or
// containerd's shim, because it starts on the critical path of every run and
// must start fast: it links only the stages, not the CLI, the OpenTelemetry
// exporters or the eBPF loader, and so starts in a third of the time. Without
// it, glassbox re-executes itself as `glassbox init`, which works the same.
package main

import (
	"runtime"

	"github.com/glassbox-dev/glassbox/stages"
)

// The init's per-thread kernel state must live on the thread that execs: lock
// it before anything else runs (see stages.InitMain).
func init() { runtime.LockOSThread() }

func main() { stages.InitMain() }
