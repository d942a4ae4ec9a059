package trace

import (
	_ "embed"
	"encoding/json"
	"html"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/glassbox-dev/glassbox/docs"
)

// Chrome writes the trace in the Chrome trace event format, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open: one complete ("X") event per
// span, on a track per process, with the span's attributes as args.
func Chrome(w io.Writer, f *File) error {
	type event struct {
		Name string            `json:"name"`
		Cat  string            `json:"cat,omitempty"`
		Ph   string            `json:"ph"`
		Ts   float64           `json:"ts"`            // microseconds
		Dur  *float64          `json:"dur,omitempty"` // a complete ("X") event's, even 0; none for metadata
		Pid  int               `json:"pid"`
		Tid  int               `json:"tid"`
		Args map[string]string `json:"args,omitempty"`
	}
	root, _ := f.Root()
	glassboxPid := 0
	var events []event
	tracks := map[int]string{}
	for _, s := range f.Spans() {
		args := map[string]string{}
		for _, kv := range s.Attributes {
			args[kv.Key] = kv.Value.Text()
		}
		if s.Status != nil && s.Status.Code == 2 {
			args["error"] = s.Status.Message
		}
		cat := spanKind(s, root)
		// Stages and the root sit on glassbox's track; steps and kernel
		// events on the track of the process that made them.
		tid, _ := strconv.Atoi(s.Attr("process.pid"))
		if cat == "run" || cat == "stage" {
			tid = 0
		}
		if s.Attr("glassbox.init.pid") != "" {
			glassboxPid = tid // the clone step: glassbox made it
		}
		tracks[tid] = ""
		dur := float64(s.Duration().Nanoseconds()) / 1e3
		events = append(events, event{Name: s.Label(), Cat: cat, Ph: "X", Pid: 1, Tid: tid,
			Ts: float64(s.StartTime().UnixNano()) / 1e3, Dur: &dur, Args: args})
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Ts < events[j].Ts })
	initPid, _ := strconv.Atoi(root.Attr("process.pid"))
	for tid := range tracks {
		name := "pid " + strconv.Itoa(tid)
		switch tid {
		case 0:
			name = "stages"
		case glassboxPid:
			name = "glassbox (host side), pid " + strconv.Itoa(tid)
		case initPid:
			name = "container init, pid " + strconv.Itoa(tid)
		}
		events = append(events, event{Name: "thread_name", Ph: "M", Pid: 1, Tid: tid, Args: map[string]string{"name": name}})
	}
	events = append(events, event{Name: "process_name", Ph: "M", Pid: 1, Args: map[string]string{"name": root.Name + " " + root.Attr("container.id")}})
	enc := json.NewEncoder(w)
	return enc.Encode(map[string]any{"traceEvents": events, "displayTimeUnit": "ms"})
}

// timelineHTML is the page; HTML fills in its {{.Title}} and {{.Data}}.
//
//go:embed timeline.html
var timelineHTML string

// HTML writes a single self-contained HTML page with the trace as a
// timeline: it opens at the stages, each folded over its steps and kernel
// events; a lane per process shows which side made what; the time axis zooms
// and pans; each stage's chapter (glassbox explain) and a failed run's report
// are one click away. Nothing is fetched from anywhere.
func HTML(w io.Writer, f *File) error {
	root, _ := f.Root()
	type node struct {
		Name     string            `json:"name"`
		Start    float64           `json:"start"` // ms since the root's start
		Dur      float64           `json:"dur"`
		Kind     string            `json:"kind"`
		Error    string            `json:"error,omitempty"`
		Attrs    map[string]string `json:"attrs,omitempty"`
		Children []*node           `json:"children,omitempty"`
	}
	nodes := map[string]*node{}
	spans := f.Spans()
	sort.Slice(spans, func(i, j int) bool { return spans[i].StartTime().Before(spans[j].StartTime()) })
	t0 := root.StartTime()
	processes := map[string]string{}
	if pid := root.Attr("process.pid"); pid != "" {
		processes[pid] = "container init, pid " + pid
	}
	for _, s := range spans {
		n := &node{Name: s.Label(), Start: float64(s.StartTime().Sub(t0).Microseconds()) / 1e3,
			Dur: float64(s.Duration().Microseconds()) / 1e3, Kind: spanKind(s, root), Attrs: map[string]string{}}
		for _, kv := range s.Attributes {
			n.Attrs[kv.Key] = kv.Value.Text()
		}
		if s.Status != nil && s.Status.Code == 2 {
			n.Error = s.Status.Message
		}
		nodes[s.SpanID] = n
		if init := s.Attr("glassbox.init.pid"); init != "" { // the clone step: glassbox made it
			processes[s.Attr("process.pid")] = "glassbox (host side), pid " + s.Attr("process.pid")
			processes[init] = "container init, pid " + init
		}
	}
	// What the kernel saw before the first stage (or between two) is
	// grouped, folded, rather than stray rows among the stages.
	outside := &node{Name: "kernel events outside the stages", Kind: "group"}
	for _, s := range spans {
		n := nodes[s.SpanID]
		switch p := nodes[s.ParentSpanID]; {
		case p == nil:
		case s.ParentSpanID == root.SpanID && n.Kind == "kernel":
			outside.Children = append(outside.Children, n)
		default:
			p.Children = append(p.Children, n)
		}
	}
	top := nodes[root.SpanID]
	if len(outside.Children) > 0 {
		first, last := outside.Children[0], outside.Children[len(outside.Children)-1]
		outside.Start, outside.Dur = first.Start, last.Start+last.Dur-first.Start
		top.Children = append([]*node{outside}, top.Children...)
	}
	chapters := map[string]string{}
	for _, c := range top.Children {
		if page, err := docs.Stages.ReadFile("stages/" + c.Name + ".md"); err == nil && c.Kind == "stage" {
			chapters[c.Name] = string(page)
		}
	}
	t, _ := newTree(f, View{})
	var facts []string
	if id := root.Attr("container.id"); id != "" {
		facts = append(facts, "container "+id[:min(12, len(id))])
	}
	if code := root.Attr("process.exit.code"); code != "" {
		facts = append(facts, "exit "+code)
	}
	if mode := root.Attr("glassbox.observer.mode"); mode != "" {
		facts = append(facts, "kernel events: "+mode+" mode")
	}
	data, err := json.Marshal(map[string]any{
		"root": top, "traceID": root.TraceID, "facts": facts, "processes": processes, "chapters": chapters,
		"notes":   map[string]string{"container": "the program's own run", "teardown": "the stages undone"},
		"failure": t.failureReport(),
	})
	if err != nil {
		return err
	}
	title := root.Name + " " + root.Attr("container.id")
	if len(title) > 40 {
		title = title[:40]
	}
	// json.Marshal escapes <, > and & in strings, so the data cannot close the
	// <script> element it is embedded in. Not html/template: a program that
	// executes a Go template keeps every exported method the linker could
	// otherwise drop (cmd/glassbox/lean.go), and the page has two blanks.
	page := strings.NewReplacer("{{.Title}}", html.EscapeString(title), "{{.Data}}", string(data)).Replace(timelineHTML)
	_, err = io.WriteString(w, page)
	return err
}

// spanKind classifies a span for display: the run, a stage, a step, or an event
// the kernel observer saw (which may sit directly under the run).
func spanKind(s, root Span) string {
	switch {
	case s.SpanID == root.SpanID:
		return "run"
	case s.Attr("glassbox.kernel") == "true":
		return "kernel"
	case s.ParentSpanID == root.SpanID:
		return "stage"
	}
	return "step"
}
