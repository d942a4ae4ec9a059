package stages

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
)

// Options are the parts of a run that are not the container's Spec.
type Options struct {
	Root   string // state root
	ID     string
	Name   string // --name: unique, and how other containers on its network resolve it
	Remove bool   // --rm: delete the state directory (and the writable layer) on exit
	// Restart starts an exited container again (glassbox start): its record,
	// Spec and writable layer exist, and stay if the stages fail.
	Restart bool
	// Bundle is the OCI bundle directory, if the Spec came from one.
	Bundle string
	IO     IO
	Debug  Debugger
	OCI    OCI
	// After runs after each stage, and after teardown, with its timing and steps.
	After func(Timing)
	// Failed hears a failed run's error once everything is undone, before
	// whoever resumed the run (continue, abort) is told how it ended: a
	// trace written here is in the store when they look.
	Failed func(*Run, error)
}

// IO is the process's stdio.
type IO struct {
	Stdin, Stdout, Stderr *os.File
	// Interactive (-i): the caller's input goes to the container.
	Interactive bool
	// Console (with process.terminal): a unix socket. The init makes the
	// pseudo-terminal inside the container (console.go) and sends its
	// master here; the slave becomes the process's stdin, stdout, stderr.
	Console *os.File
}

// Debugger is how a person steps through a run: run --step, --break-at,
// --hook, --replace-stage.
type Debugger struct {
	// Before runs as each stage begins (a live progress line uses it).
	Before func(*Stage)
	// Breakpoints pause the run (see control.go); Paused is told when it
	// pauses at one, to say so.
	Breakpoints []Breakpoint
	Paused      func(*Run, Breakpoint)
	// Step, if set, is asked before each stage whether to run it (run
	// --step); an error aborts the run.
	Step func(*Run, *Stage) error
	// Hooks run the user's commands at points of the pipeline; Replace runs
	// a command instead of a host-side stage (see hooks.go).
	Hooks   []Hook
	Replace map[string]string
}

// OCI is what glassbox-runc's commands (create, run, exec) ask of a run.
type OCI struct {
	// Caller: a container of an OCI caller's (podman's, containerd's), known
	// to it by its OCI id — its Name — which is what its state says and its
	// hooks are told.
	Caller bool
	// ExecFifo makes the run an OCI create: Start ends with the init waiting
	// on this FIFO (opened O_PATH, in the state directory) for `start`, in
	// the "created" state; nothing here waits for the container or tears it
	// down — `delete` does.
	ExecFifo *os.File
	// RootfsInPlace: root.path is the container's "/" itself, as with runc;
	// its owner (podman's, containerd's snapshotter) made it writable or
	// not. Without it the rootfs stage stacks an overlay on it.
	RootfsInPlace bool
	// Detached (create, exec --detach): the container's process outlives
	// glassbox, so it gets no parent-death signal; its caller waits for it.
	Detached bool
}

// Timing is one stage as it ran — both halves, host and container — with its
// steps, for the trace.
type Timing struct {
	Stage string
	Start time.Time
	End   time.Time
	Err   error
	Steps []Step
}

// Run is one container being created, run and torn down, seen from the host.
type Run struct {
	*container.Container
	Opts       Options
	CgroupMode cgroupsv2.Mode
	Cgroup     *cgroupsv2.Cgroup
	Usage      cgroupsv2.Usage // read just before the cgroup is removed

	init     *os.Process // the container's init; nil before clone and after reaping
	reaped   bool
	reapedCh chan struct{} // closed once reaped, when someone waits for that (Join)
	sync     *syncSocket
	started  []*Stage // stages whose work has begun, in order: what undo reverses
	steps    steps    // the current host-side stage half's steps

	controller net.Conn // the glassbox continue/abort that resumed a paused run

	mu        sync.Mutex
	execed    bool // the user's program is running: signals are forwarded to it
	interrupt int  // interrupts seen while stages were running
}

// New checks the Spec (every front end's, so no field is ignored in silence)
// and creates the container's state directory and record (or, with
// opts.Restart, takes over an exited container's); nothing else yet.
func New(s *specs.Spec, opts Options) (*Run, error) {
	if err := spec.Validate(s); err != nil {
		return nil, err
	}
	var c *container.Container
	var err error
	if opts.Restart {
		if c, err = container.Reopen(opts.Root, opts.ID, s); err == nil {
			os.Remove(c.Path(container.StopMark)) // a start ends what a stop asked of restart policies
		}
	} else if c, err = container.Create(opts.Root, opts.ID, opts.Name, s); err == nil {
		c.Labels = spec.LabelsOf(s) // saved with its next record
		Event(c, "create")
	}
	if err != nil {
		return nil, err
	}
	c.OCI, c.Bundle = opts.OCI.Caller, opts.Bundle
	return &Run{Container: c, Opts: opts, steps: stepsFor(opts)}, nil
}

// Event records what happened to a container in its state root's events log
// (docker events), with its name and image.
func Event(c *container.Container, action string, attrs ...string) {
	image := ""
	if c.Spec != nil {
		image = c.Spec.Annotations[spec.ImageNameAnnotation]
	}
	c.Event(action, append([]string{"image", image}, attrs...)...)
}

// Start runs every stage in order, up to the execve of the user's program. On
// failure everything that was done is undone and the state directory removed.
func (r *Run) Start() error {
	for i := 0; i < len(Pipeline); i++ {
		st := Pipeline[i]
		if err := r.interrupted(); err != nil {
			return r.fail(st, err)
		}
		if err := r.at(Breakpoint{st, Before}); err != nil {
			return r.fail(st, err)
		}
		if r.Opts.Debug.Before != nil {
			r.Opts.Debug.Before(st)
		}
		r.started = append(r.started, st)
		next := r.alongside(i)
		if failed, err := r.runStage(st, next); err != nil {
			if ierr := r.interrupted(); ierr != nil {
				err = ierr // the init was killed on purpose; say why
			}
			return r.fail(failed, err)
		}
		if next != nil { // it ran too
			st = next
			i++
		}
		if st == Network && r.Spec.Hooks != nil {
			// The runtime environment exists; pivot_root is yet to come.
			err := r.runOCIHooks("prestart", r.Spec.Hooks.Prestart, specs.StateCreating)
			if err == nil {
				err = r.runOCIHooks("createRuntime", r.Spec.Hooks.CreateRuntime, specs.StateCreating)
			}
			if err != nil {
				return r.fail(st, err)
			}
		}
		if st != Exec {
			if err := r.at(Breakpoint{st, After}); err != nil {
				return r.fail(st, err)
			}
		}
	}
	// An interrupt during the exec stage killed the init; its EOF looked like a
	// successful execve. Checked under the lock Signal takes, so that from here
	// on every signal is forwarded instead.
	r.mu.Lock()
	interrupted := r.interrupt > 0
	r.execed = !interrupted
	r.mu.Unlock()
	if interrupted {
		return r.fail(Exec, errInterrupted())
	}
	if r.Opts.OCI.ExecFifo != nil {
		r.Status = container.Created
		err := r.Save()
		r.report("created")
		return err
	}
	r.Status, r.Started, r.Restarting = container.Running, time.Now().UTC(), false
	err := r.Save()
	r.report("running")
	Event(r.Container, "start")
	if herr := r.PoststartHooks(); herr != nil {
		fmt.Fprintln(r.stderr(), "glassbox: warning:", herr) // the program runs: the spec says warn
	}
	return err
}

// PoststartHooks runs config.json's poststart hooks: the program runs (after
// run's execve, or OCI start's).
func (r *Run) PoststartHooks() error {
	if r.Spec.Hooks == nil {
		return nil
	}
	return r.runOCIHooks("poststart", r.Spec.Hooks.Poststart, specs.StateRunning)
}

// runStage runs st: its host half, then its container half in the init. A
// next stage (alongside) runs its host half while the init works on st's.
// Both stages' timings are reported, in pipeline order, and the stage that
// failed comes back with the error.
func (r *Run) runStage(st, next *Stage) (failed *Stage, err error) {
	t := Timing{Stage: st.Name, Start: time.Now()}
	var n Timing
	defer func() {
		t.End = time.Now()
		if failed == st {
			t.Err = err
		}
		r.timed(t)
		if next != nil && !n.Start.IsZero() {
			r.timed(n)
		}
	}()
	if err := r.hostHalf(st, &t); err != nil {
		return st, err
	}
	var meanwhile func()
	if next != nil {
		meanwhile = func() {
			if n.Err = r.interrupted(); n.Err != nil {
				return // as Start checks before each stage
			}
			if r.Opts.Debug.Before != nil {
				r.Opts.Debug.Before(next)
			}
			r.started = append(r.started, next)
			n = Timing{Stage: next.Name, Start: time.Now()}
			n.Err = r.hostHalf(next, &n)
			n.End = time.Now()
		}
	}
	// The init's report comes first even when next failed: an init that
	// failed its half, or died, takes its namespaces with it, and next then
	// fails for that reason.
	if err := r.containerHalf(st, &t, meanwhile); err != nil {
		return st, err
	}
	if n.Err != nil {
		return next, n.Err
	}
	return nil, nil
}

// hostHalf runs the stage's host-side half and collects its steps into t.
func (r *Run) hostHalf(st *Stage, t *Timing) error {
	if st.Host == nil {
		return nil
	}
	if err := injectFailure(st.Name, os.Getenv("GLASSBOX_TEST_FAIL")); err != nil {
		return err
	}
	host := st.Host
	if command := r.Opts.Debug.Replace[st.Name]; command != "" {
		host = func(r *Run) error { return r.replaced(st, command) }
	}
	err := host(r)
	t.Steps = append(t.Steps, r.hostSteps()...)
	return err
}

// alongside is the stage after Pipeline[i] if it runs while the init works
// on Pipeline[i] (Stage.WhileInitWorks), and nobody asked to stop, step or
// run a command between the two.
func (r *Run) alongside(i int) *Stage {
	if i+1 == len(Pipeline) || !Pipeline[i+1].WhileInitWorks || Pipeline[i].Container == nil {
		return nil
	}
	st, next, d := Pipeline[i], Pipeline[i+1], r.Opts.Debug
	between := []Breakpoint{{st, After}, {next, Before}}
	if d.Step != nil || d.Replace[next.Name] != "" ||
		slices.ContainsFunc(d.Breakpoints, func(b Breakpoint) bool { return slices.Contains(between, b) }) ||
		slices.ContainsFunc(d.Hooks, func(h Hook) bool { return slices.Contains(between, h.At) }) {
		return nil
	}
	return next
}

// containerHalf has the init run the stage's container-side half and
// collects its steps into t; meanwhile, if given, runs while the init works.
func (r *Run) containerHalf(st *Stage, t *Timing, meanwhile func()) error {
	if st.Container == nil {
		return nil
	}
	if err := r.sync.send(message{Kind: "run", Stage: st.Name}); err != nil {
		return r.initDied(st, err)
	}
	if meanwhile != nil {
		meanwhile()
	}
	return r.awaitInit(st, t)
}

// awaitInit waits for the init's report on the stage it was told to run.
func (r *Run) awaitInit(st *Stage, t *Timing) error {
	m, err := r.sync.recv()
	if err == nil && m.Kind == "execve" {
		// The exec stage's steps, sent just before execve. EOF next means the
		// execve succeeded and closed the init's end of the socket; the host
		// times the call itself, from the init's last word to the EOF.
		execve := len(m.Steps) > 0 // the last of them; none when untraced
		t.Steps = append(t.Steps, r.initSteps(m.Steps)...)
		if r.Opts.OCI.ExecFifo != nil {
			return nil // the init now waits for start; the execve is start's
		}
		m, err = r.sync.recv()
		if errors.Is(err, io.EOF) {
			if execve {
				t.Steps[len(t.Steps)-1].End = time.Now().UnixNano()
			}
			return nil
		}
	}
	switch {
	case err != nil:
		return r.initDied(st, err)
	case m.Kind == "failed" && m.Err != nil:
		t.Steps = append(t.Steps, r.initSteps(m.Steps)...)
		return m.Err
	case m.Kind == "done" && m.Stage == st.Name:
		t.Steps = append(t.Steps, r.initSteps(m.Steps)...)
		return nil
	}
	return fmt.Errorf("sync socket: unexpected %q message for stage %s", m.Kind, st.Name)
}

// hostSteps takes the steps glassbox itself recorded, marked with its pid.
func (r *Run) hostSteps() []Step {
	out := r.steps.take()
	for i := range out {
		out[i].Pid = os.Getpid()
	}
	return out
}

// initSteps marks steps from the init with its pid as the host sees it.
func (r *Run) initSteps(in []Step) []Step {
	for i := range in {
		in[i].Pid = r.Pid
	}
	return in
}

// traced says whether anyone reads the run's steps: the init records its own
// only when glassbox records its (stepsFor).
func (r *Run) traced() bool { return !r.steps.off }

func (r *Run) timed(t Timing) {
	if r.Opts.After != nil {
		r.Opts.After(t)
	}
}

// initDied explains a sync socket that closed while the init still had work.
func (r *Run) initDied(st *Stage, err error) error {
	if r.init == nil {
		return fmt.Errorf("sync socket: %w", err)
	}
	code := r.reap()
	return fmt.Errorf("the container's init exited during stage %s (%s) before reporting", st.Name, describeExit(code))
}

// Wait waits for the container's init — the user's program, after execve — and
// returns its exit code; a death by signal n is 128+n, as in a shell.
func (r *Run) Wait() int {
	code := r.reap()
	r.ExitCode = code
	return code
}

func (r *Run) reap() int {
	if r.init == nil || r.reaped {
		return r.ExitCode
	}
	st, err := r.init.Wait()
	r.mu.Lock()
	r.reaped = true
	r.mu.Unlock()
	if r.reapedCh != nil {
		close(r.reapedCh)
	}
	if err != nil {
		return 255
	}
	ws := st.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		r.ExitCode = 128 + int(ws.Signal())
	} else {
		r.ExitCode = ws.ExitStatus()
	}
	return r.ExitCode
}

// Signal is called for every signal glassbox receives. Once the user's program
// runs, it is forwarded, like `docker run`'s signal proxy. The container's
// process is pid 1 of its pid namespace, and the kernel delivers a signal to a
// namespace's init only if it installed a handler for it, so a second SIGINT or
// SIGTERM kills the container outright. While stages are still running, an
// interrupt aborts the run and tears it down.
func (r *Run) Signal(sig os.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.init == nil || r.reaped {
		if sig == unix.SIGINT || sig == unix.SIGTERM {
			r.interrupt++
		}
		return
	}
	if !r.execed {
		if sig == unix.SIGINT || sig == unix.SIGTERM {
			r.interrupt++
			r.init.Kill()
		}
		return
	}
	if sig == unix.SIGINT || sig == unix.SIGTERM {
		r.interrupt++
		if r.interrupt > 1 {
			fmt.Fprintf(os.Stderr, "glassbox: %s again: killing the container\n", sig)
			r.init.Signal(unix.SIGKILL)
			return
		}
	}
	r.init.Signal(sig)
}

// errInterrupted ends a run that SIGINT or SIGTERM stopped during the stages;
// 130 is what a shell reports for a program that Ctrl-C ended.
func errInterrupted() *Error { return &Error{Msg: "interrupted", ExitCode: 130} }

func (r *Run) interrupted() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.interrupt > 0 {
		return errInterrupted()
	}
	return nil
}

// Teardown undoes every stage, in reverse, once the container has exited. With
// --rm the state directory goes too; otherwise the record (and the writable
// layer) stay as an exited container for `glassbox rm`.
func (r *Run) Teardown() error {
	if !r.Started.IsZero() { // it ran: not an OCI container deleted before its start
		Event(r.Container, "die", "exitCode", strconv.Itoa(r.ExitCode))
	}
	start := time.Now()
	err := r.undo()
	r.timed(Timing{Stage: "teardown", Start: start, End: time.Now(), Err: err, Steps: r.hostSteps()})
	if r.Spec.Hooks != nil {
		if herr := r.runOCIHooks("poststop", r.Spec.Hooks.Poststop, specs.StateStopped); herr != nil {
			fmt.Fprintln(r.stderr(), "glassbox: warning:", herr)
		}
	}
	if r.Opts.Remove || r.MarkedForRemoval() {
		return r.removeAfter(err)
	}
	r.Status = container.Exited
	r.Finished = time.Now().UTC()
	r.Pid = 0
	err = errors.Join(err, r.Save())
	r.Unlock()
	return err
}

// at is a point between stages: the user's hooks there, a breakpoint, and
// before a stage, --step's question.
func (r *Run) at(b Breakpoint) error {
	if err := r.runUserHooks(b); err != nil {
		return err
	}
	if err := r.pauseAt(b); err != nil {
		return err
	}
	if b.When == Before && r.Opts.Debug.Step != nil {
		return r.Opts.Debug.Step(r, b.Stage)
	}
	return nil
}

func (r *Run) stderr() *os.File {
	if r.Opts.IO.Stderr != nil {
		return r.Opts.IO.Stderr
	}
	return os.Stderr
}

// fail tears down a run whose stage st failed, leaving nothing behind; a
// restarted container is left as it was, exited, with the error's exit code.
func (r *Run) fail(st *Stage, err error) *Error {
	e := asStageError(st.Name, err)
	undoErr := r.undo()
	if !r.Opts.Restart {
		if err := r.removeAfter(undoErr); err != nil {
			e.Leftover = strings.ReplaceAll(err.Error(), "\n", "; ")
		}
	} else {
		r.Status, r.Pid, r.PidStart, r.Finished = container.Exited, 0, 0, time.Now().UTC()
		r.ExitCode = cmp.Or(e.ExitCode, 125)
		r.Save()
		r.Unlock()
	}
	// Once all is undone: the continue or abort that led here hears of it.
	if r.Opts.Failed != nil {
		r.Opts.Failed(r, e)
	}
	if errors.Is(err, ErrAborted) {
		r.report("aborted")
	} else {
		r.report("error " + strings.ReplaceAll(e.Error(), "\n", " "))
	}
	return e
}

func (r *Run) undo() error {
	var errs []error
	for i := len(r.started) - 1; i >= 0; i-- {
		if st := r.started[i]; st.Undo != nil {
			if err := st.Undo(r); err != nil {
				errs = append(errs, fmt.Errorf("undo stage %s: %w", st.Name, err))
			}
		}
	}
	r.started = nil
	if r.sync != nil {
		r.sync.f.Close()
		r.sync = nil
	}
	return errors.Join(errs...)
}

// Resume is the Run of a container whose init has exited, or whose glassbox
// is gone, rebuilt from its record alone: what the stages made is written
// there, and Teardown (or Cleanup) undoes it. A detached container's shim
// waits for the init and then has glassbox resume the run this way with the
// exit code it saw. The caller must hold the container's lock.
func Resume(c *container.Container, opts Options, exitCode int) *Run {
	if c.Spec == nil {
		// A run killed before its first record: undo what the directory
		// and the host show, with nothing asked of the Spec.
		c.Spec = &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}
	}
	r := &Run{Container: c, Opts: opts, steps: stepsFor(opts), started: Pipeline, reaped: true}
	r.ExitCode = exitCode
	if len(c.Cgroups) > 0 {
		r.CgroupMode, _ = cgroupsv2.Detect()
		cg, err := cgroupsv2.Reopen(c.Cgroups)
		if err != nil {
			cg = &cgroupsv2.Cgroup{Dirs: c.Cgroups} // the trees cannot be read, or none of theirs is mounted: rmdir all the same
		}
		cg.Step = r.steps.record
		r.Cgroup = cg
	}
	return r
}

// Cleanup undoes a container whose glassbox process is gone (killed, or the host
// rebooted), using only its record, and removes its state directory. The caller
// must hold the container's lock.
func Cleanup(c *container.Container) error {
	r := Resume(c, Options{}, c.ExitCode)
	return r.removeAfter(r.undo())
}

// removeAfter removes the state directory if the undo went well. If some of
// it could not be undone, the record is all a retry has to go by: it stays,
// marked for removal, for gc. (Removed, it would leave a mount or cgroup
// nobody knows of.)
func (r *Run) removeAfter(undoErr error) error {
	if undoErr == nil {
		return r.Remove()
	}
	err := errors.Join(r.MarkForRemoval(), r.Save())
	r.Unlock()
	return errors.Join(fmt.Errorf("%w (the record stays: glassbox gc tries again)", undoErr), err)
}

func describeExit(code int) string {
	if code > 128 {
		return "killed by " + unix.SignalName(syscall.Signal(code-128))
	}
	return fmt.Sprintf("exit status %d", code)
}
