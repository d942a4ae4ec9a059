//go:build !lean

package main

// top and stats print what engine.Top and engine.Stats read of the kernel.

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
)

func newTopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "List the processes in a container's cgroup, with their pids on the host and inside",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, c, err := containerOf(cmd, args[0])
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
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			cs, err := statsTargets(eng, args)
			if err != nil {
				return err
			}
			screen := !noStream && format == "" && term.IsTerminal(int(os.Stdout.Fd()))
			prev := sampleStats(eng, cs)
			interval := time.Second
			if noStream {
				interval = 500 * time.Millisecond // just enough for a CPU figure
			}
			for {
				time.Sleep(interval)
				cur := sampleStats(eng, cs)
				lines := make([]containerStats, 0, len(cs))
				for i, c := range cs {
					if cur[i] == nil {
						continue // exited meanwhile
					}
					s := cur[i]
					lines = append(lines, containerStats{ID: container.ShortID(c.ID), Name: c.Name, CPUPercent: engine.CPUPercent(prev[i], s),
						Memory: s.Memory, MemoryLimit: s.MemoryLimit, NetRx: s.NetRx, NetTx: s.NetTx,
						BlockRead: s.ReadBytes, BlockWrite: s.WriteBytes, Pids: s.Pids})
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
				prev = cur
			}
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	cmd.Flags().StringVar(&format, "format", "", "json: one JSON object per container and sample")
	return cmd
}

// statsTargets are the named containers, which must run, or every running one.
func statsTargets(eng *engine.Engine, args []string) ([]*container.Container, error) {
	var cs []*container.Container
	for _, ref := range args {
		c, err := eng.Container(ref)
		if err != nil {
			return nil, err
		}
		if c.Status != container.Running || !c.Alive() {
			return nil, fmt.Errorf("container %s is not running", ref)
		}
		cs = append(cs, c)
	}
	if len(args) > 0 {
		return cs, nil
	}
	all, err := eng.Containers(false)
	for _, c := range all {
		if c.Status == container.Running && c.Alive() {
			cs = append(cs, c)
		}
	}
	return cs, err
}

// sampleStats samples each container; nil for one that has exited.
func sampleStats(eng *engine.Engine, cs []*container.Container) []*engine.Sample {
	out := make([]*engine.Sample, len(cs))
	for i, c := range cs {
		out[i], _ = eng.Stats(c)
	}
	return out
}

func printStats(lines []containerStats) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for _, l := range lines {
		fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%s / %s\t%s / %s\t%d\n", l.ID, l.Name, l.CPUPercent,
			engine.HumanBytes(l.Memory), engine.HumanBytes(l.MemoryLimit), float64(l.Memory)/float64(max(l.MemoryLimit, 1))*100,
			engine.HumanBytes(l.NetRx), engine.HumanBytes(l.NetTx), engine.HumanBytes(l.BlockRead), engine.HumanBytes(l.BlockWrite), l.Pids)
	}
	w.Flush()
}
