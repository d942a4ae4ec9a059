package main

// top and stats read what the kernel keeps about a container's processes:
// its cgroup's cgroup.procs says which processes are its own (whatever they
// are called, however they forked), /proc/<pid> describes each, the cgroup's
// control files hold its counters, and /proc/<init>/net/dev its network
// namespace's interfaces.

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
)

func newTopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "List the processes in a container's cgroup, with their pids on the host and inside",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := runningContainer(cmd, args[0])
			if err != nil {
				return err
			}
			pids, err := (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).Procs()
			if err != nil {
				return fmt.Errorf("read cgroup.procs of %s: %w", container.ShortID(c.ID), err)
			}
			slices.Sort(pids)
			boot := bootTime()
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PID\tPPID\tPID INSIDE\tUID\tSTART\tTIME\tCOMMAND")
			for _, pid := range pids {
				p, err := readProc(pid)
				if err != nil {
					continue // exited since cgroup.procs was read
				}
				fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", pid, p.ppid, p.nsPid, p.uid,
					boot.Add(p.start).Format("15:04:05"), cpuTime(p.cpu), p.command)
			}
			return w.Flush()
		},
	}
}

// runningContainer finds a container and insists that it runs.
func runningContainer(cmd *cobra.Command, ref string) (*container.Container, error) {
	c, err := container.Find(stateRoot(cmd), ref)
	if err != nil {
		return nil, err
	}
	if c.Status != container.Running || !c.Alive() {
		return nil, fmt.Errorf("container %s is not running", ref)
	}
	return c, nil
}

// proc is what /proc/<pid>/stat, status and cmdline say of a process.
type proc struct {
	ppid    int
	nsPid   string        // its pid in the innermost pid namespace (NSpid's last field)
	uid     string        // real uid
	start   time.Duration // since boot
	cpu     time.Duration // user + system
	command string
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture glassbox builds for.
const clockTick = 10 * time.Millisecond

func readProc(pid int) (proc, error) {
	var p proc
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
	p.ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	start, _ := strconv.ParseInt(f[19], 10, 64)
	p.cpu, p.start = time.Duration(utime+stime)*clockTick, time.Duration(start)*clockTick
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch fields := strings.Fields(v); {
		case len(fields) == 0:
		case k == "NSpid":
			p.nsPid = fields[len(fields)-1]
		case k == "Uid":
			p.uid = fields[0]
		}
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	p.command = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if p.command == "" {
		p.command = "[" + comm + "]"
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

// cpuTime writes CPU time as ps does: [[dd-]hh:]mm:ss.
func cpuTime(d time.Duration) string {
	s := int(d.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// containerStats is one line of glassbox stats.
type containerStats struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	CPUPercent  float64 `json:"cpuPercent"` // of one CPU, as in Docker: 2 busy CPUs are 200 %
	Memory      uint64  `json:"memory"`
	MemoryLimit uint64  `json:"memoryLimit"` // the cgroup's limit, else the host's RAM
	NetRx       uint64  `json:"netRx"`
	NetTx       uint64  `json:"netTx"`
	BlockRead   uint64  `json:"blockRead"`
	BlockWrite  uint64  `json:"blockWrite"`
	Pids        uint64  `json:"pids"`
}

func newStatsCmd() *cobra.Command {
	var noStream bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [--no-stream] [CONTAINER...]",
		Short: "Show running containers' CPU, memory, network, block I/O and pids, from their cgroups",
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "json" {
				return fmt.Errorf("--format %s: only json is known", format)
			}
			cs, err := statsTargets(cmd, args)
			if err != nil {
				return err
			}
			screen := !noStream && format == "" && term.IsTerminal(int(os.Stdout.Fd()))
			prev, prevAt := sampleStats(cs), time.Now()
			interval := time.Second
			if noStream {
				interval = 500 * time.Millisecond // just enough for a CPU figure
			}
			for {
				time.Sleep(interval)
				cur, now := sampleStats(cs), time.Now()
				lines := make([]containerStats, 0, len(cs))
				for i, c := range cs {
					if cur[i] == nil {
						continue // exited meanwhile
					}
					l := *cur[i]
					if prev[i] != nil {
						l.CPUPercent = float64(cur[i].cpu-prev[i].cpu) / float64(now.Sub(prevAt)) * 100
					}
					l.ID, l.Name = container.ShortID(c.ID), c.Name
					lines = append(lines, l.containerStats)
				}
				if format == "json" {
					enc := json.NewEncoder(os.Stdout)
					for _, l := range lines {
						enc.Encode(l)
					}
				} else {
					if screen {
						fmt.Print("\x1b[H\x1b[2J") // home, clear: redraw in place like top(1)
					}
					printStats(lines)
				}
				if noStream || len(lines) == 0 {
					return nil
				}
				prev, prevAt = cur, now
			}
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	cmd.Flags().StringVar(&format, "format", "", "json: one JSON object per container and sample")
	return cmd
}

// statsTargets are the named containers, which must run, or every running one.
func statsTargets(cmd *cobra.Command, args []string) ([]*container.Container, error) {
	var cs []*container.Container
	for _, ref := range args {
		c, err := runningContainer(cmd, ref)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if len(args) > 0 {
		return cs, nil
	}
	all, err := container.List(stateRoot(cmd))
	for _, c := range all {
		if c.Status == container.Running && c.Alive() {
			cs = append(cs, c)
		}
	}
	return cs, err
}

type sample struct {
	containerStats
	cpu time.Duration
}

// sampleStats reads each container's counters; nil for one that has exited.
func sampleStats(cs []*container.Container) []*sample {
	var info unix.Sysinfo_t
	unix.Sysinfo(&info)
	hostRAM := info.Totalram * uint64(info.Unit)
	out := make([]*sample, len(cs))
	for i, c := range cs {
		if !c.Alive() {
			continue
		}
		st := (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).Stats()
		s := &sample{cpu: st.CPU, containerStats: containerStats{
			Memory: st.Memory, MemoryLimit: st.MemoryLimit, Pids: st.Pids,
			BlockRead: st.ReadBytes, BlockWrite: st.WriteBytes,
		}}
		if s.MemoryLimit == 0 || s.MemoryLimit > hostRAM {
			s.MemoryLimit = hostRAM
		}
		s.NetRx, s.NetTx = netBytes(c.Pid)
		out[i] = s
	}
	return out
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

func printStats(lines []containerStats) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for _, l := range lines {
		fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%s / %s\t%s / %s\t%d\n", l.ID, l.Name, l.CPUPercent,
			humanBytes(l.Memory), humanBytes(l.MemoryLimit), float64(l.Memory)/float64(max(l.MemoryLimit, 1))*100,
			humanBytes(l.NetRx), humanBytes(l.NetTx), humanBytes(l.BlockRead), humanBytes(l.BlockWrite), l.Pids)
	}
	w.Flush()
}
