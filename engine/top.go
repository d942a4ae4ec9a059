package engine

// Top reads what the kernel keeps about a container's processes: its
// cgroup's cgroup.procs says which processes are its own (whatever they are
// called, however they forked), and /proc/<pid> describes each.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
)

// Process is what /proc/<pid>/stat, status and cmdline say of a process.
type Process struct {
	Pid     int
	PPid    int
	NsPid   string        // its pid in the innermost pid namespace (NSpid's last field)
	UID     string        // real uid
	Start   time.Time     // when it started
	CPU     time.Duration // user + system
	Command string
}

// Top lists the processes of a running container, by host pid.
func (e *Engine) Top(c *container.Container) ([]Process, error) {
	if c.Status != container.Running || !c.Alive() {
		return nil, fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNotRunning)
	}
	pids, err := (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).Procs()
	if err != nil {
		return nil, fmt.Errorf("read cgroup.procs of %s: %w", container.ShortID(c.ID), err)
	}
	slices.Sort(pids)
	boot := bootTime()
	var out []Process
	for _, pid := range pids {
		if p, err := readProc(pid, boot); err == nil { // else it exited since cgroup.procs was read
			out = append(out, p)
		}
	}
	return out, nil
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture glassbox builds for.
const clockTick = 10 * time.Millisecond

func readProc(pid int, boot time.Time) (Process, error) {
	p := Process{Pid: pid}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, err
	}
	// "pid (comm) state ppid …": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	comm := string(stat[strings.IndexByte(string(stat), '(')+1 : i])
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3 (state)
	if len(f) < 20 {
		return p, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	p.PPid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	start, _ := strconv.ParseInt(f[19], 10, 64)
	p.CPU, p.Start = time.Duration(utime+stime)*clockTick, boot.Add(time.Duration(start)*clockTick)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch fields := strings.Fields(v); {
		case len(fields) == 0:
		case k == "NSpid":
			p.NsPid = fields[len(fields)-1]
		case k == "Uid":
			p.UID = fields[0]
		}
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	p.Command = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if p.Command == "" {
		p.Command = "[" + comm + "]"
	}
	return p, nil
}

// bootTime is when the host booted: /proc/stat's btime.
func bootTime() time.Time {
	data, _ := os.ReadFile("/proc/stat")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			secs, _ := strconv.ParseInt(v, 10, 64)
			return time.Unix(secs, 0)
		}
	}
	return time.Time{}
}

// CPUTime writes CPU time as ps does: hh:mm:ss.
func CPUTime(d time.Duration) string {
	s := int(d.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}
