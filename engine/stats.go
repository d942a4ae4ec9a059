package engine

// Stats reads what the kernel keeps about a running container: its cgroup's
// control files hold its counters (cgroupsv2.Stats), /proc/<init>/net/dev its
// network namespace's interfaces, and /proc/stat the host's CPU time, against
// which a CPU share is measured.

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
)

// Sample is a container's counters at one moment.
type Sample struct {
	At time.Time
	cgroupsv2.Stats
	NetRx, NetTx uint64
	HostCPU      time.Duration // the host's CPU time since boot, all CPUs: /proc/stat
	CPUs         int
}

// Stats samples a running container. MemoryLimit is its cgroup's, or the
// host's RAM when that is lower or there is none.
func (e *Engine) Stats(c *container.Container) (*Sample, error) {
	if c.Status != container.Running || !c.Alive() {
		return nil, fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNotRunning)
	}
	s := &Sample{At: time.Now(), Stats: (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).Stats(), HostCPU: hostCPU(), CPUs: runtime.NumCPU()}
	var info unix.Sysinfo_t
	unix.Sysinfo(&info)
	if hostRAM := info.Totalram * uint64(info.Unit); s.MemoryLimit == 0 || s.MemoryLimit > hostRAM {
		s.MemoryLimit = hostRAM
	}
	s.NetRx, s.NetTx = netBytes(c.Pid)
	return s, nil
}

// CPUPercent is the container's CPU use between two samples, in percent of
// one CPU, as Docker counts it: two busy CPUs are 200 %.
func CPUPercent(prev, cur *Sample) float64 {
	if prev == nil || !cur.At.After(prev.At) {
		return 0
	}
	return float64(cur.CPU-prev.CPU) / float64(cur.At.Sub(prev.At)) * 100
}

// hostCPU sums the first line of /proc/stat: every CPU's time in every state.
func hostCPU() time.Duration {
	data, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(strings.TrimPrefix(line, "cpu"))
	var ticks int64
	for _, f := range fields[:min(8, len(fields))] { // user … steal; guest time is in user already
		n, _ := strconv.ParseInt(f, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick
}

// netBytes sums the received and sent bytes of every interface but lo in the
// network namespace of pid (/proc/<pid>/net/dev shows the reader's view of
// that process's namespace).
func netBytes(pid int) (rx, tx uint64) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	for _, line := range strings.Split(string(data), "\n") {
		name, counters, ok := strings.Cut(line, ":")
		f := strings.Fields(counters)
		if !ok || strings.TrimSpace(name) == "lo" || len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}
