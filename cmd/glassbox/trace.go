package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/internal/atomicfile"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// processStart is when glassbox began, the start of the root span.
var processStart = time.Now()

func tracesDir(root string) string { return filepath.Join(root, "traces") }

// runTrace connects one run to its trace. A nil *runTrace (--trace=false) does nothing.
type runTrace struct {
	sess       *trace.Session
	obs        *trace.Observer // nil when the kernel cannot be observed
	run        *stages.Run
	show       bool
	execEnd    time.Time         // when the user's program started
	namespaces map[string]string // "pid" -> "4026532190", as the steps observed them
	cgroupID   uint64            // the container's cgroup2 id, once the cgroup stage made it
	cgroupDir  string
	finished   bool                // the trace is written
	path       string              // where
	failed     stages.Timing       // the stage that failed, if one did
	events     []trace.KernelEvent // what the kernel observer saw
	lost       error               // why the trace of a failed command was not written
}

// tracingOff: GLASSBOX_TRACE=off (or false, 0) turns every trace off, for
// callers that want none — an OCI caller cannot pass --trace=false.
func tracingOff() bool {
	switch os.Getenv("GLASSBOX_TRACE") {
	case "off", "false", "0":
		return true
	}
	return false
}

// startRunTrace starts a command's trace; nil when tracing is off.
func startRunTrace(s *specs.Spec, opts stages.Options, to traceOptions) (*runTrace, error) {
	if to.off || tracingOff() {
		return nil, nil
	}
	name := "glassbox run"
	if to.command != "" {
		name = "glassbox " + to.command
	}
	sess, err := trace.Start(trace.Config{
		Dir: tracesDir(opts.Root), Name: name, Endpoint: to.endpoint, Start: cmp.Or(to.start, processStart),
	},
		attribute.String("container.id", opts.ID),
		attribute.String("process.command_args", strings.Join(s.Process.Args, " ")),
		attribute.String("glassbox.rootfs", s.Root.Path),
	)
	if err != nil {
		return nil, err
	}
	// An instrumented program in the container continues this trace.
	if !spec.HasEnv(s.Process.Env, "TRACEPARENT") {
		s.Process.Env = append(s.Process.Env, "TRACEPARENT="+sess.Traceparent())
	}
	t := &runTrace{sess: sess, show: to.show, namespaces: map[string]string{}}
	if t.obs, err = trace.StartObserver(os.Getpid()); err != nil {
		fmt.Fprintf(os.Stderr, "glassbox: kernel observer unavailable, the trace has no kernel events: %v\n", err)
	}
	return t, nil
}

func (t *runTrace) stage(st stages.Timing) {
	if t == nil {
		return
	}
	if st.Err != nil && t.failed.Stage == "" {
		t.failed = st
	}
	if st.Stage == stages.Exec.Name && st.Err == nil {
		t.execEnd = st.End
	}
	// From now on the kernel reports what the container's processes do too.
	if st.Stage == stages.Cgroup.Name && st.Err == nil && t.run != nil {
		t.cgroupID, t.cgroupDir, _ = t.run.Cgroup.ID()
		if t.obs != nil && t.cgroupID != 0 {
			t.obs.WatchCgroup(t.cgroupID)
		}
	}
	// The clone and unshare steps saw the namespaces while the init was
	// certainly alive: "glassbox.ns.net" = "net:[4026532190]".
	for _, step := range st.Steps {
		for k, v := range step.Attrs {
			if ns, ok := strings.CutPrefix(k, "glassbox.ns."); ok {
				if _, inode, ok := strings.Cut(strings.TrimSuffix(v, "]"), ":["); ok {
					t.namespaces[ns] = inode
				}
			}
		}
	}
	t.sess.Stage(st)
}

// started publishes the keys that tie kernel-side observations to this
// container: the init's host pid, its namespace inodes, its cgroups.
func (t *runTrace) started(r *stages.Run) {
	if t == nil {
		return
	}
	attrs := []attribute.KeyValue{attribute.Int("process.pid", r.Pid)}
	for ns, inode := range t.namespaces {
		if n, err := strconv.ParseInt(inode, 10, 64); err == nil {
			attrs = append(attrs, attribute.Int64("glassbox.ns."+ns+".inode", n))
		}
	}
	if r.Name != "" {
		attrs = append(attrs, attribute.String("container.name", r.Name))
	}
	if r.IP != "" { // OTel's network.local.address: the container's own
		attrs = append(attrs, attribute.String("network.local.address", r.IP), attribute.String("glassbox.network.name", r.Spec.Annotations[spec.NetworkAnnotation]))
	}
	if r.Ports != "" {
		attrs = append(attrs, attribute.String("glassbox.network.ports", r.Ports))
	}
	if len(r.Cgroups) > 0 {
		attrs = append(attrs, attribute.StringSlice("glassbox.cgroup.paths", r.Cgroups))
		if t.cgroupID != 0 {
			attrs = append(attrs, attribute.Int64("glassbox.cgroup.id", int64(t.cgroupID)), attribute.String("glassbox.cgroup.path", t.cgroupDir))
		}
	}
	t.sess.SetAttributes(attrs...)
}

func (t *runTrace) exited(code int) {
	if t == nil {
		return
	}
	t.sess.Span("container", t.execEnd, time.Now(), nil, attribute.Int("process.exit.code", code))
}

// stopObserving ends the kernel observation and places its events.
func (t *runTrace) stopObserving() {
	if t == nil || t.obs == nil {
		return
	}
	events, lost := t.obs.Stop()
	t.events = events
	t.sess.Kernel(events, lost, t.obs.Probes)
	t.obs = nil
}

// end closes the trace, reports an export problem, and prints the waterfall for --trace.
// It returns runErr, saying so when the trace could not be written either:
// a failed command prints one line (a full disk fails both).
func (t *runTrace) end(r *stages.Run, runErr error, code int) error {
	if t == nil {
		return runErr
	}
	t.write(r, runErr, code)
	if t.show && t.path != "" {
		if f, err := trace.Load(t.path); err == nil {
			trace.Waterfall(os.Stderr, f, term.IsTerminal(int(os.Stderr.Fd())))
		}
	}
	if runErr != nil && t.lost != nil {
		return fmt.Errorf("%w (and no trace: %v)", runErr, t.lost)
	}
	return runErr
}

// write closes the trace and writes it to the store (once), with what the
// container used.
func (t *runTrace) write(r *stages.Run, runErr error, code int) {
	if t == nil || t.finished {
		return
	}
	t.stopObserving()
	var attrs []attribute.KeyValue
	if runErr == nil {
		attrs = append(attrs, attribute.Int("process.exit.code", code))
	}
	if r != nil && r.Usage != (cgroupsv2.Usage{}) {
		// What the container used, read from its cgroup just before removal.
		attrs = append(attrs,
			attribute.Int64("glassbox.usage.memory_peak_bytes", int64(r.Usage.MemoryPeak)),
			attribute.Int64("glassbox.usage.cpu_time_us", r.Usage.CPU.Microseconds()),
			attribute.Int64("glassbox.usage.pids_peak", int64(r.Usage.PidsPeak)),
			attribute.Int64("glassbox.usage.oom_kills", int64(r.Usage.OOMKills)))
	}
	t.path = t.finish(runErr, attrs...)
}

// failureReport explains a failed run in one screen, below its one-line
// error: the stage, the kernel call and its errno, the last system calls of
// that stage as the kernel saw them, the hint, and where the trace is.
func (t *runTrace) failureReport(err error) string {
	var se *stages.Error
	if t == nil || !errors.As(err, &se) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  stage:   %s", se.Stage)
	if st := stages.ByName(se.Stage); st != nil {
		fmt.Fprintf(&b, " — %s", st.Purpose)
	}
	b.WriteString("\n")
	if se.Call != "" {
		fmt.Fprintf(&b, "  call:    %s", se.Call)
		if se.Errno != "" {
			fmt.Fprintf(&b, " → %s (%s)", se.Errno, se.Msg)
		}
		b.WriteString("\n")
	}
	var seen []trace.KernelEvent
	for _, ev := range t.events {
		if t.failed.Stage != "" && !ev.Start.Before(t.failed.Start) && !ev.Start.After(t.failed.End) && ev.Call != "" {
			seen = append(seen, ev)
		}
	}
	if len(seen) > 0 {
		b.WriteString("  kernel:  the stage's last system calls, as the kernel saw them:\n")
		short := strings.NewReplacer() // the state directory, once, as $STATE
		if t.run != nil {
			short = strings.NewReplacer(t.run.Dir, "$STATE")
		}
		for _, ev := range seen[max(0, len(seen)-8):] {
			mark := " "
			if ev.Err != "" {
				mark = "✗"
			}
			fmt.Fprintf(&b, "         %s %s\n", mark, short.Replace(ev.Call))
		}
		if t.run != nil {
			fmt.Fprintf(&b, "           ($STATE is %s)\n", t.run.Dir)
		}
	}
	if se.Hint != "" {
		fmt.Fprintf(&b, "  hint:    %s\n", se.Hint)
	}
	fmt.Fprintf(&b, "  more:    glassbox trace show %s · glassbox explain %s\n", t.sess.TraceID()[:16], se.Stage)
	return b.String()
}

// finish ends the root span and writes the trace, warning if that fails;
// only once.
func (t *runTrace) finish(err error, attrs ...attribute.KeyValue) string {
	if t.finished {
		return ""
	}
	t.finished = true
	path, werr := t.sess.End(err, attrs...)
	switch {
	case werr != nil && err != nil:
		t.lost = werr // end adds it to the command's error
	case werr != nil:
		fmt.Fprintln(os.Stderr, "glassbox: trace:", werr)
	}
	return path
}

// traceContainer traces a command on an existing container (exec, stop, kill,
// rm, a detached container's exit) as a root span of its own, with the kernel
// events of this process and of the container's cgroup. A trace that cannot
// start is a warning, and nil.
func traceContainer(to traceOptions, c *container.Container, s *specs.Spec, root string) *runTrace {
	tr, err := startRunTrace(s, stages.Options{Root: root, ID: c.ID}, to)
	if err != nil {
		fmt.Fprintln(os.Stderr, "glassbox: warning: no trace:", err)
		return nil
	}
	if tr == nil {
		return nil // tracing is off
	}
	if c.Name != "" {
		tr.sess.SetAttributes(attribute.String("container.name", c.Name))
	}
	if id, _, err := (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).ID(); tr.obs != nil && err == nil && id != 0 {
		tr.obs.WatchCgroup(id)
	}
	return tr
}

// traceLifecycle traces a command that starts no process (stop, kill, rm).
// The Spec is a copy: startRunTrace gives its process a TRACEPARENT.
func traceLifecycle(cmd *cobra.Command, c *container.Container) *runTrace {
	s := *c.Spec
	p := *s.Process
	s.Process = &p
	return traceContainer(traceOptions{command: cmd.Name()}, c, &s, stateRoot(cmd))
}

// step records one step of a lifecycle command, from start to now.
func (t *runTrace) step(name string, start time.Time, err error, attrs ...attribute.KeyValue) {
	if t != nil {
		t.sess.Span(name, start, time.Now(), err, attrs...)
	}
}

// endLifecycle closes a lifecycle command's trace.
func (t *runTrace) endLifecycle(err error, attrs ...attribute.KeyValue) {
	if t != nil {
		t.stopObserving()
		t.finish(err, attrs...)
		if t.lost != nil {
			fmt.Fprintln(os.Stderr, "glassbox: trace:", t.lost)
		}
	}
}

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
			all, err := trace.List(tracesDir(stateRoot(cmd)))
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
	cmd.AddCommand(&cobra.Command{
		Use:   "show TRACE-OR-CONTAINER-ID",
		Short: "Draw a trace as a waterfall of stages and steps",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, err := loadTrace(cmd, args[0])
			if err != nil {
				return err
			}
			trace.Waterfall(os.Stdout, f, term.IsTerminal(int(os.Stdout.Fd())))
			return nil
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
	path, err := trace.Find(tracesDir(stateRoot(cmd)), id)
	if err != nil {
		return nil, "", err
	}
	f, err := trace.Load(path)
	return f, path, err
}

// writeOutput writes to the named file (atomically), or to stdout for "".
func writeOutput(path string, write func(io.Writer) error) error {
	if path == "" {
		return write(os.Stdout)
	}
	return atomicfile.Write(path, 0o644, write)
}
