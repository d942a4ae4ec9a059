package trace

// Drawing a trace on a terminal. By default one screen — the overview: a row
// per stage with its time, its slowest step and its kernel events counted,
// then the slowest kernel calls — which fits 80×24 for a simple run, and the
// terminal's width whatever it is. Full, every span: the waterfall of every
// step and kernel event. Stage, one stage's spans in full.

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// View says how to draw a trace.
type View struct {
	Width int // columns (0: 80)
	Color bool
	Full  bool   // every span, not the overview
	Stage string // only this stage, in full
}

// TerminalView is the view for f: its width (COLUMNS, else the terminal's,
// else 80), in colour if it is a terminal.
func TerminalView(f *os.File) View {
	v := View{Width: 80, Color: term.IsTerminal(int(f.Fd()))}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		v.Width = n
	} else if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
		v.Width = w
	}
	return v
}

// ANSI colours for a terminal.
const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	cyan   = "\x1b[36m"
	yellow = "\x1b[33m"
)

// tree is a trace's spans by parent, each list in start order.
type tree struct {
	root     Span
	children map[string][]Span
	t0       time.Time
	total    time.Duration // the axis: the root's time, or more if a span outlives it
	v        View
}

func newTree(f *File, v View) (*tree, bool) {
	root, ok := f.Root()
	if !ok {
		return nil, false
	}
	if v.Width <= 0 {
		v.Width = 80
	}
	v.Width = max(v.Width, 60)
	t := &tree{root: root, children: map[string][]Span{}, t0: root.StartTime(), total: root.Duration(), v: v}
	for _, s := range f.Spans() {
		t.children[s.ParentSpanID] = append(t.children[s.ParentSpanID], s)
		t.total = max(t.total, s.EndTime().Sub(t.t0))
	}
	for _, list := range t.children {
		sort.SliceStable(list, func(i, j int) bool { return list[i].StartTime().Before(list[j].StartTime()) })
	}
	return t, true
}

func (t *tree) paint(code, s string) string {
	if !t.v.Color || code == "" {
		return s
	}
	return code + s + reset
}

// line prints s cut to the width: a terminal wraps a longer one.
func (t *tree) line(w io.Writer, code, s string) {
	fmt.Fprintln(w, t.paint(code, fit(s, t.v.Width-1)))
}

// fit cuts s to n columns, the last an ellipsis; pad fills it to n.
func fit(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:max(n-1, 0)]) + "…"
	}
	return s
}

func pad(s string, n int) string {
	s = fit(s, n)
	return s + strings.Repeat(" ", max(0, n-utf8.RuneCountInString(s)))
}

// bar draws [start, start+d) of the axis in n columns.
func (t *tree) bar(s Span, n int) string {
	total := float64(max(t.total, 1))
	from := int(float64(s.StartTime().Sub(t.t0)) / total * float64(n))
	width := max(1, int(float64(s.Duration())/total*float64(n)))
	from = min(max(from, 0), n-1)
	width = min(width, n-from)
	return strings.Repeat(" ", from) + strings.Repeat("█", width) + strings.Repeat(" ", n-from-width)
}

func failed(s Span) bool { return s.Status != nil && s.Status.Code == 2 }

// wrap breaks s into lines of at most n columns, at spaces where it can.
func wrap(s string, n int) []string {
	var lines []string
	for utf8.RuneCountInString(s) > n {
		r := []rune(s)
		cut := n
		for i := n; i > n/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		lines = append(lines, string(r[:cut]))
		s = strings.TrimLeft(string(r[cut:]), " ")
	}
	return append(lines, s)
}

// Show draws the trace as v says.
func Show(w io.Writer, f *File, v View) error {
	t, ok := newTree(f, v)
	if !ok {
		fmt.Fprintln(w, "empty trace")
		return nil
	}
	t.header(w)
	switch {
	case v.Stage != "":
		for _, s := range t.children[t.root.SpanID] {
			if s.Name == v.Stage && spanKind(s, t.root) == "stage" {
				t.draw(w, s, 0)
				return nil
			}
		}
		var names []string
		for _, s := range t.stages() {
			names = append(names, s.Name)
		}
		return fmt.Errorf("no stage %q in this trace (it has %s)", v.Stage, strings.Join(names, ", "))
	case v.Full || !t.staged():
		t.draw(w, t.root, 0) // a stop's, a kill's: a few steps, no stages to fold
	default:
		t.overview(w, f)
	}
	return nil
}

// header: which run, what it ran, where, what watched the kernel.
func (t *tree) header(w io.Writer) {
	root := t.root
	head := fmt.Sprintf("trace %s · %s", root.TraceID[:min(16, len(root.TraceID))], root.Name)
	if id := root.Attr("container.id"); id != "" {
		head += " · " + id[:min(12, len(id))]
	}
	head += " · " + ms(root.Duration())
	if code := root.Attr("process.exit.code"); code != "" {
		head += " · exit " + code
	}
	t.line(w, bold, head)
	what := root.Attr("process.command_args")
	if image := root.Attr("container.image.name"); image != "" && what != "" {
		what = image + ": " + what
	}
	if what != "" {
		t.line(w, dim, "  "+what)
	}
	for _, l := range root.Links {
		why := ""
		for _, a := range l.Attributes {
			if a.Key == "glassbox.link" {
				why = a.Value.Text() + ": "
			}
		}
		t.line(w, dim, "  linked to "+why+"trace "+l.TraceID[:min(16, len(l.TraceID))])
	}
	var facts []string
	if ip := root.Attr("network.local.address"); ip != "" {
		net := "network " + root.Attr("glassbox.network.name") + " " + ip
		if ports := root.Attr("glassbox.network.ports"); ports != "" {
			net += ", published " + ports
		}
		facts = append(facts, net)
	}
	if len(facts) > 0 {
		t.line(w, dim, "  "+strings.Join(facts, " · "))
	}
	// What the container used: the root's glassbox.usage.* attributes.
	if peak := root.Attr("glassbox.usage.memory_peak_bytes"); peak != "" {
		us, _ := strconv.ParseInt(root.Attr("glassbox.usage.cpu_time_us"), 10, 64)
		bytes, _ := strconv.ParseFloat(peak, 64)
		used := fmt.Sprintf("  used: peak memory %.1f MiB · CPU %s · peak pids %s", bytes/(1<<20), ms(time.Duration(us)*time.Microsecond), root.Attr("glassbox.usage.pids_peak"))
		if oom := root.Attr("glassbox.usage.oom_kills"); oom != "" && oom != "0" {
			used += " · OOM kills " + oom
		}
		t.line(w, dim, used)
	}
	if mode := root.Attr("glassbox.observer.mode"); mode != "" {
		kernel := fmt.Sprintf("  kernel: %s mode, %s events, %s lost", mode, root.Attr("glassbox.observer.events"), root.Attr("glassbox.observer.lost"))
		if unwatched := root.Attr("glassbox.observer.unwatched"); unwatched != "" {
			if t.v.Full || t.v.Stage != "" {
				kernel += "; not watched on this kernel: " + unwatched + " (glassbox doctor says why)"
			} else {
				kernel += fmt.Sprintf(", %d probes not attached (doctor)", strings.Count(unwatched, ",")+1)
			}
		}
		t.line(w, dim, kernel)
	}
}

// stages are the root's stage spans, in order.
func (t *tree) stages() []Span {
	var out []Span
	for _, s := range t.children[t.root.SpanID] {
		if spanKind(s, t.root) == "stage" {
			out = append(out, s)
		}
	}
	return out
}

// staged says whether the trace is a run's, in stages; a lifecycle command's
// (stop, kill, rm) is a few steps.
func (t *tree) staged() bool {
	for _, s := range t.children[t.root.SpanID] {
		if s.Attr("glassbox.stage") != "" {
			return true
		}
	}
	return false
}

// walk calls fn for every span below s.
func (t *tree) walk(s Span, fn func(Span)) {
	for _, c := range t.children[s.SpanID] {
		fn(c)
		t.walk(c, fn)
	}
}

// overview: a row per stage, then the slowest kernel calls.
func (t *tree) overview(w io.Writer, f *File) {
	// Columns: stage, time, a bar on the run's axis, what took longest in
	// it, its kernel events; the bar and the step share what the width leaves.
	const nameW, timeW, kernelW = 10, 9, 7
	rest := t.v.Width - 1 - 2 - nameW - timeW - 2 - 2 - kernelW
	barW := max(8, rest*2/5)
	stepW := rest - barW
	t.line(w, dim, "  "+pad("stage", nameW)+fmt.Sprintf("%*s", timeW, "ms")+"  "+pad("", barW)+"  "+pad("slowest step", stepW)+fmt.Sprintf("%*s", kernelW, "kernel"))
	type call struct {
		span  Span
		stage string
	}
	var calls []call
	for _, st := range t.stages() {
		var slowest Span
		kernel := 0
		t.walk(st, func(s Span) {
			if spanKind(s, t.root) == "kernel" {
				kernel++
				calls = append(calls, call{s, st.Name})
			} else if s.Duration() > slowest.Duration() {
				slowest = s
			}
		})
		what := ""
		switch {
		case failed(st):
			what = "✗ " + st.Status.Message
		case st.Name == "container":
			what = "the program ran"
			if code := t.root.Attr("process.exit.code"); code != "" {
				what += ", exit " + code
			}
		case slowest.SpanID != "":
			what = slowest.Label()
			if d := ms(slowest.Duration()); stepW > 24 {
				what = fit(what, stepW-len(d)-1) + " " + d
			}
		}
		count := ""
		if kernel > 0 {
			count = strconv.Itoa(kernel)
		}
		row := "  " + pad(st.Name, nameW) + fmt.Sprintf("%*.2f", timeW, float64(st.Duration())/float64(time.Millisecond)) +
			"  " + t.bar(st, barW) + "  " + pad(what, stepW) + fmt.Sprintf("%*s", kernelW, count)
		code := cyan
		if failed(st) {
			code = red
		}
		t.line(w, code, row)
	}
	runFailed := false
	for _, st := range t.stages() {
		if failed(st) { // the whole message, which the row cut short
			runFailed = true
			for i, l := range wrap("✗ "+st.Status.Message, t.v.Width-1-4) {
				if i < 3 {
					t.line(w, red, "    "+l)
				}
			}
		}
	}
	// A failed run's failed kernel calls (a working run has some too, that
	// its programs expect: the Go runtime probing the kernel), else the
	// slowest.
	title, code := "the slowest kernel calls:", yellow
	var failedCalls []call
	for _, c := range calls {
		if runFailed && failed(c.span) {
			failedCalls = append(failedCalls, c)
		}
	}
	if len(failedCalls) > 0 {
		calls, title, code = failedCalls, "kernel calls that failed:", red
	} else {
		sort.SliceStable(calls, func(i, j int) bool { return calls[i].span.Duration() > calls[j].span.Duration() })
	}
	if len(calls) > 0 {
		t.line(w, dim, "  "+title)
		for _, c := range calls[:min(3, len(calls))] {
			d := ms(c.span.Duration())
			label := pad(c.span.Label(), t.v.Width-1-4-len(d)-2-nameW-1)
			t.line(w, code, "    "+d+"  "+label+" "+c.stage)
		}
	}
	id := t.root.TraceID[:min(12, len(t.root.TraceID))]
	t.line(w, dim, fmt.Sprintf("  all of it: glassbox trace show %s --full · one stage: --stage NAME", id))
}

// draw prints s and everything below it, a line each, indented.
func (t *tree) draw(w io.Writer, s Span, depth int) {
	barW := max(12, min(36, t.v.Width/4))
	const timeW = 10
	nameW := t.v.Width - 1 - barW - 2 - timeW - 1
	kernel := spanKind(s, t.root) == "kernel"
	name := strings.Repeat("  ", depth) + s.Label()
	if kernel {
		name = strings.Repeat("  ", depth) + "▸ " + s.Label()
	}
	row := pad(name, nameW) + " |" + t.bar(s, barW) + "|" + fmt.Sprintf("%*s", timeW, ms(s.Duration()))
	code := ""
	switch {
	case failed(s):
		row += "  ✗ " + s.Status.Message
		code = red
	case kernel:
		code = yellow
	case depth == 1:
		code = cyan
	case depth > 1:
		code = dim
	}
	t.line(w, code, row)
	for _, c := range t.children[s.SpanID] {
		t.draw(w, c, depth+1)
	}
}

// failureReport is a failed run's account, from its trace: the stage and its
// message, the kernel calls that failed in it, and its last kernel events
// ("" for a run that did not fail).
func (t *tree) failureReport() string {
	for _, st := range t.stages() {
		if !failed(st) {
			continue
		}
		var b strings.Builder
		msg := st.Status.Message
		if !strings.HasPrefix(msg, "stage "+st.Name+":") {
			msg = "stage " + st.Name + ": " + msg
		}
		b.WriteString(msg + "\n")
		// Its system calls (a process's exit says little of why it failed).
		var events []Span
		t.walk(st, func(s Span) {
			if spanKind(s, t.root) == "kernel" && !strings.HasPrefix(s.Attr("glassbox.kernel.event"), "sched_process_") {
				events = append(events, s)
			}
		})
		for _, e := range events {
			if failed(e) {
				fmt.Fprintf(&b, "  the kernel refused: %s\n", e.Label())
			}
		}
		if n := len(events); n > 0 {
			b.WriteString("  the stage's last kernel events:\n")
			for _, e := range events[max(0, n-5):] {
				fmt.Fprintf(&b, "    %s\n", e.Label())
			}
		}
		fmt.Fprintf(&b, "  glassbox explain %s: what the stage does, and what makes it fail", st.Name)
		return b.String()
	}
	return ""
}
