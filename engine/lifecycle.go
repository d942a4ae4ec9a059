package engine

// Stop, Kill, Wait and Remove act on a container from outside the glassbox
// that holds it: a signal to its init (kill(2), after the pid's start time in
// /proc/<pid>/stat says it is still that process), a wait for the init on a
// pidfd (pidfd_open(2): readable when the process exits), and a wait for the
// holder's teardown on the container's lock (a blocking flock(2), which the
// kernel grants once the holder has closed the file). Each is a command's
// trace of its own: "glassbox stop", with a span per step.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// ErrNotRunning: the container's init is not running (Kill, Stop's caller).
var ErrNotRunning = errors.New("is not running")

// ErrStillTearingDown: the container's init is dead, and its glassbox has
// not finished tearing it down within Engine.Teardown.
var ErrStillTearingDown = errors.New("its glassbox is still tearing it down")

// Forever is a wait without end that time arithmetic still holds (stop -t -1).
const Forever = 100 * 365 * 24 * time.Hour

// Container finds a container by name, id or unique id prefix.
func (e *Engine) Container(ref string) (*container.Container, error) {
	return container.Find(e.Root, ref)
}

// Running says whether a container's glassbox still holds it (the program
// runs, or its teardown does).
func Running(c *container.Container) bool {
	probe := &container.Container{Dir: c.Dir}
	if err := probe.Lock(); err != nil {
		return errors.Is(err, container.ErrLocked)
	}
	probe.Unlock()
	return false
}

// Stop sends SIGTERM to a running container's init, SIGKILL after grace, and
// returns once its glassbox has torn it down. A container that is not
// running is left as it is, as Docker does.
func (e *Engine) Stop(ctx context.Context, c *container.Container, grace time.Duration) error {
	// No restart policy starts it again (nor one waiting out its back-off).
	os.WriteFile(c.Path(container.StopMark), nil, 0o600)
	if !Running(c) {
		return nil
	}
	sig, wait := spec.StopOf(c.Spec)
	if grace == ContainerGrace {
		grace = wait
	}
	tr := trace.Lifecycle(ctx, "stop", c, e.Root)
	err := e.killAndWait(ctx, tr, c, sig, grace)
	if err == nil {
		stages.Event(c, "stop")
	}
	tr.EndLifecycle(err, exitAttrs(c)...)
	if errors.Is(err, ErrStillTearingDown) {
		err = fmt.Errorf("%w; it goes when that ends: try again later, or glassbox gc if its glassbox was killed", err)
	}
	return err
}

// Restart stops a container (as Stop) and starts it again through every
// stage, over its writable layer; its log goes on.
func (e *Engine) Restart(ctx context.Context, c *container.Container, grace time.Duration) error {
	if err := e.Stop(ctx, c, grace); err != nil {
		return err
	}
	now, err := e.Container(c.ID) // its record after the stop
	if err != nil {
		return err
	}
	return e.Start(ctx, now)
}

// Kill sends sig to a running container's init.
func (e *Engine) Kill(ctx context.Context, c *container.Container, sig unix.Signal) error {
	tr := trace.Lifecycle(ctx, "kill", c, e.Root)
	err := tracedSignal(tr, c, sig)
	tr.EndLifecycle(err)
	return err
}

// Wait waits until a container exits — one created but not started yet,
// until it has been started and exits — and returns its exit code: from its
// record, or, for one removed as it exited (--rm), from what its monitor
// kept for its waiter.
func (e *Engine) Wait(ctx context.Context, c *container.Container) (int, error) {
	poll := newPoll(20 * time.Millisecond)
	for now := c; now.Status == container.Created && !now.OCI; {
		if err := poll.wait(ctx); err != nil {
			return 0, err
		}
		var err error
		if now, err = container.Load(c.Dir); err != nil {
			return 0, fmt.Errorf("container %s was removed before it ran", container.ShortID(c.ID))
		}
	}
	if err := waitGone(ctx, c, Forever); err != nil {
		return 0, err
	}
	done, err := container.Load(c.Dir)
	if err == nil {
		return done.ExitCode, nil
	}
	container.SweepExitCodes(e.Root)
	if code, ok := container.KeptExitCode(e.Root, c.ID); ok {
		return code, nil
	}
	return 0, fmt.Errorf("container %s was removed when it exited (--rm): its exit code went with it", container.ShortID(c.ID))
}

// Remove removes an exited container (its record, writable layer and what
// its record still names); force kills a running one first and waits up to
// Engine.Teardown for its glassbox.
func (e *Engine) Remove(ctx context.Context, ref string, force bool) error {
	c, err := e.Container(ref)
	if err != nil {
		return err
	}
	tr := trace.Lifecycle(ctx, "rm", c, e.Root)
	err = func() error {
		if force && c.Breakpoint != "" {
			// Paused between stages: the run undoes them itself.
			start := time.Now()
			_, err := stages.Control(c.Dir, "abort")
			tr.Step("abort the paused run", start, err)
		}
		if force && Running(c) {
			if err := e.killAndWait(ctx, tr, c, unix.SIGKILL, 0); err != nil {
				if errors.Is(err, ErrStillTearingDown) && c.MarkForRemoval() == nil {
					err = fmt.Errorf("%w; it is removed when that ends (or by glassbox gc)", err)
				}
				return err
			}
		}
		start := time.Now()
		err := c.Lock()
		switch {
		case err == nil:
			err = stages.Cleanup(c)
		case errors.Is(err, container.ErrGone) && force:
			err = nil // run --rm: its glassbox removed it
		case errors.Is(err, container.ErrGone):
			err = fmt.Errorf("container %s: %w (by another rm or gc)", ref, err)
		case errors.Is(err, container.ErrLocked):
			err = fmt.Errorf("container %s is running; stop it first, or rm -f: %w", ref, err)
		}
		tr.Step("remove the record and the writable layer", start, err)
		return err
	}()
	tr.EndLifecycle(err)
	return err
}

// killAndWait sends sig to the container's init, waits up to grace for it to
// die (then SIGKILLs it, and waits up to 10 s more), and then waits up to
// e.Teardown for its glassbox to finish the teardown. Each step is a span of tr.
func (e *Engine) killAndWait(ctx context.Context, tr *trace.Run, c *container.Container, sig unix.Signal, grace time.Duration) error {
	err := tracedSignal(tr, c, sig)
	if err == nil && sig != unix.SIGKILL {
		start := time.Now()
		exited := InitExited(c, grace)
		tr.Step("wait for the init to exit (pidfd)", start, nil, attribute.Bool("glassbox.exited", exited), attribute.String("glassbox.timeout", grace.String()))
		if !exited {
			tracedSignal(tr, c, unix.SIGKILL) // pid 1 of a namespace ignores signals it does not handle
		}
	}
	start := time.Now()
	if !InitExited(c, 10*time.Second) {
		err := fmt.Errorf("container %s did not stop: its init (pid %d) outlived SIGKILL by 10 s; see /proc/%d/stack", container.ShortID(c.ID), c.Pid, c.Pid)
		tr.Step("wait for the init to exit (pidfd)", start, err)
		return err
	}
	tr.Step("wait for the init to exit (pidfd)", start, nil)
	start = time.Now()
	if err := waitGone(ctx, c, e.Teardown); err != nil {
		tr.Step("wait for the teardown (the container's lock)", start, err)
		return fmt.Errorf("container %s stopped, but %w", container.ShortID(c.ID), err)
	}
	tr.Step("wait for the teardown (the container's lock)", start, nil)
	return nil
}

// tracedSignal is signalInit as a span of tr.
func tracedSignal(tr *trace.Run, c *container.Container, sig unix.Signal) error {
	start := time.Now()
	err := signalInit(c, sig)
	if err == nil {
		stages.Event(c, "kill", "signal", strconv.Itoa(int(sig)))
		thawForSignal(c)
	}
	tr.Step(fmt.Sprintf("kill(%d, %s)", c.Pid, unix.SignalName(sig)), start, err, attribute.Int("process.pid", c.Pid))
	return err
}

// signalInit sends sig to the container's init, if the record still names it.
func signalInit(c *container.Container, sig unix.Signal) error {
	if c.Status != container.Running || !c.Alive() {
		return fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNotRunning)
	}
	if err := unix.Kill(c.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill(%d, %s): %w", c.Pid, unix.SignalName(sig), err)
	}
	return nil
}

// exitAttrs is the exit code a stopped container's record holds, for its trace.
func exitAttrs(c *container.Container) []attribute.KeyValue {
	if done, err := container.Load(c.Dir); err == nil && done.Status == container.Exited {
		return []attribute.KeyValue{attribute.Int("process.exit.code", done.ExitCode)}
	}
	return nil // removed on exit (--rm)
}

// waitGone waits until a container's glassbox lets go of it, at most d, or
// until ctx ends: a blocking flock(2) on its lock, which the kernel grants
// once the holder has closed it (its teardown is done). Not a poll: fifty
// `rm -f` polling at once made thousands of wake-ups a second and starved the
// very teardowns they waited for (minutes, on a busy 2-core VM).
func waitGone(ctx context.Context, c *container.Container, d time.Duration) error {
	f, err := os.Open(c.Path("lock"))
	if err != nil {
		return nil // the state directory is gone: run --rm removed it
	}
	got := make(chan error, 1)
	go func() {
		defer f.Close() // not before the flock returns: its descriptor is in use
		got <- unix.Flock(int(f.Fd()), unix.LOCK_EX)
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-got:
		return nil
	case <-timer.C:
		return fmt.Errorf("%w after %s", ErrStillTearingDown, d)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InitExited waits, at most d, for the container's init to die. A pidfd
// (pidfd_open(2)) becomes readable when its process exits; opening it before
// checking the start time rules out a recycled pid.
func InitExited(c *container.Container, d time.Duration) bool {
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

// ContainerGrace asks Stop for the container's own wait before SIGKILL
// (--stop-timeout, else 10 s), as a stop without -t does.
const ContainerGrace time.Duration = -1

// StopGrace reads a stop timeout as Docker does: seconds, or -1 to wait for
// the program however long it takes.
func StopGrace(seconds int) (time.Duration, error) {
	switch {
	case seconds < -1:
		return 0, fmt.Errorf("%d: expected seconds to wait, or -1 to wait without SIGKILL", seconds)
	case seconds == -1 || int64(seconds) > int64(Forever/time.Second):
		return Forever, nil
	}
	return time.Duration(seconds) * time.Second, nil
}
