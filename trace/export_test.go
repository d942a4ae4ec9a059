package trace

import (
	"encoding/json"
	"strings"
	"testing"
)

// What a container controls reaches the page: its command line, its
// hostname, a failure's message. None of it may end the page's <script>
// element or add markup; the page holds exactly the template's script tags,
// its data still parses, and the title is text.
func TestHTMLEscapesWhatContainersWrite(t *testing.T) {
	hostile := `</script><script>alert(1)</script><!--`
	f := &File{ResourceSpans: []ResourceSpans{{ScopeSpans: []ScopeSpans{{Spans: []Span{
		{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Name: "glassbox run <b>" + hostile,
			Start: "1700000000000000000", End: "1700000000050000000",
			Attributes: []KeyValue{
				{Key: "container.id", Value: AnyValue{String: ptr("c0ffee" + hostile)}},
				{Key: "process.command_args", Value: AnyValue{Array: &ArrayValue{Values: []AnyValue{{String: ptr(hostile)}}}}},
			},
			Status: &Status{Code: 2, Message: "stage exec: " + hostile}},
		{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "00f067aa0ba902b7", ParentSpanID: "b7ad6b7169203331",
			Name: "exec", Start: "1700000000001000000", End: "1700000000002000000",
			Attributes: []KeyValue{{Key: "host.name", Value: AnyValue{String: ptr(hostile)}}}, Status: &Status{Code: 2, Message: hostile}},
	}}}}}}
	var b strings.Builder
	if err := HTML(&b, f); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if got, want := strings.Count(strings.ToLower(page), "<script"), strings.Count(strings.ToLower(timelineHTML), "<script"); got != want {
		t.Errorf("the page has %d <script tags, its template %d", got, want)
	}
	if got, want := strings.Count(strings.ToLower(page), "</script"), strings.Count(strings.ToLower(timelineHTML), "</script"); got != want {
		t.Errorf("the page has %d </script tags, its template %d", got, want)
	}
	if strings.Contains(page, "<b>") || strings.Contains(page, "<!--") {
		t.Error("the title's markup reached the page unescaped")
	}
	start := strings.Index(page, `<script type="application/json" id="data">`)
	end := strings.Index(page[start:], "</script>")
	if start < 0 || end < 0 {
		t.Fatal("no data element")
	}
	var data struct {
		Root struct{ Name string }
	}
	raw := page[start+len(`<script type="application/json" id="data">`) : start+end]
	if err := json.Unmarshal([]byte(raw), &data); err != nil || !strings.Contains(data.Root.Name, hostile) {
		t.Errorf("the data does not parse back to the span's name: %v %q", err, data.Root.Name)
	}
}
