package engine

// A run in this process: the stages, the wait for the program, the teardown,
// with the trace beside them — glassbox run in the foreground, glassbox start
// -a, and the monitor of a detached container all run a container so. What
// the caller adds — its terminal, the line that shows the stage in progress,
// its signals — comes through RunHooks and stages.Options; what it tells a
// person afterwards comes back in RunResult.

import (
	"fmt"
	"io"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// Console is the caller's side of a container's terminal (stages.Console
// and whatever copies it): attached once the program runs, closed once it has
// exited, discarded if it never ran.
type Console interface {
	Attach(log io.Writer) error // log: where the output is kept too, or nil
	Close()
	Discard()
}

// RunHooks let a caller follow a run.
type RunHooks struct {
	Console Console                       // nil without a terminal
	Created func(*stages.Run)             // the run exists: signals may go to it
	Started func(error)                   // the program runs, or the stages failed
	Running func(*stages.Run, *trace.Run) // after Started(nil); the monitor may become the shim here
	// Detached: the kernel is observed during the stages only — a
	// long-lived container's own system calls are not the trace's subject.
	Detached bool
}

// RunResult is how a run ended, for the caller to say.
type RunResult struct {
	Code     int      // the program's exit status
	Warnings []string // what the teardown left for gc; what the OOM killer did
	// Report, when the stages failed, is the trace's account of the failure
	// (the failing stage and its steps), for a person at a terminal.
	Report string
}

// Run runs s's stages, waits for its program and tears the container down.
// An error is the stages' (the program never ran).
func (e *Engine) Run(s *specs.Spec, opts stages.Options, to trace.Options, h RunHooks) (RunResult, error) {
	// The init's parent-death signal fires when the *thread* that cloned it
	// ends, and Go ends a thread when a goroutine that locked it returns
	// (stages.Join does, and netns helpers could). The stages therefore run
	// on a thread no other goroutine can take, for as long as the run lasts.
	runtime.LockOSThread()
	// Whoever waits to hear how the start went (a detached run's CLI) hears
	// of a failure before the stages too.
	started := func(err error) {
		if h.Started != nil {
			h.Started(err)
		}
	}
	to.Off = to.Off || trace.OffByEnv()
	var tr *trace.Run
	if !to.Off {
		var err error
		if tr, err = trace.StartRun(s, opts.Root, opts.ID, to); err != nil {
			started(err)
			return RunResult{}, err
		}
		opts.After = tr.Stage
		opts.Failed = func(r *stages.Run, err error) { tr.Write(r, err, 0) }
	}
	// Kept (no --rm), a run keeps its output in a log too.
	var kept *outputLog
	logConfig, _ := spec.LogConfigOf(s) // stages.New says what is wrong with it
	if !h.Detached && !opts.Remove {
		var err error
		if kept, err = keepOutput(logConfig, &opts, s.Process.Terminal); err != nil {
			started(err)
			return RunResult{}, tr.End(nil, err, 0)
		}
	}
	r, err := stages.New(s, opts)
	if err != nil {
		kept.abandon()
		err = tr.End(nil, err, 0)
		started(err)
		return RunResult{}, err
	}
	kept.start(r.Container, logConfig)
	if tr != nil {
		tr.SetRun(r)
		r.Traceparent = tr.Traceparent()
		if r.FirstTrace == "" {
			r.FirstTrace = r.Traceparent
		}
		tr.Link(r.FirstTrace, "first run")
	}
	if h.Created != nil {
		h.Created(r)
	}
	err = r.Start()
	kept.started()
	started(err)
	if err != nil {
		if h.Console != nil {
			h.Console.Discard()
		}
		kept.wait()
		err = tr.End(r, err, 0)
		return RunResult{Report: tr.FailureReport(err)}, err
	}
	var out RunResult
	if h.Console != nil {
		if err := h.Console.Attach(kept.terminal()); err != nil {
			out.Warnings = append(out.Warnings, err.Error())
		}
	}
	tr.Started(r)
	if h.Detached {
		tr.StopObserving()
	}
	if h.Running != nil {
		h.Running(r, tr)
	}
	out.Code = r.Wait()
	if h.Console != nil {
		h.Console.Close()
	}
	kept.wait()
	tr.Exited(out.Code)
	if err := r.Teardown(); err != nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("teardown of %s: %v (glassbox gc retries)", container.ShortID(r.ID), err))
	}
	if msg := oomMessage(s, r.Usage, out.Code); msg != "" {
		out.Warnings = append(out.Warnings, msg)
	}
	tr.End(r, nil, out.Code)
	return out, nil
}

// oomMessage explains an exit the OOM killer caused, naming the limit.
func oomMessage(s *specs.Spec, u cgroupsv2.Usage, code int) string {
	if u.OOMKills == 0 {
		return ""
	}
	limit := "no memory limit"
	if res := s.Linux.Resources; res != nil && res.Memory != nil && res.Memory.Limit != nil && *res.Memory.Limit > 0 {
		limit = "memory limit " + HumanBytes(uint64(*res.Memory.Limit))
	}
	if code == 128+int(unix.SIGKILL) {
		return fmt.Sprintf("container was killed by the OOM killer (%s)", limit)
	}
	return fmt.Sprintf("warning: the OOM killer killed %d process(es) in the container (%s)", u.OOMKills, limit)
}

// HumanBytes writes a size the way --memory takes it, in binary units.
func HumanBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.4g %s", v, units[i])
}
