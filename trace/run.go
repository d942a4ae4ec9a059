package trace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/internal/step"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
)

// processStart is when this process began (about: when the package was
// initialised), the start of a command's root span.
var processStart = time.Now()

// observing: this process has a kernel observer subscribed.
var observing atomic.Bool

// Dir is where a state root keeps its traces.
func Dir(root string) string { return filepath.Join(root, "traces") }

// Options are a command's tracing flags.
type Options struct {
	Command  string    // the root span's name: "glassbox <command>" (default run)
	Off      bool      // --trace=false
	Show     bool      // --trace: print the trace's overview at the end
	Full     bool      // --trace=full: every step and kernel event instead
	Endpoint string    // --otlp-endpoint
	Start    time.Time // the root span's start, if not when this process began
	Request  *Request  // the API request the command serves, if a daemon's
}

// Request is an Engine API request, as the trace of the command that serves
// it records it: its route, and the client's trace context (a traceparent
// header), which the trace continues — so docker → daemon → stages → kernel
// is one trace.
type Request struct {
	Method, Route string
	Header        http.Header // traceparent, tracestate
}

type requestKey struct{}

// WithRequest puts an API request in ctx, for the commands it leads to.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestOf is the API request ctx carries, or nil.
func RequestOf(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// Run connects one command on a container — a run, an exec, a stop — to its
// trace: the stages' timings become spans, the kernel observer watches the
// process and the container's cgroup, and the trace is written once at the
// end. A nil *Run (tracing off) does nothing.
type Run struct {
	sess       *Session
	obs        *Observer // nil when the kernel cannot be observed
	run        *stages.Run
	show, full bool
	execEnd    time.Time         // when the user's program started
	namespaces map[string]string // "pid" -> "4026532190", as the steps observed them
	cgroupID   uint64            // the container's cgroup2 id, once the cgroup stage made it
	cgroupDir  string
	finished   bool          // the trace is written
	path       string        // where
	failed     stages.Timing // the stage that failed, if one did
	events     []KernelEvent // what the kernel observer saw
	lost       error         // why the trace of a failed command was not written
}

// OffByEnv: GLASSBOX_TRACE=off (or false, 0) turns every trace off, for
// callers that want none — an OCI caller cannot pass --trace=false.
func OffByEnv() bool {
	switch os.Getenv("GLASSBOX_TRACE") {
	case "off", "false", "0":
		return true
	}
	return false
}

// StartRun starts the trace of a command on container id in state root
// root; nil when tracing is off.
func StartRun(s *specs.Spec, root, id string, o Options) (*Run, error) {
	if o.Off || OffByEnv() {
		return nil, nil
	}
	name := "glassbox run"
	if o.Command != "" {
		name = "glassbox " + o.Command
	}
	cfg := Config{Dir: Dir(root), Name: name, Endpoint: o.Endpoint, Start: cmp.Or(o.Start, processStart)}
	var attrs []attribute.KeyValue
	if r := o.Request; r != nil {
		cfg.Start = time.Now() // not the daemon's start
		cfg.Parent = propagation.MapCarrier{"traceparent": r.Header.Get("traceparent"), "tracestate": r.Header.Get("tracestate")}
		cfg.Server = true
		attrs = append(attrs, attribute.String("http.request.method", r.Method), attribute.String("http.route", r.Route))
	}
	attrs = append(attrs, attribute.String("container.id", id), attribute.StringSlice("process.command_args", s.Process.Args),
		attribute.String("glassbox.rootfs", s.Root.Path))
	if name := s.Annotations[spec.ImageNameAnnotation]; name != "" {
		attrs = append(attrs, attribute.String("container.image.name", name), attribute.String("container.image.id", s.Annotations[spec.ImageAnnotation]))
	}
	sess, err := Start(cfg, attrs...)
	if err != nil {
		return nil, err
	}
	// An instrumented program in the container continues this trace.
	if !spec.HasEnv(s.Process.Env, "TRACEPARENT") {
		s.Process.Env = append(s.Process.Env, "TRACEPARENT="+sess.Traceparent())
	}
	t := &Run{sess: sess, show: o.Show, full: o.Full, namespaces: map[string]string{}}
	// The observer watches this process by its pid, one run at a time: a
	// second command traced at once by the same process (the daemon's
	// requests) goes without kernel events rather than take the first's.
	if !observing.CompareAndSwap(false, true) {
		sess.SetAttributes(attribute.String("glassbox.observer.skipped", "another command of this process was being observed"))
	} else if t.obs, err = StartObserver(os.Getpid()); err != nil {
		observing.Store(false)
		fmt.Fprintf(os.Stderr, "glassbox: kernel observer unavailable, the trace has no kernel events: %v\n", err)
	}
	return t, nil
}

// Stage records a stage as a span (the runner calls it as each one ends).
func (t *Run) Stage(st stages.Timing) {
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

// Started publishes the keys that tie kernel-side observations to this
// container: the init's host pid, its namespace inodes, its cgroups.
func (t *Run) Started(r *stages.Run) {
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

// Exited records the container's program, from its execve to its exit.
func (t *Run) Exited(code int) {
	if t == nil {
		return
	}
	t.sess.Span("container", t.execEnd, time.Now(), nil, attribute.Int("process.exit.code", code))
}

// StopObserving ends the kernel observation and places its events.
func (t *Run) StopObserving() {
	if t == nil || t.obs == nil {
		return
	}
	events, lost := t.obs.Stop()
	t.events = events
	t.sess.Kernel(events, lost, t.obs.Probes)
	t.obs = nil
	observing.Store(false)
}

// End closes the trace, reports an export problem, and prints it for --trace.
// It returns runErr, saying so when the trace could not be written either:
// a failed command prints one line (a full disk fails both).
func (t *Run) End(r *stages.Run, runErr error, code int) error {
	if t == nil {
		return runErr
	}
	t.Write(r, runErr, code)
	if t.show && t.path != "" {
		if f, err := Load(t.path); err == nil {
			v := TerminalView(os.Stderr)
			v.Full = t.full
			Show(os.Stderr, f, v)
		}
	}
	if runErr != nil && t.lost != nil {
		return fmt.Errorf("%w (and no trace: %v)", runErr, t.lost)
	}
	return runErr
}

// Write closes the trace and writes it to the store (once), with what the
// container used.
func (t *Run) Write(r *stages.Run, runErr error, code int) {
	if t == nil || t.finished {
		return
	}
	t.StopObserving()
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

// FailureReport explains a failed run in one screen, below its one-line
// error: the stage, the kernel call and its errno, the last system calls of
// that stage as the kernel saw them, the hint, and where the trace is.
func (t *Run) FailureReport(err error) string {
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
			text := se.Msg
			var errno syscall.Errno
			if errors.As(se.Unwrap(), &errno) {
				text = errno.Error()
			}
			fmt.Fprintf(&b, " → %s (%s)", se.Errno, text)
		}
		b.WriteString("\n")
	}
	var seen []KernelEvent
	for _, ev := range t.events {
		if ev.Call == "" || t.failed.Stage == "" {
			continue
		}
		if w := t.sess.place(ev); w != nil && w.stage == t.failed.Stage { // where the trace puts it
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
func (t *Run) finish(err error, attrs ...attribute.KeyValue) string {
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

// Container traces a command on an existing container (exec, stop, kill,
// rm, a detached container's exit) as a root span of its own, with the kernel
// events of this process and of the container's cgroup. A trace that cannot
// start is a warning, and nil.
func Container(o Options, c *container.Container, s *specs.Spec, root string) *Run {
	tr, err := StartRun(s, root, c.ID, o)
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
	// An exec, a stop, an exit: each acts on the process a run started.
	tr.Link(c.Traceparent, "the run of its process")
	if id, _, err := (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).ID(); tr.obs != nil && err == nil && id != 0 {
		tr.obs.WatchCgroup(id)
	}
	return tr
}

// Lifecycle traces a command that starts no process (stop, kill, rm), as
// part of the API request ctx carries, if any. The Spec is a copy: StartRun
// gives its process a TRACEPARENT.
func Lifecycle(ctx context.Context, command string, c *container.Container, root string) *Run {
	s := specs.Spec{Process: &specs.Process{}, Root: &specs.Root{}} // a record cut short has none
	if c.Spec != nil {
		s = *c.Spec
	}
	p := specs.Process{}
	if s.Process != nil {
		p = *s.Process
	}
	s.Process = &p
	if s.Root == nil {
		s.Root = &specs.Root{}
	}
	return Container(Options{Command: command, Request: RequestOf(ctx)}, c, &s, root)
}

// Step records one step of a lifecycle command, from start to now.
func (t *Run) Step(name string, start time.Time, err error, attrs ...attribute.KeyValue) {
	if t != nil {
		t.sess.Span(stages.StepKind(name), start, time.Now(), err, append(attrs, attribute.String("glassbox.step", name))...)
	}
}

// Steps is Step as a step.Recorder, for what netns and cgroupsv2 report.
func (t *Run) Steps() step.Recorder {
	return func(name string, start time.Time, err error, kv ...string) {
		var attrs []attribute.KeyValue
		for i := 0; i+1 < len(kv); i += 2 {
			attrs = append(attrs, attribute.String(kv[i], kv[i+1]))
		}
		t.Step(name, start, err, attrs...)
	}
}

// EndLifecycle closes a lifecycle command's trace.
func (t *Run) EndLifecycle(err error, attrs ...attribute.KeyValue) {
	if t != nil {
		t.StopObserving()
		t.finish(err, attrs...)
		if t.lost != nil {
			fmt.Fprintln(os.Stderr, "glassbox: trace:", t.lost)
		}
	}
}

// SetRun ties the trace to the run it follows, once the runner has one.
func (t *Run) SetRun(r *stages.Run) {
	if t != nil {
		t.run = r
		if r.Name != "" { // a failed run's trace is found by it too
			t.sess.SetAttributes(attribute.String("container.name", r.Name))
		}
	}
}

// Traceparent is the W3C traceparent of the trace's root span.
func (t *Run) Traceparent() string { return t.sess.Traceparent() }

// Link links the trace to another (a traceparent), saying why.
func (t *Run) Link(traceparent, why string) {
	if t != nil {
		t.sess.Link(traceparent, why)
	}
}

// SetExecEnd says when the container's program started, for Exited (a
// detached container's exit is traced by another process).
func (t *Run) SetExecEnd(at time.Time) {
	if t != nil {
		t.execEnd = at
	}
}
