package engine

// The host half of the OCI runtime's commands (glassbox-runc create, start,
// kill --all), as runc has them: create runs every stage but the last step
// — the init stops before execve(2), blocked opening a FIFO for writing — and
// start opens that FIFO for reading, which lets the init go on to the
// program. The container belongs to its caller (podman, containerd), which
// waits for it and deletes it.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// ExecFifo is the FIFO in the state directory the created init waits on.
const ExecFifo = "exec.fifo"

// CreateOCI runs s's stages up to the init waiting on the exec FIFO (the
// created state), traced as "glassbox create". opts.OCI says whose it is.
func (e *Engine) CreateOCI(s *specs.Spec, opts stages.Options) (*stages.Run, error) {
	r, tr, err := createOCI(s, opts, "create")
	if err := tr.End(r, err, 0); err != nil {
		return nil, err
	}
	return r, nil
}

// RunOCI is runc's run: create, then start at once, in one process and one
// trace, "glassbox run" — a trace for each cost a second trace's start and
// write, ~2.5 ms. created hears of the created container before its start
// (the caller's --pid-file); warning: a poststart hook failed.
func (e *Engine) RunOCI(s *specs.Spec, opts stages.Options, created func(*stages.Run) error) (r *stages.Run, warning, err error) {
	r, tr, err := createOCI(s, opts, "run")
	if err == nil {
		err = created(r)
	}
	if err == nil {
		warning, err = startCreated(r.Container, tr)
	}
	if err := tr.End(r, err, 0); err != nil {
		return nil, warning, err
	}
	return r, warning, nil
}

// createOCI runs the stages up to the created state under a trace named
// command, which the caller ends.
func createOCI(s *specs.Spec, opts stages.Options, command string) (*stages.Run, *trace.Run, error) {
	tr, err := trace.StartRun(s, opts.Root, opts.ID, trace.Options{Command: command})
	if err != nil {
		return nil, nil, err
	}
	if tr != nil { // nil: GLASSBOX_TRACE=off, and nobody reads the steps
		opts.After = tr.Stage
	}
	r, err := stages.New(s, opts)
	if err != nil {
		return nil, tr, err
	}
	if tr != nil {
		tr.SetRun(r)
		r.Traceparent = tr.Traceparent()
	}
	if err := makeExecFifo(r.Path(ExecFifo), s); err != nil {
		r.Remove()
		return r, tr, err
	}
	fifo, err := os.OpenFile(r.Path(ExecFifo), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		r.Remove()
		return r, tr, err
	}
	r.Opts.OCI.ExecFifo = fifo
	err = r.Start()
	fifo.Close()
	return r, tr, err
}

// StartOCI lets a created container's init go on to its program; its spans
// join create's trace. warning: a poststart hook failed (the program runs:
// the spec says to warn).
func (e *Engine) StartOCI(c *container.Container) (warning, err error) {
	if c.Traceparent != "" {
		os.Setenv("TRACEPARENT", c.Traceparent)
	}
	tr := trace.Container(trace.Options{Command: "start"}, c, c.Spec, e.Root)
	defer func() { tr.EndLifecycle(err) }()
	return startCreated(c, tr)
}

// startCreated opens the exec FIFO, which lets the created init execve(2)
// its program, records the container running and runs the poststart hooks.
func startCreated(c *container.Container, tr *trace.Run) (warning, err error) {
	start := time.Now()
	err = releaseInit(c, c.Name)
	tr.Step("open exec.fifo O_RDONLY: the init's open(O_WRONLY) returns, it writes a byte and execve(2)s", start, err)
	if err != nil {
		return nil, err
	}
	c.Status, c.Started = container.Running, time.Now().UTC()
	if err := c.Save(); err != nil {
		return nil, err
	}
	if h := c.Spec.Hooks; h != nil && len(h.Poststart) > 0 {
		warning = stages.Resume(c, stages.Options{IO: stages.IO{Stderr: os.Stderr}}, 0).PoststartHooks()
	}
	return warning, nil
}

// WaitOCI waits for the program of a container this process created and
// started (glassbox-runc run), and removes it: its exit code.
func (e *Engine) WaitOCI(r *stages.Run) (int, error) {
	code := r.Wait()
	r.Opts.After, r.Opts.Remove = nil, true // the trace ended with create
	return code, r.Teardown()
}

// makeExecFifo makes the FIFO the init waits on for start. Under a user
// namespace it belongs to the container's root, which is who opens it then.
func makeExecFifo(path string, s *specs.Spec) error {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", path, err)
	}
	if spec.HasNamespace(s, specs.UserNamespace) {
		uid, _ := spec.HostID(s.Linux.UIDMappings, 0)
		gid, _ := spec.HostID(s.Linux.GIDMappings, 0)
		if err := os.Chown(path, int(uid), int(gid)); err != nil {
			return fmt.Errorf("chown %s to the container's root: %w", path, err)
		}
	}
	return nil
}

// releaseInit reads the created init's byte from the exec FIFO.
func releaseInit(c *container.Container, id string) error {
	fifo, err := os.OpenFile(filepath.Join(c.Dir, ExecFifo), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("cannot start container %q: %w", id, err)
	}
	defer fifo.Close()
	fds := []unix.PollFd{{Fd: int32(fifo.Fd()), Events: unix.POLLIN}}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if n, _ := unix.Poll(fds, 100); n > 0 {
			var b [1]byte
			if n, _ := fifo.Read(b[:]); n == 1 {
				break
			}
		}
		if !c.Alive() {
			return fmt.Errorf("cannot start container %q: its init (pid %d) is gone", id, c.Pid)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot start container %q: its init (pid %d) did not answer on %s in 10 s", id, c.Pid, ExecFifo)
		}
	}
	return os.Remove(filepath.Join(c.Dir, ExecFifo))
}

// SignalCgroup signals every process listed in the container's cgroup.
func SignalCgroup(c *container.Container, sig unix.Signal) error {
	pids, err := (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).Procs()
	if err != nil {
		return fmt.Errorf("read cgroup.procs of %s: %w", c.Name, err)
	}
	var errs []error
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill(%d, %s): %w", pid, unix.SignalName(sig), err))
		}
	}
	return errors.Join(errs...)
}
