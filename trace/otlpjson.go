package trace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/glassbox-dev/glassbox/internal/atomicfile"
)

// The local store keeps each trace as one OTLP JSON file — the JSON form of an
// OTLP ExportTraceServiceRequest, which collectors accept and `otel-cli`,
// Jaeger's importer and glassbox itself can read. It is written with these
// few types rather than the protobuf stack, which a run does not need.

// File is an OTLP JSON trace file.
type File struct {
	ResourceSpans []ResourceSpans `json:"resourceSpans"`
}

type ResourceSpans struct {
	Resource   Resource     `json:"resource"`
	ScopeSpans []ScopeSpans `json:"scopeSpans"`
}

type Resource struct {
	Attributes []KeyValue `json:"attributes,omitempty"`
}

type ScopeSpans struct {
	Scope Scope  `json:"scope"`
	Spans []Span `json:"spans"`
}

type Scope struct {
	Name string `json:"name"`
}

// Span is an OTLP span; ids are hex and times unix nanoseconds as strings, as
// the OTLP JSON encoding prescribes.
type Span struct {
	TraceID      string     `json:"traceId"`
	SpanID       string     `json:"spanId"`
	ParentSpanID string     `json:"parentSpanId,omitempty"`
	Name         string     `json:"name"`
	Kind         int        `json:"kind"`
	Start        string     `json:"startTimeUnixNano"`
	End          string     `json:"endTimeUnixNano"`
	Attributes   []KeyValue `json:"attributes,omitempty"`
	Events       []Event    `json:"events,omitempty"`
	Links        []Link     `json:"links,omitempty"`
	Status       *Status    `json:"status,omitempty"`
}

// Link points at a span of another trace: a restart's at its container's
// first run, an exec's or a stop's at the run whose process it acts on.
type Link struct {
	TraceID    string     `json:"traceId"`
	SpanID     string     `json:"spanId"`
	Attributes []KeyValue `json:"attributes,omitempty"`
}

type Event struct {
	Time       string     `json:"timeUnixNano"`
	Name       string     `json:"name"`
	Attributes []KeyValue `json:"attributes,omitempty"`
}

// Status codes: 1 ok, 2 error.
type Status struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type KeyValue struct {
	Key   string   `json:"key"`
	Value AnyValue `json:"value"`
}

type AnyValue struct {
	String *string     `json:"stringValue,omitempty"`
	Int    *string     `json:"intValue,omitempty"`
	Bool   *bool       `json:"boolValue,omitempty"`
	Double *float64    `json:"doubleValue,omitempty"`
	Array  *ArrayValue `json:"arrayValue,omitempty"`
}

// ArrayValue is a list attribute: process.command_args, the cgroup paths.
type ArrayValue struct {
	Values []AnyValue `json:"values"`
}

// Text renders any value as a person reads it.
func (v AnyValue) Text() string {
	switch {
	case v.String != nil:
		return *v.String
	case v.Int != nil:
		return *v.Int
	case v.Bool != nil:
		return strconv.FormatBool(*v.Bool)
	case v.Double != nil:
		return strconv.FormatFloat(*v.Double, 'g', -1, 64)
	case v.Array != nil:
		texts := make([]string, len(v.Array.Values))
		for i, e := range v.Array.Values {
			texts[i] = e.Text()
		}
		return strings.Join(texts, " ")
	}
	return ""
}

// fileExporter collects the spans of one command and writes them to
// <dir>/<trace id>.json when the provider shuts down.
type fileExporter struct {
	dir   string
	keep  Retention
	mu    sync.Mutex
	res   Resource
	spans []Span
	path  string
	data  []byte // this process's spans, as written (the file may hold others' too)
	err   error
}

func (f *fileExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range spans {
		if f.res.Attributes == nil {
			f.res.Attributes = keyValues(s.Resource().Attributes())
		}
		f.spans = append(f.spans, fromSDK(s))
	}
	return nil
}

// add takes spans made without the SDK: the kernel's events (kernelSpan).
func (f *fileExporter) add(spans []Span) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spans = append(f.spans, spans...)
}

func (f *fileExporter) Shutdown(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.spans) == 0 {
		return nil
	}
	file := File{ResourceSpans: []ResourceSpans{{
		Resource:   f.res,
		ScopeSpans: []ScopeSpans{{Scope: Scope{Name: "glassbox"}, Spans: f.spans}},
	}}}
	f.path = filepath.Join(f.dir, f.spans[0].TraceID+".json")
	data := file.AppendJSON(make([]byte, 0, 256<<10))
	f.data = data
	// Another process of the same trace wrote first (OCI create, then
	// start): each process is a resource of its own in one file.
	if earlier, err := os.ReadFile(f.path); err == nil {
		data = joinResources(earlier, data)
	}
	if err := atomicfile.WriteFile(f.path, data, 0o600); err != nil {
		// Session.End reports it, once: returned here, the SDK's Shutdown
		// would hand it back a second time.
		f.err = fmt.Errorf("trace store: %w", err)
		f.path = ""
		return nil
	}
	if prunes(f.spans[0].TraceID, f.keep) {
		Prune(f.dir, f.keep, false)
	}
	return nil
}

// joinResources appends the resources of the trace file later to those of
// earlier, both as AppendJSON writes them ({"resourceSpans":[…]}), without
// decoding either: decoding and re-encoding the earlier file cost a start
// after create 2.5 ms. An earlier file of any other shape is replaced.
func joinResources(earlier, later []byte) []byte {
	const head, tail = `{"resourceSpans":[`, "]}"
	if !bytes.HasPrefix(earlier, []byte(head)) || !bytes.HasSuffix(earlier, []byte(tail)) || len(earlier) <= len(head)+len(tail) {
		return later
	}
	joined := make([]byte, 0, len(earlier)+len(later))
	joined = append(joined, earlier[:len(earlier)-len(tail)]...)
	joined = append(joined, ',')
	return append(joined, later[len(head):]...)
}

func fromSDK(s sdktrace.ReadOnlySpan) Span {
	sp := Span{
		TraceID: s.SpanContext().TraceID().String(),
		SpanID:  s.SpanContext().SpanID().String(),
		Name:    s.Name(),
		Kind:    kind(s.SpanKind()),
		Start:   strconv.FormatInt(s.StartTime().UnixNano(), 10),
		End:     strconv.FormatInt(s.EndTime().UnixNano(), 10),
	}
	if p := s.Parent(); p.IsValid() {
		sp.ParentSpanID = p.SpanID().String()
	}
	sp.Attributes = keyValues(s.Attributes())
	for _, e := range s.Events() {
		sp.Events = append(sp.Events, Event{Time: strconv.FormatInt(e.Time.UnixNano(), 10), Name: e.Name, Attributes: keyValues(e.Attributes)})
	}
	for _, l := range s.Links() {
		sp.Links = append(sp.Links, Link{TraceID: l.SpanContext.TraceID().String(), SpanID: l.SpanContext.SpanID().String(), Attributes: keyValues(l.Attributes)})
	}
	switch s.Status().Code {
	case codes.Error:
		sp.Status = &Status{Code: 2, Message: s.Status().Description}
	case codes.Ok:
		sp.Status = &Status{Code: 1}
	}
	return sp
}

func kind(k oteltrace.SpanKind) int {
	if k == oteltrace.SpanKindUnspecified {
		return int(oteltrace.SpanKindInternal)
	}
	return int(k)
}

func keyValues(attrs []attribute.KeyValue) []KeyValue {
	out := make([]KeyValue, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, KeyValue{Key: string(a.Key), Value: anyValue(a.Value)})
	}
	return out
}

func anyValue(a attribute.Value) AnyValue {
	var v AnyValue
	switch a.Type() {
	case attribute.BOOL:
		b := a.AsBool()
		v.Bool = &b
	case attribute.INT64:
		i := strconv.FormatInt(a.AsInt64(), 10)
		v.Int = &i
	case attribute.FLOAT64:
		f := a.AsFloat64()
		v.Double = &f
	case attribute.STRINGSLICE:
		v.Array = &ArrayValue{Values: []AnyValue{}}
		for _, e := range a.AsStringSlice() {
			v.Array.Values = append(v.Array.Values, anyValue(attribute.StringValue(e)))
		}
	case attribute.INT64SLICE:
		v.Array = &ArrayValue{Values: []AnyValue{}}
		for _, e := range a.AsInt64Slice() {
			v.Array.Values = append(v.Array.Values, anyValue(attribute.Int64Value(e)))
		}
	default:
		str := a.Emit()
		v.String = &str
	}
	return v
}
