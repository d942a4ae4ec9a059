//go:build !lean

package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/trace"
)

func newTraceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "List and show the traces of past runs (kept as OTLP JSON in <root>/traces)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List traces, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := trace.List(trace.Dir(stateRoot(cmd)))
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "TRACE ID\tCOMMAND\tCONTAINER\tSTARTED\tDURATION\tRESULT")
			for _, s := range all {
				result := "exit " + s.Exit
				switch {
				case s.Error != "":
					result = s.Error
				case s.Exit == "":
					result = "ok" // stop, kill, rm: no program of theirs exited
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.TraceID[:16], s.Name, container.ShortID(s.Container),
					s.Start.Format("2006-01-02 15:04:05"), strconv.FormatFloat(float64(s.Duration)/1e6, 'f', 2, 64)+" ms", result)
			}
			return w.Flush()
		},
	})
	var format, output string
	export := &cobra.Command{
		Use:   "export TRACE-OR-CONTAINER-ID",
		Short: "Write a trace as OTLP JSON (for collectors) or Chrome trace events (for Perfetto)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, path, err := loadTrace(cmd, args[0])
			if err != nil {
				return err
			}
			return writeOutput(output, func(w io.Writer) error {
				switch format {
				case "otlp-json":
					data, err := os.ReadFile(path)
					if err == nil {
						_, err = w.Write(data)
					}
					return err
				case "chrome":
					return trace.Chrome(w, f)
				}
				return fmt.Errorf("--format %s: expected otlp-json or chrome", format)
			})
		},
	}
	export.Flags().StringVar(&format, "format", "otlp-json", "otlp-json or chrome (open it in ui.perfetto.dev)")
	export.Flags().StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	cmd.AddCommand(export)
	var htmlOut string
	html := &cobra.Command{
		Use:   "html TRACE-OR-CONTAINER-ID",
		Short: "Write a trace as one self-contained HTML timeline (for slides; needs no network)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, err := loadTrace(cmd, args[0])
			if err != nil {
				return err
			}
			return writeOutput(htmlOut, func(w io.Writer) error { return trace.HTML(w, f) })
		},
	}
	html.Flags().StringVarP(&htmlOut, "output", "o", "", "file to write (default: standard output)")
	cmd.AddCommand(html)
	var forceOff bool
	off := &cobra.Command{
		Use:   "off [--force]",
		Short: "Detach the kernel probes, the machine's (the next traced run attaches them again)",
		Long: `The kernel probes (eBPF programs on tracepoints) stay attached between runs,
pinned in /sys/fs/bpf/glassbox, because detaching them costs the kernel a
quarter of a second. While no run watches, each system call on the machine
costs them two map lookups. trace off detaches them now.

The probes are the machine's, not a state root's: every glassbox on it, of any
user and --root, shares them. While traced runs watch them, trace off refuses
(their traces would lose their kernel events from then on) unless --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !forceOff { // --force: whatever the maps say, or fail to
				if n, err := trace.WatchingRuns(); err != nil {
					return fmt.Errorf("trace off: %w (--force detaches without asking)", err)
				} else if n > 0 {
					return fmt.Errorf("trace off: %d traced run(s) on this machine, of any state root, watch the kernel probes now; detaching them ends those traces' kernel events (wait for the runs to end, or --force)", n)
				}
			}
			removed, err := trace.RemoveObservers(false)
			for _, d := range removed {
				fmt.Println("detached the machine's kernel probes (shared by every state root):", d)
			}
			if len(removed) == 0 && err == nil {
				fmt.Println("no kernel probes were attached")
			}
			return err
		},
	}
	off.Flags().BoolVar(&forceOff, "force", false, "detach even while traced runs watch")
	cmd.AddCommand(off)
	var full bool
	var stage string
	show := &cobra.Command{
		Use:   "show [--full | --stage NAME] TRACE-OR-CONTAINER-ID",
		Short: "Draw a trace: one screen of stages (--full: every step and kernel call; --stage: one stage's)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, err := loadTrace(cmd, args[0])
			if err != nil {
				return err
			}
			v := trace.TerminalView(os.Stdout)
			v.Full, v.Stage = full, stage
			return trace.Show(os.Stdout, f, v)
		},
	}
	show.Flags().BoolVar(&full, "full", false, "every step and kernel call, a line each")
	show.Flags().StringVar(&stage, "stage", "", "one stage (rootfs, cgroup, unshare, network, mount, exec, teardown), in full")
	cmd.AddCommand(show)
	cmd.AddCommand(&cobra.Command{
		Use:   "diff A B",
		Short: "Compare two runs: each stage's time, what failed, the kernel calls and steps one made and the other did not",
		Long: `Compare two traces (ids, id prefixes, or container names and ids, as trace show
takes them): each stage's time in both, the stage that failed and why, then the
kernel calls and steps that only one run made — a failed call first. Container
ids, pids and the paths of each run's own files are taken out before comparing.`,
		Example: `  glassbox run --name ok --tmpfs /x:size=1m busybox true
  glassbox run --name broken --tmpfs /x:size=abc busybox true
  glassbox trace diff ok broken`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, _, err := loadTrace(cmd, args[0])
			if err != nil {
				return err
			}
			b, _, err := loadTrace(cmd, args[1])
			if err != nil {
				return err
			}
			return trace.Diff(os.Stdout, a, b, trace.TerminalView(os.Stdout))
		},
	})
	return cmd
}

// loadTrace loads a trace named by its id, or the newest of a container named
// by id or name (also of a container since removed).
func loadTrace(cmd *cobra.Command, id string) (*trace.File, string, error) {
	if c, err := container.Find(stateRoot(cmd), id); err == nil {
		id = c.ID
	}
	path, err := trace.Find(trace.Dir(stateRoot(cmd)), id)
	if err != nil {
		return nil, "", err
	}
	f, err := trace.Load(path)
	return f, path, err
}
