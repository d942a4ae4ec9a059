package trace

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	f := File{ResourceSpans: []ResourceSpans{{
		Resource: Resource{Attributes: []KeyValue{{Key: "service.name", Value: AnyValue{String: ptr("glassbox")}}}},
		ScopeSpans: []ScopeSpans{{Scope: Scope{Name: "glassbox"}, Spans: []Span{
			{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Name: "glassbox run", Kind: 1,
				Start: "1700000000000000000", End: "1700000000050000000",
				Attributes: []KeyValue{
					{Key: "process.pid", Value: AnyValue{Int: ptr("42")}},
					{Key: "glassbox.kernel", Value: AnyValue{Bool: ptr(true)}},
					{Key: "ratio", Value: AnyValue{Double: ptr(0.25)}},
					{Key: "process.command_args", Value: AnyValue{Array: &ArrayValue{Values: []AnyValue{{String: ptr("sh")}, {String: ptr("-c")}, {Int: ptr("3")}}}}},
					{Key: "empty", Value: AnyValue{Array: &ArrayValue{Values: []AnyValue{}}}},
					{Key: "call", Value: AnyValue{String: ptr("mount(\"a\\b\", \"\x01\tx\n\", \"\xff\xfe\") = 0 ▸ é")}},
				},
				Events: []Event{{Time: "1700000000000000001", Name: "exception", Attributes: []KeyValue{{Key: "k", Value: AnyValue{String: ptr("v")}}}}},
				Links: []Link{{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Attributes: []KeyValue{{Key: "glassbox.link", Value: AnyValue{String: ptr("first run")}}}},
					{TraceID: "4bf92f3577b34da6a3ce929d0e0e4737", SpanID: "00f067aa0ba902b8"}},
				Status: &Status{Code: 2, Message: "stage mount: <failed> & \"quoted\""}},
			{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "00f067aa0ba902b7", ParentSpanID: "b7ad6b7169203331",
				Name: "rootfs", Kind: 1, Start: "1", End: "2", Status: &Status{Code: 1}},
		}}},
	}}}
	ours := f.AppendJSON(nil)
	if !json.Valid(ours) {
		t.Fatalf("not valid JSON: %s", ours)
	}
	var back File
	if err := json.Unmarshal(ours, &back); err != nil {
		t.Fatal(err)
	}
	var viaStd File
	std, _ := json.Marshal(f)
	json.Unmarshal(std, &viaStd)
	if !reflect.DeepEqual(back, viaStd) {
		t.Errorf("decoded differently from encoding/json's output:\nours: %s\nstd:  %s", ours, std)
	}
	if !strings.Contains(string(ours), `\ufffd`) {
		t.Error("invalid UTF-8 must become U+FFFD")
	}
}

// Two processes of one trace (OCI create, then start) share its file: the
// second's resource is appended to the first's without decoding it.
func TestJoinResources(t *testing.T) {
	one := func(name string) File {
		return File{ResourceSpans: []ResourceSpans{{
			Resource:   Resource{Attributes: []KeyValue{{Key: "service.name", Value: AnyValue{String: ptr(name)}}}},
			ScopeSpans: []ScopeSpans{{Scope: Scope{Name: "glassbox"}, Spans: []Span{{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Name: name}}}},
		}}}
	}
	create, start := one("create"), one("start")
	joined := joinResources(create.AppendJSON(nil), start.AppendJSON(nil))
	var back File
	if err := json.Unmarshal(joined, &back); err != nil {
		t.Fatalf("joined file: %v\n%s", err, joined)
	}
	want := File{ResourceSpans: append(create.ResourceSpans, start.ResourceSpans...)}
	var wantBack File
	json.Unmarshal(want.AppendJSON(nil), &wantBack)
	if !reflect.DeepEqual(back, wantBack) {
		t.Errorf("joined:\n%s", joined)
	}
	// An earlier file of another shape (empty, truncated, not ours) is replaced.
	for _, earlier := range []string{"", "{}", `{"resourceSpans":[`, `{"resourceSpans":[]}`, `{"resourceSpans":[]}x`, "]}"} {
		if got := joinResources([]byte(earlier), start.AppendJSON(nil)); string(got) != string(start.AppendJSON(nil)) {
			t.Errorf("earlier %q: got %s", earlier, got)
		}
	}
}
