package main

// stats reads what the kernel keeps about a container: its cgroup's control
// files hold its counters, and /proc/<init>/net/dev its network namespace's
// interfaces. (top's reading of cgroup.procs and /proc is engine.Top.)

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
)

func newTopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "List the processes in a container's cgroup, with their pids on the host and inside",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			c, err := eng.Container(args[0])
			if err != nil {
				return err
			}
			procs, err := eng.Top(c)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PID\tPPID\tPID INSIDE\tUID\tSTART\tTIME\tCOMMAND")
			for _, p := range procs {
				fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", p.Pid, p.PPid, p.NsPid, p.UID, p.Start.Format("15:04:05"), engine.CPUTime(p.CPU), p.Command)
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
