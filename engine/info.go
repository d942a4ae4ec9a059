package engine

// What docker info tells, from the kernel and the state root: one answer for
// the CLI's glassbox info and the daemon's GET /info.

import (
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/trace"
)

// Info is the host and the state root, as docker info shows them.
type Info struct {
	Containers, Running, Paused, Stopped, Images int
	CgroupVersion                                string // "1" (v1 or hybrid) or "2"
	CgroupMode                                   string // cgroupsv2.Mode: v1, hybrid, v2
	StorageDriver                                string // overlay: each container's writable layer on its image's
	ObserverMode                                 string // how the kernel is watched: tracepoint, kprobe, fentry, or "not attached"
	Kernel, OperatingSystem, Architecture        string
	CPUs                                         int
	Memory                                       int64 // bytes
	Root                                         string
}

// Info counts the root's containers and images and describes the host.
func (e *Engine) Info() (Info, error) {
	cs, err := e.Containers(true)
	if err != nil {
		return Info{}, err
	}
	out := Info{Containers: len(cs), StorageDriver: "overlay", Kernel: KernelRelease(), OperatingSystem: operatingSystem(),
		Architecture: architecture(), CPUs: runtime.NumCPU(), Memory: memTotal(), Root: e.Root, CgroupVersion: "1"}
	for _, c := range cs {
		switch {
		case Paused(c) || c.Breakpoint != "":
			out.Paused++
		case c.Status == container.Running && c.Alive():
			out.Running++
		default:
			out.Stopped++
		}
	}
	if store, err := image.Open(e.Root); err == nil {
		if images, err := store.List(); err == nil {
			out.Images = len(images)
		}
	}
	mode, _ := cgroupsv2.Detect()
	out.CgroupMode = string(mode)
	if mode == cgroupsv2.Unified {
		out.CgroupVersion = "2"
	}
	out.ObserverMode = "not attached"
	if attached, modes := trace.ObserverStatus(); attached {
		out.ObserverMode = trace.ObserverMode(modes)
	}
	return out, nil
}

// KernelRelease is uname -r.
func KernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// operatingSystem is PRETTY_NAME from /etc/os-release.
func operatingSystem() string {
	data, _ := os.ReadFile("/etc/os-release")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func architecture() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return runtime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
