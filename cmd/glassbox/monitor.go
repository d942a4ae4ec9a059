package main

// A detached container (`run -d`) needs a process that outlives the command
// that started it: something must be the container init's parent (only a
// parent can wait(2) for it and learn its exit status), hold its output
// pipes and write them to a log, keep the container's lock, and run the
// teardown when it exits. Docker has containerd-shim for this, Podman conmon;
// glassbox has `glassbox monitor`, which slims down to glassbox-shim once the
// container runs — one process, three programs:
//
//	glassbox run -d …  ──fork/exec──▶  glassbox monitor (setsid: no terminal)
//	   │ writes the Spec on its stdin       │ runs the stages, the init its child
//	   │ reads "ok" or the error on fd 3 ◀──┤ reports, ends the run's trace
//	   ▼ prints the id, exits               │ execve ▶ glassbox-shim (~2 MB): logs
//	                                        │ stdout/stderr as JSON lines, wait4(init)
//	                                        │ execve ▶ glassbox monitor --exit-code N:
//	                                        ▼ records it, tears down ("glassbox exit" trace)
//
// If the monitor is killed, the init's parent-death signal kills the
// container, the lock is released, and `glassbox gc` cleans up.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/engine"
	"github.com/glassbox-dev/glassbox/internal/specjson"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// startMonitor starts the container under a monitor (engine.Detach) and
// returns once the container runs, or the stages failed (their error, printed,
// and their exit code as glassbox's).
func startMonitor(s *specs.Spec, opts stages.Options, to trace.Options, pipeline []string) error {
	paused, err := (&engine.Engine{Root: opts.Root}).Detach(s, opts, to, pipeline)
	var failed *engine.StageError
	switch {
	case errors.As(err, &failed):
		fmt.Fprintln(os.Stderr, "glassbox:", failed.Msg)
		return exitCode(failed.Code)
	case paused != "":
		fmt.Fprint(os.Stderr, pausedMessage(opts.ID, paused))
	}
	return err
}

func newMonitorCmd() *cobra.Command {
	var opts stages.Options
	var traced bool
	var endpoint, command, httpMethod, httpRoute string
	var exitCode, lockFd int
	var healthCheck bool
	var pipeline pipelineFlags
	cmd := &cobra.Command{
		Use:    "monitor",
		Short:  "Supervise a detached container (started by run -d)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			to := trace.Options{Off: !traced, Endpoint: endpoint, Command: command}
			if httpRoute != "" { // started by the daemon: the request's trace goes on
				to.Request = &trace.Request{Method: httpMethod, Route: httpRoute, Header: http.Header{"Traceparent": {os.Getenv("TRACEPARENT")}}}
			}
			if err := pipeline.apply(&opts); err != nil {
				return err
			}
			if cmd.Flags().Changed("exit-code") {
				return monitorExit(opts, to, lockFd, exitCode)
			}
			if healthCheck {
				c, err := container.Load(filepath.Join(container.ContainersDir(opts.Root), opts.ID))
				if err != nil {
					return err
				}
				return (&engine.Engine{Root: opts.Root}).Probe(cmd.Context(), c)
			}
			// The init's parent-death signal fires when the *thread* that
			// cloned it ends, and execve(2) ends every thread but the caller:
			// the stages and the execve of the shim must run on one thread.
			runtime.LockOSThread()
			var doc specjson.Linux
			if err := json.NewDecoder(os.Stdin).Decode(&doc); err != nil {
				return fmt.Errorf("monitor: the spec on stdin: %w (glassbox run -d starts monitors, and gives them one)", err)
			}
			if doc.Spec == nil {
				return errors.New("monitor: the spec on stdin is null (glassbox run -d starts monitors, and gives them one)")
			}
			s := doc.Spec
			status := os.NewFile(3, "status")
			null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			shim, err := engine.ShimProgram()
			if err != nil {
				return err
			}
			logConfig, err := spec.LogConfigOf(s)
			if err != nil {
				return err
			}
			stdio := shimIO{terminal: s.Process.Terminal}
			opts.IO.Stdin = null
			if mode := s.Annotations[engine.StdinAnnotation]; mode != "" {
				if stdio.stdin, err = openStdin(filepath.Join(container.ContainersDir(opts.Root), opts.ID, container.StdinFifo), mode, s.Process.Terminal, &opts); err != nil {
					return err
				}
				defer stdio.stdin.Close()
			}
			outR, outW, err := os.Pipe()
			if err != nil {
				return err
			}
			errR, errW, err := os.Pipe()
			if err != nil {
				return err
			}
			opts.IO.Stdout, opts.IO.Stderr = outW, errW
			stdio.stdout, stdio.stderr = outR, errR
			// The monitor itself writes nowhere: errors go to the status pipe
			// while the CLI listens, and to the log after.
			os.Stdout, os.Stderr = null, null
			hooks := runHooks{detached: true}
			// run -d returns at the first breakpoint; the run waits there
			// for glassbox continue, which then hears how it goes on.
			reported := false
			opts.Debug.Paused = func(r *stages.Run, b stages.Breakpoint) {
				if !reported {
					fmt.Fprintf(status, "paused %s\n", b)
					status.Close()
					reported = true
				}
			}
			dir := filepath.Join(container.ContainersDir(opts.Root), opts.ID)
			hooks.started = func(err error) {
				// The init has its own copies of the pipes' write ends now.
				outW.Close()
				errW.Close()
				if err == nil {
					engine.StartHealth(&container.Container{Dir: dir, Record: container.Record{Spec: s}})
				}
				if err == nil && logConfig.Driver != "none" {
					// Its log is there once run -d has returned (the shim
					// appends to it): a logs at once finds it, empty or not.
					if f, err := os.OpenFile(filepath.Join(dir, container.LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); err == nil {
						f.Close()
					}
				}
				if reported {
					return // glassbox continue hears how the run goes on
				}
				if err == nil {
					fmt.Fprint(status, "ok\n")
				} else {
					code := 125
					var se *stages.Error
					if errors.As(err, &se) && se.ExitCode != 0 {
						code = se.ExitCode
					}
					fmt.Fprintf(status, "error %d %s\n", code, strings.ReplaceAll(err.Error(), "\n", " "))
				}
				status.Close()
			}
			hooks.running = func(r *stages.Run, tr *trace.Run, master *os.File) {
				if master != nil {
					stdio.stdout, stdio.stderr = master, nil // the init's stdout and stderr are the terminal
				}
				err := becomeShim(shim, r, tr, stdio, logConfig, to)
				// Still here: the execve failed, and nothing would read the
				// container's output. It is killed; the run tears it down.
				container.AppendLog(r.Path(container.LogFile), container.LogLine{Stream: "stderr", Time: time.Now().UTC(),
					Log: "glassbox: " + err.Error() + ": the container was killed\n"})
				unix.Kill(r.Pid, unix.SIGKILL)
			}
			return runContainer(s, opts, to, hooks)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Root, "root", "", "state root")
	f.StringVar(&opts.ID, "id", "", "container id")
	f.StringVar(&opts.Name, "name", "", "container name")
	f.BoolVar(&opts.Remove, "rm", false, "remove the container when it exits")
	f.BoolVar(&opts.Restart, "restart", false, "start the exited container --id again")
	f.BoolVar(&traced, "trace", true, "trace the run")
	f.StringVar(&endpoint, "otlp-endpoint", "", "OTLP endpoint")
	f.StringVar(&command, "command", "run", "the command the trace is named after (run, start)")
	f.StringVar(&httpMethod, "http-method", "", "the daemon's request that started it: its method")
	f.StringVar(&httpRoute, "http-route", "", "the daemon's request that started it: its route")
	pipeline.register(f)
	f.StringVar(&opts.Bundle, "bundle", "", "the OCI bundle directory")
	f.IntVar(&exitCode, "exit-code", 0, "the init exited with this code: record it and tear down (run by glassbox-shim)")
	f.BoolVar(&healthCheck, "health-check", false, "run the container's health check once and record it (run by glassbox-shim)")
	f.IntVar(&lockFd, "lock-fd", -1, "with --exit-code: the inherited descriptor holding the container's lock")
	return cmd
}

// shimIO is what the shim holds of a container's stdio: its output pipes, or
// its terminal's master (stdout, with stderr nil), and its stdin FIFO if it is
// open to attaches.
type shimIO struct {
	stdout, stderr, stdin *os.File
	terminal              bool
}

// openStdin opens a container's stdin FIFO (engine.StdinAnnotation's mode):
// without a terminal its read end becomes the init's stdin, and the monitor
// keeps (for mode open) a write end, so the container reads end-of-file only
// when its glassbox goes, not when an attach does; with a terminal, the shim
// reads it into the master — held open for writing too (mode open) so that it
// never sees end-of-file. A FIFO's read end opens at once only non-blocking;
// a once-only stdin's then reads end-of-file when the last attach has gone.
func openStdin(fifo, mode string, terminal bool, opts *stages.Options) (*os.File, error) {
	if terminal && mode == engine.StdinOpen {
		return os.OpenFile(fifo, os.O_RDWR, 0)
	}
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's stdin: %w", err)
	}
	read := os.NewFile(uintptr(fd), "stdin FIFO")
	if terminal {
		return read, nil
	}
	unix.SetNonblock(fd, false)
	opts.IO.Stdin = read
	if mode != engine.StdinOpen {
		return nil, nil
	}
	return os.OpenFile(fifo, os.O_WRONLY, 0) // a reader is there: this does not block
}

// becomeShim ends the run's trace and execve(2)s glassbox-shim in this
// process, handing it the init's stdio and the container's lock; the
// shim runs `glassbox monitor --exit-code` when the init exits. It returns
// only if the execve failed.
func becomeShim(shim string, r *stages.Run, tr *trace.Run, stdio shimIO, logs spec.LogConfig, to trace.Options) error {
	// The run's trace ends with the program started; `glassbox exit` traces
	// the rest. It ends first: its OTLP export starts a program, which must
	// not inherit the lock and stdio made inheritable below.
	tr.EndLifecycle(nil, attribute.Bool("glassbox.detached", true))
	lockFd, err := r.InheritLock()
	if err != nil {
		return fmt.Errorf("keep the container's lock across execve: %w", err)
	}
	inherit := func(f *os.File) (string, error) {
		if f == nil {
			return "-1", nil
		}
		fd := f.Fd()
		if _, err := unix.FcntlInt(fd, unix.F_SETFD, 0); err != nil {
			return "", fmt.Errorf("keep the container's stdio across execve: %w", err)
		}
		return strconv.Itoa(int(fd)), nil
	}
	argv := []string{"glassbox-shim"}
	if stdio.terminal {
		argv = append(argv, "-t")
	}
	if stdio.stdin != nil {
		fd, err := inherit(stdio.stdin)
		if err != nil {
			return err
		}
		argv = append(argv, "-i", fd)
	}
	if logs.MaxSize > 0 {
		argv = append(argv, "-r", strconv.FormatInt(logs.MaxSize, 10)+","+strconv.Itoa(logs.MaxFiles))
	}
	argv = append(argv, "-l", strconv.Itoa(lockFd))
	if check := spec.HealthcheckOf(r.Spec); check != nil {
		h := check.WithDefaults()
		argv = append(argv, "-c", fmt.Sprintf("%d,%d,%d", h.Interval, h.StartPeriod, h.StartInterval))
	}
	argv = append(argv, strconv.Itoa(r.Pid))
	for _, f := range []*os.File{stdio.stdout, stdio.stderr} {
		fd, err := inherit(f)
		if err != nil {
			return err
		}
		argv = append(argv, fd)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	log := r.Path(container.LogFile)
	if logs.Driver == "none" {
		log = ""
	}
	argv = append(argv, log, "--", exe, "glassbox", "monitor", "--root", r.Opts.Root, "--id", r.ID,
		"--lock-fd", strconv.Itoa(lockFd), "--rm="+strconv.FormatBool(r.Opts.Remove),
		"--trace="+strconv.FormatBool(!to.Off), "--otlp-endpoint", to.Endpoint)
	// One P: the Go runtime then starts fewer threads, each costing memory.
	return syscall.Exec(shim, argv, append(os.Environ(), shimGOMAXPROCS))
}

// shimGOMAXPROCS is in the shim's environment only; it drops it again for the
// teardown.
const shimGOMAXPROCS = "GOMAXPROCS=1"

// monitorExit records a detached container's exit code and tears it down,
// with the lock the shim handed on; traced as "glassbox exit", from the
// program's start to the end of the teardown.
func monitorExit(opts stages.Options, to trace.Options, lockFd, code int) error {
	c, err := container.Adopt(filepath.Join(container.ContainersDir(opts.Root), opts.ID), lockFd)
	if err != nil {
		return err
	}
	var r *stages.Run
	if !to.Off {
		to.Command, to.Start = "exit", c.Started
		if tr := trace.Container(to, c, c.Spec, opts.Root); tr != nil {
			tr.SetExecEnd(c.Started)
			tr.Exited(code)
			opts.After = func(t stages.Timing) {
				tr.Stage(t)
				if t.Stage == "teardown" {
					// Written before --rm removes the state directory and the
					// lock goes: whoever waits for the teardown (rm -f, stop)
					// then finds the trace in the store.
					tr.End(r, nil, code)
				}
			}
		}
	}
	if opts.Remove {
		// Removed as it exits, with its record: its waiter (docker run --rm
		// through the daemon) reads the code from here.
		container.KeepExitCode(opts.Root, opts.ID, code)
	}
	r = stages.Resume(c, opts, code)
	if err := r.Teardown(); err != nil || opts.Remove {
		return err
	}
	// Its restart policy may start it again, under a monitor of its own.
	_, err = (&engine.Engine{Root: opts.Root}).RestartIfDue(c, code)
	return err
}
