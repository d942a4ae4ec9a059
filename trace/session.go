// Package trace makes every glassbox command an OpenTelemetry trace: a root span
// for the command, a span per stage, a child span per step (each mount, each
// cgroup file, each netlink request) with the timestamps the process that did
// it measured. Every trace is written to the state root as OTLP JSON; when the
// standard OTEL_* variables (or --otlp-endpoint) name a collector, it is sent
// there too, over OTLP/HTTP or OTLP/gRPC, by glassbox-otlp (otlp.go).
package trace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	mathrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/glassbox-dev/glassbox/internal/buildinfo"
	"github.com/glassbox-dev/glassbox/stages"
)

// Config says where a command's trace goes.
type Config struct {
	Dir      string // where the OTLP JSON file is written (<state root>/traces)
	Name     string // root span name, e.g. "glassbox run"
	Endpoint string // --otlp-endpoint; otherwise the OTEL_EXPORTER_OTLP_* variables
	Start    time.Time
	// Parent is the W3C trace context the trace continues (a daemon's
	// request's traceparent header); empty: TRACEPARENT from the environment.
	Parent propagation.MapCarrier
	// Server: the root span serves a request (a daemon's); otherwise it is
	// internal, a command's own work.
	Server bool
}

// Session is one command's trace.
type Session struct {
	tp     *sdktrace.TracerProvider
	tracer oteltrace.Tracer
	store  *fileExporter
	ctx    context.Context // carries the root span
	root   oteltrace.Span
	remote string // where OTLP export goes ("grpc http://…"), "" if nowhere

	windows []window // stages, steps and other spans, to place kernel events in
}

// window is a span's interval; a kernel event inside it (and, for a step, made
// by the same process) becomes its child.
type window struct {
	ctx        context.Context
	stage      string
	start, end time.Time
	// pid: a step's process, or glassbox for a host-side stage; 0 for the
	// other stages, which hold every process's events.
	pid int
}

// Start begins the trace. A TRACEPARENT in glassbox's own environment (set by
// an instrumented caller, such as containerd or a CI system) becomes the parent.
func Start(cfg Config, attrs ...attribute.KeyValue) (*Session, error) {
	// The state root above is searchable (see container.Create); the
	// traces are the owner's.
	if err := os.MkdirAll(filepath.Dir(cfg.Dir), 0o711); err != nil {
		return nil, fmt.Errorf("trace store: %w", err)
	}
	if err := os.Mkdir(cfg.Dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("trace store: %w", err)
	}
	// Who made the trace: glassbox (service.name; OTEL_SERVICE_NAME renames
	// it) of this version, on this host, as a container runtime.
	host, _ := os.Hostname()
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(serviceName()), semconv.ServiceVersion(buildinfo.Version()), semconv.HostName(host),
		semconv.ContainerRuntimeName("glassbox"), semconv.ContainerRuntimeVersion(buildinfo.Version())))
	if err != nil {
		return nil, err
	}
	keep, err := RetentionFromEnv()
	if err != nil {
		return nil, err
	}
	s := &Session{store: &fileExporter{dir: cfg.Dir, keep: keep}}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSyncer(s.store),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	}
	if s.remote, err = otlpTarget(cfg.Endpoint); err != nil {
		return nil, err
	}
	s.tp = sdktrace.NewTracerProvider(opts...)
	s.tracer = s.tp.Tracer("glassbox")
	var carrier propagation.TextMapCarrier = envCarrier{}
	if cfg.Parent != nil {
		carrier = cfg.Parent
	}
	parent := propagation.TraceContext{}.Extract(context.Background(), carrier)
	kind := oteltrace.SpanKindInternal
	if cfg.Server {
		kind = oteltrace.SpanKindServer
	}
	s.ctx, s.root = s.tracer.Start(parent, cfg.Name, oteltrace.WithTimestamp(cfg.Start), oteltrace.WithAttributes(attrs...), oteltrace.WithSpanKind(kind))
	return s, nil
}

func serviceName() string {
	if n := os.Getenv("OTEL_SERVICE_NAME"); n != "" {
		return n
	}
	return "glassbox"
}

// otlpTarget says where the trace is exported, as "protocol endpoint", when
// a collector is configured: --otlp-endpoint, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_TRACES_EXPORTER=otlp (the SDK's default
// localhost endpoint). The protocol comes from
// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL: grpc or http/protobuf (the default).
// OTEL_TRACES_EXPORTER=none turns export off. Refused here, in one line, is
// what the exporter could not use: it would log it and send to localhost.
func otlpTarget(flagEndpoint string) (string, error) {
	kind := os.Getenv("OTEL_TRACES_EXPORTER")
	if flagEndpoint != "" {
		// --otlp-endpoint means what OTEL_EXPORTER_OTLP_ENDPOINT means (a base
		// URL; /v1/traces is appended for HTTP), so it is handed over as that
		// — to glassbox-otlp too, which inherits the environment.
		os.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", flagEndpoint)
		os.Unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	}
	endpoint := firstEnv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	if kind == "none" || (endpoint == "" && kind != "otlp") {
		return "", nil
	}
	if err := checkEndpoint(endpoint); err != nil {
		source := "--otlp-endpoint"
		if flagEndpoint == "" {
			source = "OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT"
		}
		return "", fmt.Errorf("%s %q: %w", source, endpoint, err)
	}
	protocol := firstEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	switch protocol {
	case "grpc":
	case "", "http/protobuf":
		protocol = "http/protobuf"
	default:
		return "", fmt.Errorf("OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL %q: glassbox exports over grpc or http/protobuf", protocol)
	}
	if endpoint == "" {
		endpoint = "the OTLP default endpoint"
	}
	return protocol + " " + endpoint, nil
}

// checkEndpoint refuses an endpoint the SDK could not use: it would log the
// error and send to its default localhost endpoint instead.
func checkEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil // OTEL_TRACES_EXPORTER=otlp alone: the SDK's default
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return errors.New("expected a collector URL like http://127.0.0.1:4318")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("port %s: expected 1-65535", p)
		}
	}
	return nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// envCarrier reads the W3C trace context from the environment (TRACEPARENT,
// TRACESTATE), the convention for passing it to a child process.
type envCarrier struct{}

func (envCarrier) Get(key string) string { return os.Getenv(strings.ToUpper(key)) }
func (envCarrier) Set(string, string)    {}
func (envCarrier) Keys() []string        { return []string{"traceparent", "tracestate"} }

// TraceID is the trace's id, as hex.
func (s *Session) TraceID() string { return s.root.SpanContext().TraceID().String() }

// Traceparent is the W3C traceparent of the root span, for the container's
// environment: an instrumented program inside continues this trace.
func (s *Session) Traceparent() string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(s.ctx, c)
	return c["traceparent"]
}

// Link links the root span to another trace's span, given by its W3C
// traceparent, saying why (glassbox.link: "first run"); nothing if it is
// malformed or of this very trace.
func (s *Session) Link(traceparent, why string) {
	sc := oteltrace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent}))
	if !sc.IsValid() || sc.TraceID() == s.root.SpanContext().TraceID() {
		return
	}
	s.root.AddLink(oteltrace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("glassbox.link", why)}})
}

// SetAttributes adds attributes to the root span (the container id, say, once known).
func (s *Session) SetAttributes(attrs ...attribute.KeyValue) { s.root.SetAttributes(attrs...) }

// Stage records a finished stage: a span for it and one per step beneath.
func (s *Session) Stage(t stages.Timing) {
	// A stage's span holds its steps, whoever timed them: the init's clock
	// reads may fall a little outside the host's (a child never starts
	// before its parent). Kernel events are placed by the host's own
	// times, which the observer's clock agrees with.
	start, end := t.Start, t.End
	for _, st := range t.Steps {
		start, end = minTime(start, time.Unix(0, st.Start)), maxTime(end, time.Unix(0, st.End))
	}
	ctx, span := s.tracer.Start(s.ctx, t.Stage, oteltrace.WithTimestamp(start),
		oteltrace.WithAttributes(attribute.String("glassbox.stage", t.Stage)))
	w := window{ctx: ctx, stage: t.Stage, start: t.Start, end: t.End}
	if st := stages.ByName(t.Stage); st != nil && st.Container == nil {
		// A host-side stage holds glassbox's own calls only: the network
		// stage runs while the init starts, whose calls are the unshare
		// stage's.
		w.pid = os.Getpid()
	}
	s.windows = append(s.windows, w)
	for _, st := range t.Steps {
		// Named by its kind (mount, write, RTM_NEWLINK), the detail an
		// attribute: span names stay few, for a backend to index.
		attrs := []attribute.KeyValue{attribute.String("glassbox.step", st.Name), attribute.Int("process.pid", st.Pid)}
		for k, v := range st.Attrs {
			attrs = append(attrs, attribute.String(k, v))
		}
		stepStart, stepEnd := time.Unix(0, st.Start), time.Unix(0, st.End)
		cctx, child := s.tracer.Start(ctx, st.Kind(), oteltrace.WithTimestamp(stepStart), oteltrace.WithAttributes(attrs...))
		if st.Err != "" {
			child.SetStatus(codes.Error, st.Err)
		}
		child.End(oteltrace.WithTimestamp(stepEnd))
		s.windows = append(s.windows, window{ctx: cctx, stage: t.Stage, start: stepStart, end: stepEnd, pid: st.Pid})
	}
	endSpan(span, t.Err, end)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Span records an interval that is not a stage, such as the program's run.
func (s *Session) Span(name string, start, end time.Time, err error, attrs ...attribute.KeyValue) {
	ctx, span := s.tracer.Start(s.ctx, name, oteltrace.WithTimestamp(start), oteltrace.WithAttributes(attrs...))
	endSpan(span, err, end)
	s.windows = append(s.windows, window{ctx: ctx, start: start, end: end})
}

// Kernel places what the kernel observer saw: each event becomes a span (a
// system call, from entry to exit) under the step of the same process that
// was running when it began, else under the stage, else under the root.
func (s *Session) Kernel(events []KernelEvent, lost uint64, probes []ProbeMode) {
	var modes, unwatched []string
	for _, p := range probes {
		if p.Mode != "" {
			modes = append(modes, p.Target+": "+p.Mode)
		} else {
			modes = append(modes, p.Target+": not attached ("+p.Why+")")
			unwatched = append(unwatched, p.Target)
		}
	}
	s.root.SetAttributes(
		attribute.String("glassbox.observer.mode", ObserverMode(probes)),
		attribute.StringSlice("glassbox.observer.probes", modes),
		attribute.String("glassbox.observer.unwatched", strings.Join(unwatched, ", ")),
		attribute.Int("glassbox.observer.events", len(events)),
		attribute.Int64("glassbox.observer.lost", int64(lost)),
	)
	if len(events) > maxKernelSpans {
		// A program that storms system calls must not make a trace nobody can
		// open; the count of what was left out is on the root span.
		s.root.SetAttributes(attribute.Int("glassbox.observer.omitted", len(events)-maxKernelSpans))
		events = events[:maxKernelSpans]
	}
	spans := make([]Span, 0, len(events))
	for _, ev := range events {
		parent := s.root.SpanContext()
		if w := s.place(ev); w != nil {
			parent = oteltrace.SpanContextFromContext(w.ctx)
		}
		spans = append(spans, kernelSpan(parent, ev))
	}
	s.store.add(spans)
}

// kernelSpan is an event as a span of the trace (a system call, from entry to
// exit), written straight into the trace file: through the OTel SDK, a
// span object, its attributes' copy and the exporter's conversion back cost
// each of a run's ~200 events ~8 µs on the run's critical path. Named by the
// system call or event (mount, sched_process_exec); the decoded call, with
// its arguments, is an attribute.
func kernelSpan(parent oteltrace.SpanContext, ev KernelEvent) Span {
	var id oteltrace.SpanID
	for !id.IsValid() {
		binary.LittleEndian.PutUint64(id[:], mathrand.Uint64())
	}
	sp := Span{
		TraceID:      parent.TraceID().String(),
		SpanID:       id.String(),
		ParentSpanID: parent.SpanID().String(),
		Name:         ev.Name,
		Kind:         int(oteltrace.SpanKindInternal),
		Start:        strconv.FormatInt(ev.Start.UnixNano(), 10),
		End:          strconv.FormatInt(ev.End.UnixNano(), 10),
		Attributes: keyValues([]attribute.KeyValue{
			attribute.Bool("glassbox.kernel", true),
			attribute.String("glassbox.kernel.event", ev.Name),
			attribute.String("glassbox.kernel.call", ev.Call),
			attribute.String("glassbox.kernel.source", ev.Source),
			attribute.Int("process.pid", ev.Pid),
			attribute.Int("thread.id", ev.Tid),
		}),
	}
	if ev.Err != "" {
		sp.Status = &Status{Code: 2, Message: ev.Err}
	}
	return sp
}

// place finds where a kernel event belongs: the step of the same process
// that was running when it began, else the stage (a host-side stage only
// for glassbox's own calls), else nil (the root).
func (s *Session) place(ev KernelEvent) *window {
	var best *window
	for i := range s.windows {
		w := &s.windows[i]
		if ev.Start.Before(w.start) || ev.Start.After(w.end) || (w.pid != 0 && w.pid != ev.Pid) {
			continue
		}
		if best == nil || (w.pid != 0 && best.pid == 0) || (w.pid == best.pid && w.start.After(best.start)) {
			best = w
		}
	}
	return best
}

// maxKernelSpans bounds the kernel events one trace holds (the first ones:
// the stages, which is what a trace is for).
const maxKernelSpans = 20000

// shortCall keeps a decoded call readable in a viewer: long quoted paths
// keep their last part ("…/rootfs/proc").
func shortCall(call string) string {
	parts := strings.Split(call, `"`)
	for i := 1; i < len(parts); i += 2 {
		if len(parts[i]) > 28 {
			parts[i] = "…" + parts[i][len(parts[i])-24:]
		}
	}
	return strings.Join(parts, `"`)
}

func endSpan(span oteltrace.Span, err error, end time.Time) {
	if err != nil {
		span.RecordError(err, oteltrace.WithTimestamp(end))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(oteltrace.WithTimestamp(end))
}

// End ends the root span and delivers the trace: the OTLP JSON file is
// written, and sent to the collector (if any) within the export timeout. It
// returns the file's path.
func (s *Session) End(err error, attrs ...attribute.KeyValue) (string, error) {
	s.root.SetAttributes(attrs...)
	endSpan(s.root, err, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout())
	defer cancel()
	shutdownErr := s.tp.Shutdown(ctx)
	if shutdownErr == nil && s.remote != "" && s.store.data != nil {
		// Longer than the exporter's own timeout, so that glassbox-otlp
		// says why it failed before it is stopped.
		ectx, ecancel := context.WithTimeout(context.Background(), exportTimeout()+2*time.Second)
		shutdownErr = export(ectx, s.store.data)
		ecancel()
	}
	if shutdownErr != nil && s.remote != "" {
		shutdownErr = fmt.Errorf("OTLP export to %s failed (the trace is kept in %s): %w", s.remote, s.store.dir, shutdownErr)
	}
	return s.store.path, errors.Join(s.store.err, shutdownErr)
}

// exportTimeout honours OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds), default 10 s.
func exportTimeout() time.Duration {
	if ms, err := strconv.Atoi(firstEnv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return 10 * time.Second
}
