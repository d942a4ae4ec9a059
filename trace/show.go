package trace

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
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

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
