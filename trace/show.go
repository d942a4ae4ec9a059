package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Load reads an OTLP JSON trace file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Spans returns every span in the file.
func (f *File) Spans() []Span {
	var out []Span
	for _, rs := range f.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			out = append(out, ss.Spans...)
		}
	}
	return out
}

// Root is the span whose parent is not in the file: the command's span.
func (f *File) Root() (Span, bool) {
	spans := f.Spans()
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	for _, s := range spans {
		if !ids[s.ParentSpanID] {
			return s, true
		}
	}
	return Span{}, false
}

// Attr returns a span attribute's text, "" if absent.
func (s Span) Attr(key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.Text()
		}
	}
	return ""
}

// Label is what a viewer prints for a span: a kernel event's decoded call, a
// step's whole text, else its name (a stage's, the root's). Span names are
// kinds (mount, write), for a backend to index; a person reads the detail.
func (s Span) Label() string {
	if call := s.Attr("glassbox.kernel.call"); call != "" {
		return shortCall(call)
	}
	if step := s.Attr("glassbox.step"); step != "" {
		return step
	}
	return s.Name
}

// StartTime and EndTime decode the OTLP timestamps.
func (s Span) StartTime() time.Time { return unixNano(s.Start) }
func (s Span) EndTime() time.Time   { return unixNano(s.End) }

// Duration is how long the span lasted.
func (s Span) Duration() time.Duration { return s.EndTime().Sub(s.StartTime()) }

func unixNano(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Unix(0, n)
}

// Summary is one line of `glassbox trace ls`.
type Summary struct {
	TraceID       string
	Path          string
	Name          string
	Start         time.Time
	Duration      time.Duration
	Container     string // its id
	ContainerName string // its name, if it had one
	Exit          string
	Error         string
}

// List summarises every trace in dir, newest first.
func List(dir string) ([]Summary, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, p := range paths {
		f, err := Load(p)
		if err != nil {
			continue
		}
		root, ok := f.Root()
		if !ok {
			continue
		}
		sum := Summary{TraceID: root.TraceID, Path: p, Name: root.Name, Start: root.StartTime(),
			Duration: root.Duration(), Container: root.Attr("container.id"), ContainerName: root.Attr("container.name"), Exit: root.Attr("process.exit.code")}
		if root.Status != nil && root.Status.Code == 2 {
			sum.Error = root.Status.Message
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out, nil
}

// Find resolves a trace id or container id prefix, or a container name, to
// a trace file; with several traces for one container, the newest wins.
func Find(dir, prefix string) (string, error) {
	all, err := List(dir)
	if err != nil {
		return "", err
	}
	for _, s := range all {
		if strings.HasPrefix(s.TraceID, prefix) || strings.HasPrefix(s.Container, prefix) || s.ContainerName == prefix {
			return s.Path, nil
		}
	}
	return "", fmt.Errorf("no trace for %q in %s (glassbox trace ls lists them)", prefix, dir)
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

// Waterfall draws the trace: one line per span, indented under its parent,
// with a bar on the root span's time axis and its duration.
func Waterfall(w io.Writer, f *File, color bool) {
	root, ok := f.Root()
	if !ok {
		fmt.Fprintln(w, "empty trace")
		return
	}
	children := map[string][]Span{}
	for _, s := range f.Spans() {
		children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
	}
	for _, list := range children {
		sort.SliceStable(list, func(i, j int) bool { return list[i].StartTime().Before(list[j].StartTime()) })
	}
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + reset
	}
	header := fmt.Sprintf("trace %s · %s", root.TraceID[:16], root.Name)
	if id := root.Attr("container.id"); id != "" {
		header += " · container " + id[:min(12, len(id))]
	}
	header += " · " + ms(root.Duration())
	if code := root.Attr("process.exit.code"); code != "" {
		header += " · exit " + code
	}
	fmt.Fprintln(w, paint(bold, header))
	if args := root.Attr("process.command_args"); args != "" {
		fmt.Fprintln(w, paint(dim, "  "+args))
	}
	for _, l := range root.Links {
		why := ""
		for _, a := range l.Attributes {
			if a.Key == "glassbox.link" && a.Value.String != nil {
				why = *a.Value.String + ": "
			}
		}
		fmt.Fprintln(w, paint(dim, "  linked to "+why+"trace "+l.TraceID[:min(16, len(l.TraceID))]+" (glassbox trace show "+l.TraceID[:min(16, len(l.TraceID))]+")"))
	}
	if ip := root.Attr("network.local.address"); ip != "" {
		line := "  network " + root.Attr("glassbox.network.name") + ": " + ip
		if ports := root.Attr("glassbox.network.ports"); ports != "" {
			line += " · published " + ports
		}
		fmt.Fprintln(w, paint(dim, line))
	}
	if peak := root.Attr("glassbox.usage.memory_peak_bytes"); peak != "" {
		us, _ := strconv.ParseInt(root.Attr("glassbox.usage.cpu_time_us"), 10, 64)
		bytes, _ := strconv.ParseFloat(peak, 64)
		line := fmt.Sprintf("  used: peak memory %.1f MiB · CPU %s · peak pids %s", bytes/(1<<20), ms(time.Duration(us)*time.Microsecond), root.Attr("glassbox.usage.pids_peak"))
		if oom := root.Attr("glassbox.usage.oom_kills"); oom != "0" {
			line += " · OOM kills " + oom
		}
		fmt.Fprintln(w, paint(dim, line))
	}
	if mode := root.Attr("glassbox.observer.mode"); mode != "" {
		fmt.Fprintln(w, paint(dim, fmt.Sprintf("  kernel events (▸): %s mode, %s seen, %s lost",
			mode, root.Attr("glassbox.observer.events"), root.Attr("glassbox.observer.lost"))))
		if unwatched := root.Attr("glassbox.observer.unwatched"); unwatched != "" {
			fmt.Fprintln(w, paint(dim, "  not watched on this kernel: "+unwatched+" (glassbox doctor says why)"))
		}
	}
	// The axis spans every span: one may outlive the root (OCI start's, after
	// create's root has ended).
	t0, total := root.StartTime(), root.Duration()
	for _, s := range f.Spans() {
		total = max(total, s.EndTime().Sub(t0))
	}
	const width = 36
	var draw func(s Span, depth int)
	draw = func(s Span, depth int) {
		from := int(float64(s.StartTime().Sub(t0)) / float64(max(total, 1)) * width)
		n := max(1, int(float64(s.Duration())/float64(max(total, 1))*width))
		from = min(max(from, 0), width-1)
		n = min(n, width-from)
		bar := strings.Repeat(" ", from) + strings.Repeat("█", n) + strings.Repeat(" ", width-from-n)
		kernel := spanKind(s, root) == "kernel"
		name := strings.Repeat("  ", depth) + s.Label()
		if kernel {
			name = strings.Repeat("  ", depth) + "▸ " + s.Label()
		}
		if r := []rune(name); len(r) > 52 {
			name = string(r[:51]) + "…"
		}
		pad := strings.Repeat(" ", max(0, 52-utf8.RuneCountInString(name)))
		line := fmt.Sprintf("%s%s |%s| %9s", name, pad, bar, ms(s.Duration()))
		switch {
		case s.Status != nil && s.Status.Code == 2:
			line = paint(red, line+"  ✗ "+s.Status.Message)
		case kernel:
			line = paint(yellow, line)
		case depth == 1:
			line = paint(cyan, line)
		case depth > 1:
			line = paint(dim, line)
		}
		fmt.Fprintln(w, line)
		for _, c := range children[s.SpanID] {
			draw(c, depth+1)
		}
	}
	draw(root, 0)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
