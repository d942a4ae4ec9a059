package integration

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cilium/ebpf"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/trace"
)

// loadTrace returns the only trace in the test's state root.
func (e *env) loadTrace() *trace.File {
	e.t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json"))
	if len(files) != 1 {
		e.t.Fatalf("want one trace file, found %v", files)
	}
	f, err := trace.Load(files[0])
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// byName indexes spans; children lists each span's children in start order.
func spanIndex(f *trace.File) (byName map[string]trace.Span, children map[string][]trace.Span) {
	byName, children = map[string]trace.Span{}, map[string][]trace.Span{}
	for _, s := range f.Spans() {
		if _, dup := byName[s.Label()]; !dup {
			byName[s.Label()] = s
		}
		children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
	}
	return byName, children
}

func childNamed(children map[string][]trace.Span, parent trace.Span, prefix string) (trace.Span, bool) {
	for _, c := range children[parent.SpanID] {
		if strings.HasPrefix(c.Label(), prefix) {
			return c, true
		}
	}
	return trace.Span{}, false
}

func TestTraceOfARun(t *testing.T) {
	e := newEnv(t)
	out := e.container(nil, "sh", "-c", "echo $TRACEPARENT")
	f := e.loadTrace()
	root, ok := f.Root()
	if !ok || root.Name != "glassbox run" {
		t.Fatalf("root span %q", root.Name)
	}
	if id := root.Attr("container.id"); len(id) != 64 {
		t.Errorf("root span container.id = %q", id)
	}
	if root.Attr("process.command_args") != "sh -c echo $TRACEPARENT" || root.Attr("process.exit.code") != "0" {
		t.Errorf("root attributes: args %q exit %q", root.Attr("process.command_args"), root.Attr("process.exit.code"))
	}
	for _, key := range []string{"process.pid", "glassbox.ns.pid.inode", "glassbox.ns.mnt.inode", "glassbox.ns.net.inode", "glassbox.ns.cgroup.inode", "glassbox.cgroup.paths"} {
		if root.Attr(key) == "" {
			t.Errorf("root span lacks correlation key %s", key)
		}
	}

	// The container continues the run's trace.
	tp := strings.Split(strings.TrimSpace(out), "-")
	if len(tp) != 4 || tp[1] != root.TraceID {
		t.Errorf("TRACEPARENT in the container %q does not carry trace id %s", out, root.TraceID)
	}

	byName, children := spanIndex(f)
	// Stages, in order, under the root, inside its time.
	var names []string
	prevStart := root.StartTime()
	for _, s := range children[root.SpanID] {
		if s.Attr("glassbox.kernel") == "true" {
			continue // what the kernel saw glassbox do before the first stage
		}
		names = append(names, s.Label())
		if s.StartTime().Before(prevStart) || s.EndTime().After(root.EndTime()) {
			t.Errorf("span %s [%v, %v] is out of order or outside the run", s.Label(), s.StartTime(), s.EndTime())
		}
		prevStart = s.StartTime()
	}
	if got := strings.Join(names, " "); got != "rootfs cgroup unshare network mount exec container teardown" {
		t.Errorf("stage spans: %s", got)
	}

	// Kernel steps under the stage that made them, by the process that made them.
	initPid := root.Attr("process.pid")
	steps := []struct{ stage, step, pid string }{
		{"rootfs", "mount overlay", ""},
		{"cgroup", "mkdir ", ""},
		{"unshare", "unshare CLONE_NEWCGROUP", initPid},
		{"network", "RTM_NEWLINK lo up", ""},
		{"mount", "mount proc on /proc", initPid},
		{"mount", "pivot_root", initPid},
		{"exec", "sethostname", initPid},
		{"exec", "capset", initPid},
		{"exec", "execve /bin/sh", initPid},
		{"teardown", "umount2 overlay", ""},
	}
	// Where there is a cgroup2 tree the init is born in its cgroup there
	// (clone3 CLONE_INTO_CGROUP); in v1 trees because the cloning thread
	// moved itself there (tasks=0). Its pid is written nowhere.
	mode, _ := cgroupsv2.Detect()
	if mode != cgroupsv2.Legacy {
		steps = append(steps, struct{ stage, step, pid string }{"unshare", "clone3 CLONE_NEW", ""})
	} else {
		steps = append(steps, struct{ stage, step, pid string }{"unshare", "clone CLONE_NEW", ""})
	}
	if mode != cgroupsv2.Unified {
		steps = append(steps, struct{ stage, step, pid string }{"unshare", "write tasks=0 in ", ""})
	}
	if step, ok := childNamed(children, byName["unshare"], "write cgroup.procs="); ok {
		t.Errorf("the init was moved into its cgroup (%s), not born there", step.Label())
	}
	for _, c := range steps {
		step, ok := childNamed(children, byName[c.stage], c.step)
		if !ok {
			t.Errorf("no step %q under stage %s", c.step, c.stage)
			continue
		}
		want := c.pid
		if want == "" {
			want = "not " + initPid // the host side
		}
		if got := step.Attr("process.pid"); (c.pid != "" && got != c.pid) || (c.pid == "" && got == initPid) {
			t.Errorf("step %q: process.pid %s, want %s", step.Label(), got, want)
		}
		st := byName[c.stage]
		if step.StartTime().Before(st.StartTime()) || step.EndTime().After(st.EndTime()) {
			t.Errorf("step %q [%v, %v] lies outside stage %s [%v, %v]", step.Label(),
				step.StartTime(), step.EndTime(), c.stage, st.StartTime(), st.EndTime())
		}
	}
	// glassbox wires the network namespace while the init starts
	// (stages.Stage.WhileInitWorks): the network stage begins before the
	// unshare stage, which waits for the init, ends.
	if n, u := byName["network"], byName["unshare"]; !n.StartTime().Before(u.EndTime()) {
		t.Errorf("the network stage [%v, %v] did not run while the init started (unshare [%v, %v])", n.StartTime(), n.EndTime(), u.StartTime(), u.EndTime())
	}
	if clone, ok := childNamed(children, byName["unshare"], "clone"); ok {
		if !strings.Contains(clone.Label(), "CLONE_NEWNS") || !strings.Contains(clone.Label(), "CLONE_NEWPID") || !strings.Contains(clone.Label(), "CLONE_NEWNET") {
			t.Errorf("clone step should show the namespace flags: %q", clone.Label())
		}
	}
	if m, ok := childNamed(children, byName["mount"], "mount proc on /proc"); ok {
		if m.Attr("glassbox.mount.flags") != "MS_NOSUID|MS_NODEV|MS_NOEXEC" {
			t.Errorf("mount step flags %q", m.Attr("glassbox.mount.flags"))
		}
	}
}

func TestTraceOfAFailure(t *testing.T) {
	e := newEnv(t)
	r := e.run("", e.runArgs([]string{"-v", "/nonexistent:/data"}, "true")...)
	if r.code != 125 {
		t.Fatalf("exit %d", r.code)
	}
	f := e.loadTrace()
	root, _ := f.Root()
	if root.Status == nil || root.Status.Code != 2 || !strings.Contains(root.Status.Message, "stage mount") {
		t.Errorf("root span status %+v, want the stage error", root.Status)
	}
	byName, _ := spanIndex(f)
	if m := byName["mount"]; m.Status == nil || m.Status.Code != 2 {
		t.Errorf("the mount stage span should be an error: %+v", m.Status)
	}
	if _, ran := byName["exec"]; ran {
		t.Error("no exec span should exist after a mount failure")
	}
}

func TestTraceOffAndViewers(t *testing.T) {
	e := newEnv(t)
	e.container([]string{"--trace=false"}, "true")
	if files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json")); len(files) != 0 {
		t.Errorf("--trace=false wrote %v", files)
	}
	r := e.run("", e.runArgs([]string{"--trace"}, "true")...)
	if r.code != 0 || !strings.Contains(r.stderr, "· glassbox run ·") || !strings.Contains(r.stderr, "\n  mount ") || strings.Count(r.stderr, "\n") > 24 {
		t.Errorf("--trace should print the overview on stderr, a row per stage:\n%s", r.stderr)
	}
	root, _ := e.loadTrace().Root()
	ls := e.run("", "trace", "ls")
	if !strings.Contains(ls.stdout, root.TraceID[:16]) || !strings.Contains(ls.stdout, root.Attr("container.id")[:12]) {
		t.Errorf("trace ls:\n%s", ls.stdout)
	}
	show := e.run("", "trace", "show", "--full", root.Attr("container.id")[:8])
	for _, want := range []string{"trace " + root.TraceID[:16], "rootfs", "mount overlay", "execve", "teardown"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("trace show lacks %q:\n%s", want, show.stdout)
		}
	}
	if strings.Contains(show.stdout, "\x1b[") {
		t.Error("trace show to a pipe must not print colour codes")
	}
	if r := e.run("", e.runArgs([]string{"--trace=full"}, "true")...); r.code != 0 || !strings.Contains(r.stderr, "pivot_root") {
		t.Errorf("--trace=full should print every step on stderr:\n%s", r.stderr)
	}
}

// receiver is an OTLP trace receiver on loopback, over HTTP and gRPC, built on
// the OTLP protocol's own definitions.
type receiver struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string][]*tracepb.Span      // trace id -> its spans
	res   map[string]*resourcepb.Resource // trace id -> the resource that sent them
}

func (rc *receiver) add(req *collectorpb.ExportTraceServiceRequest) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				id := hex.EncodeToString(s.TraceId)
				rc.spans[id] = append(rc.spans[id], s)
				rc.res[id] = rs.Resource
			}
		}
	}
}

func (rc *receiver) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	rc.add(req)
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collectorpb.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	rc.add(&req)
	out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (rc *receiver) received(traceID string) ([]*tracepb.Span, *resourcepb.Resource) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.spans[traceID], rc.res[traceID]
}

func TestOTLPExport(t *testing.T) {
	rc := &receiver{spans: map[string][]*tracepb.Span{}, res: map[string]*resourcepb.Resource{}}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: rc}
	go hs.Serve(httpLn)
	defer hs.Close()
	gs := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(gs, rc)
	go gs.Serve(grpcLn)
	defer gs.Stop()

	for _, c := range []struct {
		name string
		env  []string
		args []string
	}{
		{"http/protobuf via OTEL_EXPORTER_OTLP_ENDPOINT", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + httpLn.Addr().String()}, nil},
		{"grpc via OTEL_EXPORTER_OTLP_PROTOCOL", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + grpcLn.Addr().String(), "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"}, nil},
		{"http via --otlp-endpoint", nil, []string{"--otlp-endpoint", "http://" + httpLn.Addr().String()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			// A run that fails at its exec stage: error statuses, and the
			// exception events that record the error, travel too.
			cmd := exec.Command(glassbox, e.runArgs(c.args, "/no/such/program")...)
			cmd.Env = append(append(os.Environ(), "GLASSBOX_ROOT="+e.root), c.env...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 127 || strings.Contains(string(out), "OTLP") {
				t.Fatalf("want exit 127 and no OTLP warning: %v: %s", err, out)
			}
			stored := e.loadTrace()
			root, _ := stored.Root()
			var got []*tracepb.Span
			var res *resourcepb.Resource
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if got, res = rc.received(root.TraceID); len(got) > 0 {
					break
				}
			}
			// What the collector has is the stored trace, span for span:
			// names, ids, parents, times, kinds, attributes, events, links.
			want := map[string]trace.Span{}
			for _, s := range stored.Spans() {
				want[s.SpanID] = s
			}
			if len(got) != len(want) {
				t.Errorf("the collector received %d spans of trace %s; the stored trace has %d", len(got), root.TraceID, len(want))
			}
			events := 0
			for _, g := range got {
				events += len(g.Events)
				w, ok := want[hex.EncodeToString(g.SpanId)]
				switch {
				case !ok:
					t.Errorf("received span %q is not in the stored trace", g.Name)
				case g.Name != w.Name || hex.EncodeToString(g.ParentSpanId) != w.ParentSpanID || int(g.Kind) != w.Kind ||
					strconv.FormatUint(g.StartTimeUnixNano, 10) != w.Start || strconv.FormatUint(g.EndTimeUnixNano, 10) != w.End ||
					len(g.Attributes) != len(w.Attributes) || len(g.Events) != len(w.Events) || len(g.Links) != len(w.Links) ||
					(w.Status == nil) != (g.Status == nil) || w.Status != nil && (int(g.Status.Code) != w.Status.Code || g.Status.Message != w.Status.Message):
					t.Errorf("received span %q (parent %x, kind %d, %d–%d, %d attributes, %d events, %d links, status %v) differs from the stored %q (parent %s, kind %d, %s–%s, %d attributes, %d events, %d links, status %+v)",
						g.Name, g.ParentSpanId, g.Kind, g.StartTimeUnixNano, g.EndTimeUnixNano, len(g.Attributes), len(g.Events), len(g.Links), g.Status,
						w.Name, w.ParentSpanID, w.Kind, w.Start, w.End, len(w.Attributes), len(w.Events), len(w.Links), w.Status)
				}
			}
			if events == 0 {
				t.Error("no span event (the failed stage's exception) reached the collector")
			}
			var service string
			for _, kv := range res.GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.Value.GetStringValue()
				}
			}
			if service != "glassbox" {
				t.Errorf("service.name %q, want glassbox", service)
			}
		})
	}
}

// glassbox-otlp holds nothing of the container's: a detached run's monitor
// makes the container's lock and stdio inheritable for the shim it becomes,
// and its trace's export must start before that, or the helper would keep
// the lock (and rm waiting) for as long as a collector makes it wait.
func TestOTLPExportHoldsNothingOfTheContainer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A collector that takes the connections and never answers, until the
	// check is done: then it hangs up, and later exports fail at once.
	var mu sync.Mutex
	var conns []net.Conn
	hangUp := func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}
	defer hangUp()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	e := newEnv(t)
	cmd := exec.Command(glassbox, "run", "-d", "-i", "--rootfs", rootfs, "--", "sleep", "30")
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+ln.Addr().String(), "OTEL_EXPORTER_OTLP_TIMEOUT=3000")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run -d: %v %s", err, out)
	}
	id := strings.TrimSpace(string(out))
	helper := filepath.Join(filepath.Dir(glassbox), "glassbox-otlp")
	helpers := func() (procs []string) {
		all, _ := filepath.Glob("/proc/[0-9]*/exe")
		for _, p := range all {
			if exe, _ := os.Readlink(p); exe == helper {
				procs = append(procs, filepath.Dir(p))
			}
		}
		return procs
	}
	defer func() {
		hangUp() // the monitor's export fails now, and it becomes the shim
		for deadline := time.Now().Add(6 * time.Second); time.Now().Before(deadline) && len(helpers()) > 0; {
			time.Sleep(20 * time.Millisecond)
		}
		e.run("", "kill", id)
		e.run("", "rm", "-f", id)
	}()
	var seen []string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && seen == nil; time.Sleep(20 * time.Millisecond) {
		for _, p := range helpers() {
			fds, _ := filepath.Glob(filepath.Join(p, "fd", "*"))
			for _, fd := range fds {
				target, _ := os.Readlink(fd)
				seen = append(seen, target)
			}
		}
	}
	if seen == nil {
		t.Fatal("no glassbox-otlp seen exporting the detached run's trace")
	}
	for _, target := range seen {
		if strings.HasPrefix(target, e.root) {
			t.Errorf("glassbox-otlp holds %s, a file of the container's", target)
		}
	}
}

func TestOTLPExportFailureIsAWarning(t *testing.T) {
	e := newEnv(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cmd := exec.Command(glassbox, e.runArgs(nil, "sh", "-c", "exit 4")...)
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+addr, "OTEL_EXPORTER_OTLP_TIMEOUT=1000")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 {
		t.Errorf("an unreachable collector must not change the exit code: %v", err)
	}
	if !strings.Contains(string(out), "glassbox: trace: OTLP export to") {
		t.Errorf("expected a one-line warning about the export, got %q", out)
	}
	e.loadTrace() // the local trace is still written
}

// The kernel's own view sits under the stage and step that caused it, with
// decoded arguments.
func TestKernelEvents(t *testing.T) {
	e := newEnv(t)
	r := e.run("", e.runArgs([]string{"--pids-limit", "64"}, "true")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	f := e.loadTrace()
	root, _ := f.Root()
	if mode := root.Attr("glassbox.observer.mode"); mode == "" {
		t.Fatalf("no kernel observer in the trace (stderr: %s)", r.stderr)
	}
	if lost := root.Attr("glassbox.observer.lost"); lost != "0" {
		t.Errorf("%s kernel events lost", lost)
	}
	t.Logf("observer: %s mode, %s events", root.Attr("glassbox.observer.mode"), root.Attr("glassbox.observer.events"))
	spans := f.Spans()
	stage := stageFinder(f)
	calls := []struct{ stage, call string }{
		{"rootfs", `mount("overlay", "`},
		{"cgroup", "cgroup_mkdir "},
		{"unshare", "unshare(CLONE_NEWCGROUP) = 0"},
		{"mount", `mount("proc", "`},
		{"mount", `pivot_root(".", ".") = 0`},
		{"mount", `umount2(".", MNT_DETACH) = 0`},
		{"exec", "sethostname("},
		{"exec", "prctl(PR_SET_NO_NEW_PRIVS, 1) = 0"},
		{"exec", `execve("/bin/true") = 0`},
		{"teardown", "cgroup_rmdir "},
	}
	switch mode, _ := cgroupsv2.Detect(); mode {
	case cgroupsv2.Unified: // born in the cgroup: no attach
		calls = append(calls, struct{ stage, call string }{"unshare", "clone3({flags: CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNET|CLONE_VM|CLONE_VFORK|CLONE_PIDFD|CLONE_INTO_CGROUP, cgroup: "})
	case cgroupsv2.Hybrid: // born in the cgroup2 tree's cgroup, attached in the v1 trees
		calls = append(calls, struct{ stage, call string }{"unshare", "clone3({flags: CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNET|CLONE_VM|CLONE_VFORK|CLONE_PIDFD|CLONE_INTO_CGROUP, cgroup: "},
			struct{ stage, call string }{"unshare", "cgroup_attach_task pid "})
	default:
		calls = append(calls, struct{ stage, call string }{"unshare", "clone(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNET"},
			struct{ stage, call string }{"unshare", "cgroup_attach_task pid "})
	}
	for _, c := range calls {
		found := false
		for _, s := range spans {
			if strings.HasPrefix(s.Attr("glassbox.kernel.call"), c.call) {
				if got := stage(s); got != c.stage {
					t.Errorf("kernel event %q sits under %q, want %q", s.Attr("glassbox.kernel.call"), got, c.stage)
				}
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no kernel event %q", c.call)
		}
	}
	// Where the kernel has kprobes, the observer looks inside functions too.
	_, kerr := os.Stat("/sys/kernel/tracing/kprobe_events")
	if mode := root.Attr("glassbox.observer.mode"); (kerr == nil) != strings.Contains(mode, "kprobe") {
		t.Errorf("kprobe_events exists=%v, but the observer's mode is %q", kerr == nil, mode)
	}
	if os.Getenv("GLASSBOX_VMTEST") == "1" && root.Attr("glassbox.observer.mode") != "tracepoint+kprobe" {
		t.Error("on the stock kernel the kprobe probes must attach, not be skipped")
	}
	if kerr == nil {
		kernelFunctionEvents(t, spans, stage, "kprobe")
	} else if unwatched := root.Attr("glassbox.observer.unwatched"); !strings.Contains(unwatched, "register_netdevice") {
		t.Errorf("without kprobes (and fentry refused) register_netdevice cannot be watched, but the trace says unwatched=%q", unwatched)
	}
	// The run unsubscribed: the shared, pinned maps hold nothing of it.
	noStaleSubscriptions(t)
	// The proc mount's kernel event sits under the step that made it.
	for _, s := range spans {
		if strings.HasPrefix(s.Attr("glassbox.kernel.call"), `mount("proc"`) {
			for _, p := range spans {
				if p.SpanID == s.ParentSpanID && p.Label() != "mount proc on /proc" {
					t.Errorf("mount(proc) sits under %q, want the step \"mount proc on /proc\"", p.Label())
				}
			}
		}
	}
}

// stageFinder returns a function naming the stage a span sits under.
func stageFinder(f *trace.File) func(trace.Span) string {
	root, _ := f.Root()
	stageOf := map[string]string{} // span id -> the stage it sits under
	parent := map[string]string{}
	for _, s := range f.Spans() {
		parent[s.SpanID] = s.ParentSpanID
		if s.ParentSpanID == root.SpanID {
			stageOf[s.SpanID] = s.Name
		}
	}
	return func(s trace.Span) string {
		for id := s.SpanID; id != ""; id = parent[id] {
			if name, ok := stageOf[id]; ok {
				return name
			}
		}
		return ""
	}
}

// kernelFunctionEvents checks what only probes inside kernel functions see
// in a run with --pids-limit 64 on the default bridge: the clone that creates
// the network namespace registers its lo device, the network stage its veth,
// and the cgroup stage writes the limit file.
func kernelFunctionEvents(t *testing.T, spans []trace.Span, stage func(trace.Span) string, mode string) {
	t.Helper()
	for _, c := range []struct{ prefix, suffix, source, stage string }{
		{"register_netdevice lo", "", mode + " register_netdevice", "unshare"},
		{"register_netdevice gb", "", mode + " register_netdevice", "network"}, // the veth's host end
		{"cgroup_file_write ", `/pids.max ← "64"`, mode + " cgroup_file_write", "cgroup"},
	} {
		found := false
		for _, s := range spans {
			call := s.Attr("glassbox.kernel.call")
			if !strings.HasPrefix(call, c.prefix) || !strings.Contains(call, c.suffix) {
				continue
			}
			found = true
			if got := stage(s); got != c.stage {
				t.Errorf("%q sits under %q, want %s", call, got, c.stage)
			}
			if src := s.Attr("glassbox.kernel.source"); src != c.source {
				t.Errorf("%q seen by %q, want %q", call, src, c.source)
			}
			break
		}
		if !found {
			t.Errorf("%s mode: no kernel event %q…%q", mode, c.prefix, c.suffix)
		}
	}
}

// With kprobes left out (GLASSBOX_PROBE_MODES), kernel functions are watched
// through fentry, where the kernel allows it.
func TestFentryMode(t *testing.T) {
	e := newEnv(t)
	reset := func() {
		if r := e.run("", "trace", "off"); r.code != 0 {
			t.Fatalf("trace off: %s", r.stderr)
		}
	}
	reset()
	t.Cleanup(reset) // the next run attaches the default modes again
	t.Setenv("GLASSBOX_PROBE_MODES", "fentry")
	if r := e.run("", e.runArgs([]string{"--pids-limit", "64"}, "true")...); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	f := e.loadTrace()
	root, _ := f.Root()
	if mode := root.Attr("glassbox.observer.mode"); mode != "tracepoint+fentry" {
		if os.Getenv("GLASSBOX_VMTEST") == "1" {
			t.Fatalf("on the stock kernel fentry must attach; mode %q, probes %s", mode, root.Attr("glassbox.observer.probes"))
		}
		t.Skipf("this kernel refuses fentry (mode %s; unwatched: %s)", mode, root.Attr("glassbox.observer.unwatched"))
	}
	kernelFunctionEvents(t, f.Spans(), stageFinder(f), "fentry")
}

func TestTraceExports(t *testing.T) {
	e := newEnv(t)
	e.container(nil, "true")
	root, _ := e.loadTrace().Root()
	chrome := e.run("", "trace", "export", root.TraceID[:10], "--format", "chrome")
	var doc struct {
		TraceEvents []struct {
			Name string   `json:"name"`
			Ph   string   `json:"ph"`
			Ts   float64  `json:"ts"`
			Dur  *float64 `json:"dur"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal([]byte(chrome.stdout), &doc); err != nil {
		t.Fatalf("chrome export is not JSON: %v\n%s", err, chrome.stderr)
	}
	names := map[string]bool{}
	for _, ev := range doc.TraceEvents {
		if ev.Ph == "X" {
			names[ev.Name] = true
			if ev.Ts <= 0 || ev.Dur == nil || *ev.Dur < 0 { // a complete event without dur is malformed, even at 0
				t.Errorf("event %q has ts %v dur %v", ev.Name, ev.Ts, ev.Dur)
			}
		}
	}
	for _, want := range []string{"glassbox run", "rootfs", "pivot_root", "teardown"} {
		if !names[want] {
			t.Errorf("chrome export lacks %q", want)
		}
	}
	otlp := e.run("", "trace", "export", root.TraceID[:10])
	if !strings.Contains(otlp.stdout, `"resourceSpans"`) || !strings.Contains(otlp.stdout, root.TraceID) {
		t.Errorf("otlp-json export: %.200s", otlp.stdout)
	}
	out := filepath.Join(t.TempDir(), "t.html")
	if r := e.run("", "trace", "html", root.TraceID[:10], "-o", out); r.code != 0 {
		t.Fatalf("trace html: %s", r.stderr)
	}
	page := string(must(os.ReadFile(out)))
	for _, want := range []string{"<!DOCTYPE html>", root.TraceID, `"name":"pivot_root"`} {
		if !strings.Contains(page, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	for _, external := range []string{"http://", "https://", "src=\""} {
		if strings.Contains(page, external) {
			t.Errorf("html must be self-contained, found %q", external)
		}
	}
	if r := e.run("", "trace", "export", root.TraceID[:10], "--format", "svg"); r.code == 0 || !strings.Contains(r.stderr, "expected otlp-json or chrome") {
		t.Errorf("unknown format: exit %d %q", r.code, r.stderr)
	}
}

// On a terminal, a live line shows the stage in progress and is erased before
// the program writes anything; without a terminal nothing of it appears.
func TestLiveStageLine(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) is not installed here; it provides the terminal this test needs")
	}
	e := newEnv(t)
	line := strings.Join(append([]string{glassbox}, e.runArgs(nil, "echo", "program-output")...), " ")
	cmd := exec.Command("script", "-qec", line, "/dev/null")
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	for _, want := range []string{"\r\x1b[K▸ rootfs: ", "\r\x1b[K▸ mount: ", "\r\x1b[Kprogram-output"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(string(out), "program-output\r\x1b[K") || strings.Contains(string(out), "program-output\r\n\r\x1b[K") {
		t.Errorf("the live line was erased after the program wrote: %q", out)
	}
	e.noState()
}

// Runs at the same time share the kernel probes but each trace holds only its
// own kernel events (one ring buffer per run).
func TestKernelEventsOfConcurrentRuns(t *testing.T) {
	e := newEnv(t)
	const n = 4
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(glassbox, e.runArgs(nil, "sh", "-c", fmt.Sprintf("sleep 0.2; echo run-%d", i))...)
			cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
			if out, err := cmd.CombinedOutput(); err != nil || string(out) != fmt.Sprintf("run-%d\n", i) {
				t.Errorf("run %d: %v %q", i, err, out)
			}
		}()
	}
	wg.Wait()
	mode, _ := cgroupsv2.Detect()
	files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json"))
	if len(files) != n {
		t.Fatalf("%d traces for %d runs", len(files), n)
	}
	for _, path := range files {
		f, err := trace.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := f.Root()
		var execs []string
		for _, s := range f.Spans() {
			if call := s.Attr("glassbox.kernel.call"); strings.HasPrefix(call, "execve(") {
				execs = append(execs, call)
			}
		}
		// Its init's execve of sh, then sh's of sleep (busybox runs applets
		// through /proc/self/exe), whatever the other runs did. Where the init
		// is born in the container's cgroup2 cgroup (CLONE_INTO_CGROUP), the
		// cgroup filter also sees the clone child exec glassbox-init.
		want := 2
		if mode != cgroupsv2.Legacy {
			want = 3
		}
		if len(execs) != want {
			t.Errorf("trace %s (%s events, %s lost): execve events %q, want %d: its init, its sh and its sleep",
				root.TraceID[:8], root.Attr("glassbox.observer.events"), root.Attr("glassbox.observer.lost"), execs, want)
		}
	}
}

// A run killed while traced leaves its slot's ring buffer full of its own
// events and its routes (its pid, its container's cgroup) in the maps. The
// next run to claim the slot skips those events, and clears the routes
// without waiting for gc.
func TestObserverSlotOfAKilledRun(t *testing.T) {
	e := newEnv(t)
	cmd, _ := startGlassbox(t, e, e.runArgs(nil, "sh", "-c", "echo ready; exec sleep 27183")...)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	defer e.run("", "gc") // the killed container; gc would sweep the observer too, so not before
	r := e.run("", e.runArgs(nil, "true")...)
	if r.code != 0 {
		t.Fatalf("run after a killed run: exit %d %s", r.code, r.stderr)
	}
	killed := strconv.Itoa(cmd.Process.Pid)
	for _, s := range e.loadTrace().Spans() {
		if s.Attr("glassbox.kernel") == "true" && s.Attr("process.pid") == killed {
			t.Fatalf("the trace holds an event of the killed run's glassbox (pid %s): %s", killed, s.Attr("glassbox.kernel.call"))
		}
	}
	noStaleSubscriptions(t)
}

// noStaleSubscriptions checks that the observer's shared, pinned maps hold
// nothing of a glassbox process that has ended: every slot with an owner is
// locked by a live process, and every watched pid and cgroup routes to the
// run that owns its slot now. Live runs may be there: the host is shared
// (another state root's runs, a detached container's monitor writing its
// trace).
func noStaleSubscriptions(t *testing.T) {
	t.Helper()
	open := func(name string) *ebpf.Map {
		m, err := ebpf.LoadPinnedMap(filepath.Join(trace.PinDir(), name), nil)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("pinned map %s: %v", name, err)
		}
		return m
	}
	type slot struct {
		Run  uint32
		_    uint32
		Lost uint64
	}
	var problems []string
	// A run that ends meanwhile takes its entries out in an order a reader
	// can catch half-way: look again, a few times, before calling it stale.
	for range 10 {
		problems = nil
		slots := open("slots")
		if slots == nil {
			return // the observer is not attached
		}
		owners := map[uint32]bool{}
		var n uint32
		var s slot
		for it := slots.Iterate(); it.Next(&n, &s); {
			if s.Run == 0 {
				continue
			}
			owners[s.Run] = true
			// Its lock is held while its run lives (taking it here is harmless:
			// a run claiming meanwhile takes the next slot).
			if f, err := os.Open(filepath.Join(trace.PinDir(), fmt.Sprintf("slot-%d", n))); err == nil {
				if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
					problems = append(problems, fmt.Sprintf("slot %d: owned by run %x, which has ended", n, s.Run))
				}
				f.Close()
			}
		}
		slots.Close()
		for _, name := range []string{"tgids", "cgroups"} {
			m := open(name)
			var key []byte
			var run uint32
			for it := m.Iterate(); it.Next(&key, &run); {
				if !owners[run] {
					problems = append(problems, fmt.Sprintf("%s: %x routes to run %x, which owns no slot", name, key, run))
				}
			}
			m.Close()
		}
		if len(problems) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("stale subscriptions in the observer's pinned maps: %v", problems)
}

// A state root keeps its newest traces (GLASSBOX_TRACE_KEEP), and
// GLASSBOX_TRACE=off writes none — for glassbox-runc's callers too.
func TestTraceRetentionAndOff(t *testing.T) {
	e := newEnv(t)
	run := func(env ...string) {
		t.Helper()
		cmd := exec.Command(glassbox, e.runArgs(nil, "true")...)
		cmd.Env = append(append(os.Environ(), "GLASSBOX_ROOT="+e.root), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run: %v %s", err, out)
		}
	}
	traces := func() int {
		files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json"))
		return len(files)
	}
	for range 5 {
		run("GLASSBOX_TRACE_KEEP=3")
	}
	if n := traces(); n != 3 {
		t.Errorf("GLASSBOX_TRACE_KEEP=3, 5 runs: %d traces kept", n)
	}
	run("GLASSBOX_TRACE=off")
	if n := traces(); n != 3 {
		t.Errorf("GLASSBOX_TRACE=off wrote a trace: %d", n)
	}
	beSubreaper(t)
	bundle := ociBundle(t, func(s map[string]any) { s["process"].(map[string]any)["args"] = []string{"true"} })
	cmd := exec.Command(glassbox, "oci", "--root", e.root, "run", "--bundle", bundle, "quiet")
	cmd.Env = append(os.Environ(), "GLASSBOX_TRACE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("glassbox-runc run: %v %s", err, out)
	}
	if n := traces(); n != 3 {
		t.Errorf("glassbox-runc run with GLASSBOX_TRACE=off wrote a trace: %d", n)
	}
	e.noState()
}

// A backend indexes spans by name: ten different containers' traces use few
// names — stages, step kinds, system calls — with paths, ids and values in
// attributes; no child starts before its parent; the resource says what made
// the trace, the root what ran.
func TestSpanNamesAreFew(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	data := t.TempDir()
	e.ok("network", "create", "few")
	for _, args := range [][]string{
		{"run", "--rm", "busybox", "true"},
		{"run", "--rm", "-p", strconv.Itoa(freePort(t)) + ":80", "busybox", "true"},
		{"run", "--rm", "--network", "none", "-u", "1000:1000", "busybox", "id"},
		{"run", "--rm", "-v", data + ":/data", "--tmpfs", "/t", "--read-only", "busybox", "true"},
		{"run", "--rm", "-e", "A=B", "-w", "/tmp", "-h", "named", "busybox", "env"},
		{"run", "--rm", "--cap-drop", "ALL", "-m", "64m", "--pids-limit", "10", "busybox", "true"},
		{"run", "--rm", "--init", "busybox", "true"},
		{"run", "--rm", "--network", "few", "busybox", "true"},
		{"run", "--rm", "--rootfs", rootfs, "--", "true"},
	} {
		e.ok(args...)
	}
	e.run("", "run", "--rm", "busybox", "/nonexistent") // fails at exec
	id := e.ok("run", "-d", "busybox", "sleep", "60")
	e.ok("exec", id, "true")
	e.ok("rm", "-f", id)
	e.ok("network", "rm", "few")

	files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json"))
	if len(files) < 12 {
		t.Fatalf("%d traces, want one per command", len(files))
	}
	names := map[string]bool{}
	word := regexp.MustCompile(`^(glassbox [a-z]+|[A-Za-z0-9_.-]+)$`)
	for _, path := range files {
		f, err := trace.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]trace.Span{}
		for _, s := range f.Spans() {
			byID[s.SpanID] = s
		}
		for _, s := range f.Spans() {
			names[s.Name] = true
			if !word.MatchString(s.Name) {
				t.Errorf("span name %q (%s): want one word, the detail in attributes", s.Name, s.Label())
			}
			if p, ok := byID[s.ParentSpanID]; ok && s.StartTime().Before(p.StartTime()) {
				t.Errorf("%s (%s) starts %v before its parent %s", s.Name, s.Label(), p.StartTime().Sub(s.StartTime()), p.Name)
			}
		}
		root, _ := f.Root()
		if args := root.Attributes; root.Name == "glassbox run" {
			for _, kv := range args {
				if kv.Key == "process.command_args" && kv.Value.Array == nil {
					t.Errorf("process.command_args is %q, want an array (semantic conventions)", kv.Value.Text())
				}
			}
		}
		res := map[string]string{}
		for _, kv := range f.ResourceSpans[0].Resource.Attributes {
			res[kv.Key] = kv.Value.Text()
		}
		if res["service.name"] != "glassbox" || res["service.version"] == "" || res["host.name"] == "" || res["container.runtime.name"] != "glassbox" {
			t.Errorf("resource %v: want service.name, service.version, host.name, container.runtime.name", res)
		}
	}
	if len(names) > 60 {
		t.Errorf("%d distinct span names in %d traces, want at most 60: %v", len(names), len(files), slices.Sorted(maps.Keys(names)))
	}
	t.Logf("%d distinct span names in %d traces", len(names), len(files))
	e.noState()
}

// --trace prints one screen: at 80 columns no line wraps, every stage is
// named with its time, and the whole fits 24 rows; at 120 columns it uses
// them. --full and --stage draw every span, or one stage's; a failed stage
// shows in its row.
func TestTraceOverviewFitsOneScreen(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	for _, columns := range []int{80, 120} {
		cmd := e.cmd("run", "--rm", "--trace", "busybox", "echo", "the program's own output")
		cmd.Env = append(cmd.Env, "COLUMNS="+strconv.Itoa(columns))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || string(out) != "the program's own output\n" {
			t.Fatalf("run --trace: %v %q %s", err, out, stderr.String())
		}
		lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
		if columns == 80 && len(lines) > 23 {
			t.Errorf("at 80 columns the overview has %d lines, want at most 23 (24 with the program's):\n%s", len(lines), stderr.String())
		}
		widest := 0
		for _, l := range lines {
			widest = max(widest, utf8.RuneCountInString(l))
		}
		if widest >= columns || columns == 120 && widest < 100 {
			t.Errorf("at %d columns the widest line has %d: want it within the width, and to use it:\n%s", columns, widest, stderr.String())
		}
		for _, stage := range []string{"rootfs", "cgroup", "unshare", "network", "mount", "exec", "container", "teardown"} {
			if !regexp.MustCompile(`(?m)^  ` + stage + ` +[0-9]+\.[0-9]{2} `).MatchString(stderr.String()) {
				t.Errorf("at %d columns the overview has no row for %s with its time:\n%s", columns, stage, stderr.String())
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json"))
	f, err := trace.Load(files[0])
	if err != nil {
		t.Fatal(err)
	}
	root, _ := f.Root()
	full := e.ok("trace", "show", "--full", root.TraceID[:12])
	mount := e.ok("trace", "show", "--stage", "mount", root.TraceID[:12])
	if n := strings.Count(full, "\n"); n < 60 || !strings.Contains(full, "▸ pivot_root") {
		t.Errorf("trace show --full: %d lines, want every step and kernel call", n)
	}
	if !strings.Contains(mount, "pivot_root") || strings.Contains(mount, "mount overlay") {
		t.Errorf("trace show --stage mount: want the mount stage's spans alone:\n%s", mount)
	}
	if r := e.run("", "trace", "show", "--stage", "nope", root.TraceID[:12]); r.code == 0 || !strings.Contains(r.stderr, `no stage "nope" in this trace (it has rootfs, cgroup`) {
		t.Errorf("trace show --stage nope: exit %d %q", r.code, r.stderr)
	}
	bad := e.run("", "run", "--rm", "--trace", "busybox", "/nonexistent")
	if !regexp.MustCompile(`(?m)^  exec .*✗ `).MatchString(bad.stderr) {
		t.Errorf("the overview of a run that failed at exec: want its row to say so:\n%s", bad.stderr)
	}
	e.noState()
}

// trace diff names the call that failed in one run and not the other, the
// stages the failed run never reached, and — between --network bridge and
// none — the network steps only one run made; two runs of one config differ
// in nothing but their times.
func TestTraceDiff(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	diff := func(a, b string) string {
		cmd := e.cmd("trace", "diff", a, b)
		cmd.Env = append(cmd.Env, "COLUMNS=200")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("trace diff %s %s: %v %s", a, b, err, out)
		}
		return string(out)
	}
	e.ok("run", "--name", "ok", "--tmpfs", "/x:size=1m", "busybox", "true")
	if r := e.run("", "run", "--name", "broken", "--tmpfs", "/x:size=abc", "busybox", "true"); r.code == 0 {
		t.Fatal("a tmpfs with size=abc mounted")
	}
	out := diff("ok", "broken")
	for _, want := range []string{"failed at mount", "✗ failed in B", "kernel calls that failed in B only: 1", `mount: mount("tmpfs", "……/rootfs/x", "tmpfs", MS_NOSUID|MS_NODEV|MS_NOEXEC) = -1 EINVAL`, "not run in B: exec, container, teardown"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace diff ok broken lacks %q:\n%s", want, out)
		}
	}
	e.ok("run", "--name", "none", "--network", "none", "busybox", "true")
	e.ok("run", "--name", "again", "--tmpfs", "/x:size=1m", "busybox", "true")
	out = diff("ok", "none")
	if !strings.Contains(out, "steps in A only") || !strings.Contains(out, "network: RTM_NEWROUTE default via ") || !strings.Contains(out, "network: RTM_NEWLINK veth ") || strings.Contains(out, "failed") {
		t.Errorf("trace diff of bridge and none: want the bridge's network steps in A only, nothing failed:\n%s", out)
	}
	if out := diff("ok", "again"); strings.Contains(out, " only") {
		t.Errorf("two runs of one config differ in more than their times:\n%s", out)
	}
	if r := e.run("", "trace", "diff", "ok", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, `no trace for "nosuch"`) {
		t.Errorf("trace diff with a missing trace: exit %d %q", r.code, r.stderr)
	}
	e.ok("rm", "ok", "none", "again")
	e.noState()
}
