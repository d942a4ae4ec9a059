package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// A container's glassbox (the foreground run, or the monitor of a detached
// one) holds its lock until the teardown is done: a free lock on a record
// that never reached "exited" is a leftover for gc. These commands read
// records without taking the lock, and signal the init directly, as
// `docker kill` makes runc do.

func newPsCmd() *cobra.Command {
	var all, quiet bool
	var format string
	var filterArgs []string
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List containers (running and paused ones; -a: all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			f := engine.Filters{}
			for _, kv := range filterArgs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || !slices.Contains([]string{"id", "name", "status", "label", "health"}, k) {
					return fmt.Errorf("--filter %q: KEY=VALUE, KEY one of id, name, status, label, health", kv)
				}
				f[k] = append(f[k], v)
			}
			shown, err := eng.Containers(all || f.Has("status"))
			if err != nil {
				return err
			}
			shown = slices.DeleteFunc(shown, func(c *container.Container) bool {
				return !f.Match(map[string][]string{"id": {c.ID}, "name": {c.Name}, "status": {c.Status}, "label": engine.LabelPairs(c.Labels), "health": {engine.HealthStatus(c)}})
			})
			slices.Reverse(shown) // newest first, as docker ps
			switch {
			case quiet:
				for _, c := range shown {
					fmt.Println(container.ShortID(c.ID))
				}
				return nil
			case format == "json":
				return printJSON(records(shown))
			case format != "":
				f, err := newFormatter("--format", format)
				if err != nil {
					return err
				}
				for _, c := range shown {
					if err := f.print(psRowOf(c)); err != nil {
						return err
					}
				}
				return f.flush()
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
			for _, c := range shown {
				r := psRowOf(c)
				fmt.Fprintf(w, "%s\t%s\t%q\t%s\t%s\t%s\t%s\n", r.ID, r.Image, ellipsis(r.Command, 30), r.RunningFor, r.Status, r.Ports, r.Names)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also exited containers")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "ids only")
	cmd.Flags().StringArrayVarP(&filterArgs, "filter", "f", nil, "KEY=VALUE: id (a prefix), name (a part), status (running, exited, created), label (KEY or KEY=VALUE)")
	cmd.Flags().StringVar(&format, "format", "", "a Go template per container ({{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.Status}}\n{{.State}} {{.Ports}} {{.RunningFor}} {{.Labels}}; \"table …\": with a header), or json")
	return cmd
}

// psRow is a container as ps --format sees it (docker's names).
type psRow struct {
	ID, Image, Command, RunningFor, Status, State, Ports, Names string
	Labels                                                      map[string]string
}

func psRowOf(c *container.Container) psRow {
	return psRow{ID: container.ShortID(c.ID), Image: engine.Image(c), Command: engine.Command(c), RunningFor: engine.Ago(c.Created),
		Status: engine.Status(c), State: c.Status, Ports: c.Ports, Names: c.Name, Labels: c.Labels}
}

// inspected is what inspect and ps --format json show of a container: its
// record, and its health checks' results (kept beside it).
type inspected struct {
	container.Record
	Health *container.Health `json:"health,omitempty"`
}

func records(cs []*container.Container) []inspected {
	out := []inspected{}
	for _, c := range cs {
		out = append(out, inspected{c.Record, c.Health()})
	}
	return out
}

// ellipsis shortens s to n characters, the last an ellipsis.
func ellipsis(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func newLogsCmd() *cobra.Command {
	var follow, timestamps bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [-f] [--tail N] [-t] CONTAINER",
		Short: "Print a detached container's output (stdout and stderr kept apart)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, c, err := containerOf(cmd, args[0])
			if err != nil {
				return err
			}
			return eng.Logs(cmd.Context(), c, engine.LogOptions{Follow: follow, Tail: tail}, func(l container.LogLine) error {
				out := os.Stdout
				if l.Stream == "stderr" {
					out = os.Stderr
				}
				if timestamps {
					fmt.Fprint(out, l.Time.Format(time.RFC3339Nano)+" ")
				}
				_, err := fmt.Fprint(out, l.Log)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing until the container exits")
	cmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "prefix each line with its time")
	cmd.Flags().IntVar(&tail, "tail", -1, "only the last N lines")
	return cmd
}

func newStopCmd() *cobra.Command {
	return stopCmd("stop", "Stop containers: SIGTERM, then SIGKILL after the timeout", `stop sends SIGTERM to each container's init, SIGKILL after -t seconds,
and returns once the container's glassbox has torn it down: at most
GLASSBOX_TEARDOWN_TIMEOUT (a duration; default 2m) after the init died.`, (*engine.Engine).Stop)
}

func newRestartCmd() *cobra.Command {
	return stopCmd("restart", "Stop containers, then start them again through every stage (detached)", `restart stops each container as stop does, then starts it again under a
monitor, over its writable layer, as start does; its log goes on.`, (*engine.Engine).Restart)
}

// stopCmd is stop or restart: -t seconds of grace after SIGTERM.
func stopCmd(use, short, long string, do func(*engine.Engine, context.Context, *container.Container, time.Duration) error) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   use + " [-t SECONDS] CONTAINER...",
		Short: short,
		Long:  long,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			grace, err := engine.StopGrace(timeout)
			if err != nil {
				return fmt.Errorf("-t %w", err)
			}
			if !cmd.Flags().Changed("time") {
				grace = engine.ContainerGrace // its --stop-timeout, else 10 s
			}
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			return eachContainer(cmd, args, func(c *container.Container) error {
				return do(eng, cmd.Context(), c, grace)
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait after the stop signal before SIGKILL (-1: no SIGKILL; default: the container's --stop-timeout, else 10)")
	return cmd
}

func newStartCmd() *cobra.Command {
	var attach, interactive bool
	var traceMode, otlpEndpoint string
	cmd := &cobra.Command{
		Use:   "start [-a [-i]] CONTAINER...",
		Short: "Start exited containers again through every stage, with their writable layer (-a: in the foreground)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			attach = attach || interactive // as in Docker, -i attaches too
			if attach && len(args) > 1 {
				return fmt.Errorf("-a attaches to one container; start the others without it")
			}
			if traceMode != "" && traceMode != "false" {
				return fmt.Errorf("--trace=%s: only --trace=false is known here (glassbox trace show reads the trace)", traceMode)
			}
			to := trace.Options{Command: "start", Off: traceMode == "false", Endpoint: otlpEndpoint}
			restart := func(c *container.Container, stdin *os.File) (*specs.Spec, stages.Options, error) {
				s := c.Spec
				// This start is a trace of its own: the last run's context goes.
				s.Process.Env = slices.DeleteFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "TRACEPARENT=") })
				opts := stages.Options{Root: stateRoot(cmd), ID: c.ID, Name: c.Name, Restart: true,
					IO: stages.IO{Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interactive: interactive}}
				return s, opts, engine.JoinNetworkOf(s, opts.Root)
			}
			if attach {
				c, err := container.Find(stateRoot(cmd), args[0])
				if err != nil {
					return err
				}
				stdin := os.Stdin
				if !interactive {
					if stdin, err = os.Open(os.DevNull); err != nil {
						return err
					}
				}
				s, opts, err := restart(c, stdin)
				if err != nil {
					return err
				}
				return runContainer(s, opts, to, runHooks{})
			}
			return eachContainer(cmd, args, func(c *container.Container) error {
				if c.Spec.Process.Terminal {
					return fmt.Errorf("container %s has a terminal (-t): start it attached, glassbox start -ai %s", container.ShortID(c.ID), container.ShortID(c.ID))
				}
				s, opts, err := restart(c, nil)
				if err != nil {
					return err
				}
				return startMonitor(s, opts, to, nil)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&attach, "attach", "a", false, "stay in the foreground with the container's output, and return its exit code")
	f.BoolVarP(&interactive, "interactive", "i", false, "attach stdin too (implies -a)")
	f.StringVar(&traceMode, "trace", "", "--trace=false: no trace")
	f.StringVar(&otlpEndpoint, "otlp-endpoint", "", "also send the trace to this OTLP collector URL")
	return cmd
}

func newKillCmd() *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [-s SIGNAL] CONTAINER...",
		Short: "Send a signal to containers' first process (default SIGKILL)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := spec.ParseSignal(sig)
			if err != nil {
				return fmt.Errorf("-s %w", err)
			}
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			return eachContainer(cmd, args, func(c *container.Container) error { return eng.Kill(cmd.Context(), c, s) })
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal name or number")
	return cmd
}

func newWaitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER",
		Short: "Wait for a container to exit and print its exit code",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, c, err := containerOf(cmd, args[0])
			if err != nil {
				return err
			}
			code, err := eng.Wait(cmd.Context(), c)
			if err != nil {
				return err
			}
			fmt.Println(code)
			return nil
		},
	}
}

func newInspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [-f TEMPLATE] CONTAINER...",
		Short: "Print container records as JSON, or through a Go template (-f '{{.Status}} {{.Pid}}')",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var f *formatter
			if format != "" {
				var err error
				if f, err = newFormatter("--format", format); err != nil {
					return err
				}
			}
			var cs []*container.Container
			err := eachContainer(cmd, args, func(c *container.Container) error {
				cs = append(cs, c)
				return nil
			})
			if len(cs) > 0 && f == nil {
				printJSON(records(cs))
			}
			if f != nil {
				for _, r := range records(cs) {
					err = errors.Join(err, f.print(r))
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "a Go template of the record ({{.ID}} {{.Name}} {{.Status}} {{.Pid}} {{.IP}} {{.ExitCode}} {{.Spec.Hostname}} {{.Health.Status}} …)")
	return cmd
}

// eachContainer runs f on each named container, printing the name as Docker
// does, and joins the errors.
func eachContainer(cmd *cobra.Command, args []string, f func(*container.Container) error) error {
	var errs []error
	for _, a := range args {
		c, err := container.Find(stateRoot(cmd), a)
		if err == nil {
			err = f(c)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cmd.Name() != "inspect" {
			fmt.Println(a)
		}
	}
	return errors.Join(errs...)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// joinAndWait starts s's process in container c (stages.Join), with a
// pseudo-terminal if s asks for one and the caller's stdin if interactive,
// forwards signals, and returns its exit code as glassbox's; traced as
// "glassbox exec".
func joinAndWait(c *container.Container, s *specs.Spec, root string, interactive, traced bool) error {
	catching := catchForwarded()
	stdin := os.Stdin
	if !interactive {
		var err error
		if stdin, err = os.Open(os.DevNull); err != nil {
			return err
		}
	}
	opts := stages.Options{Root: root, ID: c.ID, IO: stages.IO{Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interactive: interactive}}
	con, err := consoleFor(s.Process, &opts)
	if err != nil {
		return err
	}
	var tr *trace.Run
	if traced {
		if tr = trace.Container(trace.Options{Command: "exec"}, c, s, root); tr != nil {
			opts.After = tr.Stage
		}
	}
	sigs := catching.Caught()
	r, err := stages.Join(c, s, opts)
	if err != nil {
		if con != nil {
			con.Discard()
		}
		return tr.End(nil, err, 0)
	}
	go forwardSignals(sigs, r, con)
	if con != nil {
		if err := con.Attach(nil); err != nil {
			fmt.Fprintln(os.Stderr, "glassbox:", err)
		}
	}
	code := r.Wait()
	if con != nil {
		con.Close()
	}
	tr.Exited(code)
	tr.End(nil, nil, code)
	return exitCode(code)
}

// commandAfter is the command after CONTAINER in `exec`/`debug CONTAINER
// [--] CMD...`: with flag parsing stopped at CONTAINER, cobra keeps a "--".
func commandAfter(args []string) []string {
	if len(args) > 1 && args[1] == "--" {
		return args[2:]
	}
	return args[1:]
}

func newExecCmd() *cobra.Command {
	var env []string
	var workdir, user, traceMode string
	var interactive, tty, detach bool
	cmd := &cobra.Command{
		Use:   "exec [-d] [-i] [-t] [-e NAME=VALUE] [-w DIR] [-u USER] CONTAINER CMD [ARG...]",
		Short: "Run a command in a running container: its namespaces, cgroup, user and capabilities",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := stateRoot(cmd)
			c, err := container.Find(root, args[0])
			if err != nil {
				return err
			}
			if c.Status != container.Running || !c.Alive() {
				return fmt.Errorf("container %s is not running", args[0])
			}
			if engine.Paused(c) { // the process would join the frozen cgroup, and freeze
				return fmt.Errorf("container %s %w: unpause it first", args[0], engine.ErrPaused)
			}
			if detach && (interactive || tty) {
				return errors.New("exec -d runs the process with nothing attached: not with -i or -t")
			}
			command := commandAfter(args)
			if len(command) == 0 {
				return fmt.Errorf("usage: glassbox exec [flags] CONTAINER CMD [ARG...]")
			}
			s, err := spec.ForExec(stages.JoinSpec(c, c.Spec.Process), command, env, workdir, user, tty)
			if err != nil {
				return err
			}
			if detach {
				return (&engine.Engine{Root: root}).ExecDetached(cmd.Context(), c, s)
			}
			return joinAndWait(c, s, root, interactive, traceMode != "false")
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&detach, "detach", "d", false, "start the command and return; its output goes nowhere")
	f.BoolVarP(&interactive, "interactive", "i", false, "keep stdin open: the process reads it")
	f.BoolVarP(&tty, "tty", "t", false, "give the process a pseudo-terminal (with -i: an interactive session)")
	f.StringArrayVarP(&env, "env", "e", nil, "set NAME=VALUE")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory in the container")
	f.StringVarP(&user, "user", "u", "", "uid[:gid] or name[:group] from the container's /etc/passwd")
	f.StringVar(&traceMode, "trace", "", "--trace=false: no trace")
	return cmd
}

func newImagesCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := engineOf(cmd)
			if err != nil {
				return err
			}
			all, err := eng.Images()
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(all)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			for _, r := range all {
				id := strings.TrimPrefix(r.ID, "sha256:")[:12]
				tags := r.Tags
				if len(tags) == 0 {
					tags = []string{"<none>:<none>"}
				}
				for _, t := range tags {
					repo, tag := splitTag(image.Familiar(t))
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", repo, tag, id, engine.Ago(r.Created), engine.HumanBytes(uint64(r.Size())))
				}
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "json: the image records")
	return cmd
}

func splitTag(ref string) (string, string) {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "<none>"
}
