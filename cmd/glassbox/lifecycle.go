package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	ossignal "os/signal"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
)

// A container's glassbox (the foreground run, or the monitor of a detached
// one) holds its lock until the teardown is done: a free lock on a record
// that never reached "exited" is a leftover for gc. These commands read
// records without taking the lock, and signal the init directly, as
// `docker kill` makes runc do.

func newPsCmd() *cobra.Command {
	var all, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List containers (running and paused ones; -a: all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := container.List(stateRoot(cmd))
			if err != nil {
				return err
			}
			var shown []*container.Container
			for _, c := range list {
				if all || c.Status == container.Running || c.Breakpoint != "" {
					shown = append(shown, c)
				}
			}
			switch {
			case quiet:
				for _, c := range shown {
					fmt.Println(container.ShortID(c.ID))
				}
				return nil
			case format == "json":
				return printJSON(records(shown))
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
			for _, c := range shown {
				fmt.Fprintf(w, "%s\t%s\t%q\t%s\t%s\t%s\t%s\n", container.ShortID(c.ID), imageOf(c), commandOf(c), ago(c.Created), statusOf(c), c.Ports, c.Name)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also exited containers")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "ids only")
	cmd.Flags().StringVar(&format, "format", "", "json: the records")
	return cmd
}

func records(cs []*container.Container) []container.Record {
	out := []container.Record{}
	for _, c := range cs {
		out = append(out, c.Record)
	}
	return out
}

func imageOf(c *container.Container) string {
	if c.Spec == nil {
		return ""
	}
	if n := c.Spec.Annotations[spec.ImageNameAnnotation]; n != "" {
		return image.Familiar(n)
	}
	return c.Spec.Root.Path
}

func commandOf(c *container.Container) string {
	if c.Spec == nil || c.Spec.Process == nil {
		return ""
	}
	cmd := strings.Join(c.Spec.Process.Args, " ")
	if len(cmd) > 30 {
		cmd = cmd[:29] + "…"
	}
	return cmd
}

func statusOf(c *container.Container) string {
	switch c.Status {
	case container.Running:
		if !c.Alive() {
			return "Dead (glassbox gc removes it)"
		}
		return "Up " + strings.TrimSuffix(ago(cmp.Or(c.Started, c.Created)), " ago")
	case container.Exited:
		s := fmt.Sprintf("Exited (%d) %s", c.ExitCode, ago(c.Finished))
		if c.OOMKilled {
			s += " OOM"
		}
		return s
	}
	if c.Breakpoint != "" {
		return "Paused " + c.Breakpoint
	}
	return "Created"
}

func newLogsCmd() *cobra.Command {
	var follow, timestamps bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [-f] [--tail N] [-t] CONTAINER",
		Short: "Print a detached container's output (stdout and stderr kept apart)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := container.Find(stateRoot(cmd), args[0])
			if err != nil {
				return err
			}
			f, err := openLog(c, follow)
			if errors.Is(err, os.ErrNotExist) {
				return nil // no output, and none to come
			}
			if err != nil {
				return err
			}
			defer f.Close()
			print := func(line []byte) {
				var l LogLine
				if json.Unmarshal(line, &l) != nil {
					return
				}
				out := os.Stdout
				if l.Stream == "stderr" {
					out = os.Stderr
				}
				if timestamps {
					fmt.Fprint(out, l.Time.Format(time.RFC3339Nano)+" ")
				}
				fmt.Fprint(out, l.Log)
			}
			r := bufio.NewReader(f)
			var lines [][]byte
			for {
				line, err := r.ReadBytes('\n')
				if err != nil {
					break
				}
				if tail >= 0 {
					lines = append(lines, line)
					if len(lines) > tail {
						lines = lines[1:]
					}
				} else {
					print(line)
				}
			}
			for _, l := range lines {
				print(l)
			}
			for follow {
				line, err := r.ReadBytes('\n')
				if err == nil {
					print(line)
					continue
				}
				if !running(c) {
					// Whatever the monitor wrote before it let go.
					rest, _ := io.ReadAll(r)
					for _, l := range strings.SplitAfter(string(line)+string(rest), "\n") {
						print([]byte(l))
					}
					return nil
				}
				time.Sleep(50 * time.Millisecond)
				r = bufio.NewReader(io.MultiReader(strings.NewReader(string(line)), f))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing until the container exits")
	cmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "prefix each line with its time")
	cmd.Flags().IntVar(&tail, "tail", -1, "only the last N lines")
	return cmd
}

// openLog opens a container's log. The shim makes it as it starts, which can
// be just after run -d returned: following a container whose log is not there
// yet waits for it, for as long as the container runs.
func openLog(c *container.Container, follow bool) (*os.File, error) {
	for {
		f, err := os.Open(c.Path(LogFile))
		if !errors.Is(err, os.ErrNotExist) || !follow || !running(c) {
			return f, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running says whether a container's glassbox still holds it (the program
// runs, or its teardown does).
func running(c *container.Container) bool {
	probe := &container.Container{Dir: c.Dir}
	if err := probe.Lock(); err != nil {
		return errors.Is(err, container.ErrLocked)
	}
	probe.Unlock()
	return false
}

// waitGone waits until a container's glassbox lets go of it, at most d: a
// blocking flock(2) on its lock, which the kernel grants once the holder has
// closed it (its teardown is done). Not a poll: fifty `rm -f` polling at once
// made thousands of wake-ups a second and starved the very teardowns they
// waited for (minutes, on a busy 2-core VM).
func waitGone(c *container.Container, d time.Duration) bool {
	f, err := os.Open(c.Path("lock"))
	if err != nil {
		return true // the state directory is gone: run --rm removed it
	}
	defer f.Close()
	got := make(chan error, 1)
	go func() { got <- unix.Flock(int(f.Fd()), unix.LOCK_EX) }()
	select {
	case <-got:
		return true
	case <-time.After(d):
		return false
	}
}

// initExited waits, at most d, for the container's init to die. A pidfd
// (pidfd_open(2)) becomes readable when its process exits; opening it before
// checking the start time rules out a recycled pid.
func initExited(c *container.Container, d time.Duration) bool {
	fd, err := unix.PidfdOpen(c.Pid, 0)
	if err != nil {
		return !c.Alive() // ESRCH: gone already
	}
	defer unix.Close(fd)
	if !c.Alive() {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for deadline := time.Now().Add(d); ; {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		n, err := unix.Poll(fds, int(min(left.Milliseconds()+1, 1<<30))) // poll(2) takes an int of ms
		if n > 0 {
			return true
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return !c.Alive()
		}
	}
}

// teardownTimeout bounds the wait for a container's glassbox to finish its
// teardown once the init is dead: GLASSBOX_TEARDOWN_TIMEOUT (a duration),
// or two minutes — long, because the wait ends anyway when that glassbox
// does, and fifty containers stopped at once on a slow, busy machine share
// two CPUs for their teardowns.
func teardownTimeout() (time.Duration, error) {
	v := os.Getenv("GLASSBOX_TEARDOWN_TIMEOUT")
	if v == "" {
		return 2 * time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("GLASSBOX_TEARDOWN_TIMEOUT=%s: expected a duration such as 30s or 2m", v)
	}
	return d, nil
}

// errStillTearingDown: the container's init is dead, and its glassbox has
// not finished tearing it down within teardownTimeout.
var errStillTearingDown = errors.New("its glassbox is still tearing it down")

// killAndWait sends sig to the container's init, waits up to grace for it to
// die (then SIGKILLs it, and waits up to 10 s more), and then waits up to
// teardown for its glassbox to finish the teardown. Each step is a span of tr.
func killAndWait(tr *runTrace, c *container.Container, sig unix.Signal, grace, teardown time.Duration) error {
	err := tracedSignal(tr, c, sig)
	if err == nil && sig != unix.SIGKILL {
		start := time.Now()
		exited := initExited(c, grace)
		tr.step("wait for the init to exit (pidfd)", start, nil, attribute.Bool("glassbox.exited", exited), attribute.String("glassbox.timeout", grace.String()))
		if !exited {
			tracedSignal(tr, c, unix.SIGKILL) // pid 1 of a namespace ignores signals it does not handle
		}
	}
	start := time.Now()
	if !initExited(c, 10*time.Second) {
		err := fmt.Errorf("container %s did not stop: its init (pid %d) outlived SIGKILL by 10 s; see /proc/%d/stack", container.ShortID(c.ID), c.Pid, c.Pid)
		tr.step("wait for the init to exit (pidfd)", start, err)
		return err
	}
	tr.step("wait for the init to exit (pidfd)", start, nil)
	start = time.Now()
	if !waitGone(c, teardown) {
		err := fmt.Errorf("container %s stopped, but %w after %s", container.ShortID(c.ID), errStillTearingDown, teardown)
		tr.step("wait for the teardown (the container's lock)", start, err)
		return err
	}
	tr.step("wait for the teardown (the container's lock)", start, nil)
	return nil
}

// tracedSignal is signalInit as a span of tr.
func tracedSignal(tr *runTrace, c *container.Container, sig unix.Signal) error {
	start := time.Now()
	err := signalInit(c, sig)
	tr.step(fmt.Sprintf("kill(%d, %s)", c.Pid, unix.SignalName(sig)), start, err, attribute.Int("process.pid", c.Pid))
	return err
}

// exitAttrs is the exit code a stopped container's record holds, for its trace.
func exitAttrs(c *container.Container) []attribute.KeyValue {
	if done, err := container.Load(c.Dir); err == nil && done.Status == container.Exited {
		return []attribute.KeyValue{attribute.Int("process.exit.code", done.ExitCode)}
	}
	return nil // removed on exit (--rm)
}

// signalInit sends sig to the container's init, if the record still names it.
func signalInit(c *container.Container, sig unix.Signal) error {
	if c.Status != container.Running || !c.Alive() {
		return fmt.Errorf("container %s is not running", container.ShortID(c.ID))
	}
	if err := unix.Kill(c.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill(%d, %s): %w", c.Pid, unix.SignalName(sig), err)
	}
	return nil
}

func newStopCmd() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [-t SECONDS] CONTAINER...",
		Short: "Stop containers: SIGTERM, then SIGKILL after the timeout",
		Long: `stop sends SIGTERM to each container's init, SIGKILL after -t seconds,
and returns once the container's glassbox has torn it down: at most
GLASSBOX_TEARDOWN_TIMEOUT (a duration; default 2m) after the init died.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			grace, err := stopGrace(timeout)
			if err != nil {
				return err
			}
			teardown, err := teardownTimeout()
			if err != nil {
				return err
			}
			return eachContainer(cmd, args, func(c *container.Container) error {
				if !running(c) {
					return nil // already stopped: as Docker, not an error
				}
				tr := traceLifecycle(cmd, c)
				err := killAndWait(tr, c, unix.SIGTERM, grace, teardown)
				tr.endLifecycle(err, exitAttrs(c)...)
				if errors.Is(err, errStillTearingDown) {
					err = fmt.Errorf("%w; it goes when that ends: try again later, or glassbox gc if its glassbox was killed", err)
				}
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait after SIGTERM before SIGKILL (-1: no SIGKILL)")
	return cmd
}

// forever is a wait without end that time arithmetic still holds.
const forever = 100 * 365 * 24 * time.Hour

// stopGrace reads stop's -t as Docker does: seconds, or -1 to wait for the
// program however long it takes.
func stopGrace(seconds int) (time.Duration, error) {
	switch {
	case seconds < -1:
		return 0, fmt.Errorf("-t %d: expected seconds to wait, or -1 to wait without SIGKILL", seconds)
	case seconds == -1 || int64(seconds) > int64(forever/time.Second):
		return forever, nil
	}
	return time.Duration(seconds) * time.Second, nil
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
			to := traceOptions{command: "start", off: traceMode == "false", endpoint: otlpEndpoint}
			restart := func(c *container.Container, stdin *os.File) (*specs.Spec, stages.Options, error) {
				s := c.Spec
				// This start is a trace of its own: the last run's context goes.
				s.Process.Env = slices.DeleteFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "TRACEPARENT=") })
				opts := stages.Options{Root: stateRoot(cmd), ID: c.ID, Name: c.Name, Restart: true,
					Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interactive: interactive}
				return s, opts, joinNetworkOf(s, opts.Root)
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

// parseSignal reads a signal as a name (KILL, SIGKILL, kill) or a number.
func parseSignal(sig string) (unix.Signal, error) {
	s := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(sig), "SIG"))
	if n, err := strconv.Atoi(sig); err == nil {
		s = unix.Signal(n)
	}
	if s <= 0 || s > 64 {
		return 0, fmt.Errorf("%s: no such signal", sig)
	}
	return s, nil
}

func newKillCmd() *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [-s SIGNAL] CONTAINER...",
		Short: "Send a signal to containers' first process (default SIGKILL)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseSignal(sig)
			if err != nil {
				return fmt.Errorf("-s %w", err)
			}
			return eachContainer(cmd, args, func(c *container.Container) error {
				tr := traceLifecycle(cmd, c)
				err := tracedSignal(tr, c, s)
				tr.endLifecycle(err)
				return err
			})
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
			c, err := container.Find(stateRoot(cmd), args[0])
			if err != nil {
				return err
			}
			waitGone(c, 365*24*time.Hour)
			done, err := container.Load(c.Dir)
			if err != nil {
				return fmt.Errorf("container %s was removed when it exited (--rm): its exit code went with it", args[0])
			}
			fmt.Println(done.ExitCode)
			return nil
		},
	}
}

func newInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect CONTAINER...",
		Short: "Print container records as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var cs []*container.Container
			err := eachContainer(cmd, args, func(c *container.Container) error {
				cs = append(cs, c)
				return nil
			})
			if len(cs) > 0 {
				printJSON(records(cs))
			}
			return err
		},
	}
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
	stdin := os.Stdin
	if !interactive {
		var err error
		if stdin, err = os.Open(os.DevNull); err != nil {
			return err
		}
	}
	opts := stages.Options{Root: root, ID: c.ID, Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	con, err := consoleFor(s.Process, &opts)
	if err != nil {
		return err
	}
	var tr *runTrace
	if traced {
		if tr = traceContainer(traceOptions{command: "exec"}, c, s, root); tr != nil {
			opts.After = tr.stage
		}
	}
	sigs := make(chan os.Signal, 8)
	ossignal.Notify(sigs, forwardedSignals...)
	defer ossignal.Stop(sigs)
	r, err := stages.Join(c, s, opts)
	if err != nil {
		if con != nil {
			con.discard()
		}
		return tr.end(nil, err, 0)
	}
	go forwardSignals(sigs, r, con)
	if con != nil {
		if err := con.attach(interactive); err != nil {
			fmt.Fprintln(os.Stderr, "glassbox:", err)
		}
	}
	code := r.Wait()
	if con != nil {
		con.close()
	}
	tr.exited(code)
	tr.end(nil, nil, code)
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
	var interactive, tty bool
	cmd := &cobra.Command{
		Use:   "exec [-i] [-e NAME=VALUE] [-w DIR] [-u USER] CONTAINER CMD [ARG...]",
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
			command := commandAfter(args)
			if len(command) == 0 {
				return fmt.Errorf("usage: glassbox exec [flags] CONTAINER CMD [ARG...]")
			}
			s, err := spec.ForExec(stages.JoinSpec(c, c.Spec.Process), command, env, workdir, user, tty)
			if err != nil {
				return err
			}
			return joinAndWait(c, s, root, interactive, traceMode != "false")
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&interactive, "interactive", "i", false, "keep stdin open: the process reads it")
	f.BoolVarP(&tty, "tty", "t", false, "give the process a pseudo-terminal (with -i: an interactive session)")
	f.StringArrayVarP(&env, "env", "e", nil, "set NAME=VALUE")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory in the container")
	f.StringVarP(&user, "user", "u", "", "uid[:gid] or name[:group] from the container's /etc/passwd")
	f.StringVar(&traceMode, "trace", "", "--trace=false: no trace")
	return cmd
}
