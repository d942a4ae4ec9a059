package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/trace"
)

const okSpan = `{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"rootfs","kind":1,` +
	`"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000000001000"`

// Every field of a stored span reaches the OTLP message.
func TestResourceSpans(t *testing.T) {
	in := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"glassbox"}}]},` +
		`"scopeSpans":[{"scope":{"name":"glassbox"},"spans":[` + okSpan + `,"parentSpanId":"00f067aa0ba902b7",` +
		`"attributes":[{"key":"n","value":{"intValue":"-42"}},{"key":"b","value":{"boolValue":true}},{"key":"d","value":{"doubleValue":0.5}},` +
		`{"key":"a","value":{"arrayValue":{"values":[{"stringValue":"x"},{"intValue":"1"}]}}}],` +
		`"events":[{"timeUnixNano":"1700000000000000500","name":"exception","attributes":[{"key":"exception.message","value":{"stringValue":"EPERM"}}]}],` +
		`"links":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","attributes":[{"key":"glassbox.link","value":{"stringValue":"first run"}}]}],` +
		`"status":{"code":2,"message":"EPERM"}}]}]}]}`
	f := decode(t, in)
	rs, err := resourceSpans(f)
	if err != nil {
		t.Fatal(err)
	}
	if n := rs[0].Resource.Attributes[0].Value.GetStringValue(); n != "glassbox" {
		t.Errorf("service.name %q", n)
	}
	s := rs[0].ScopeSpans[0].Spans[0]
	if rs[0].ScopeSpans[0].Scope.Name != "glassbox" || s.Name != "rootfs" || s.Kind != 1 ||
		hex.EncodeToString(s.TraceId) != "0af7651916cd43dd8448eb211c80319c" || hex.EncodeToString(s.SpanId) != "b7ad6b7169203331" ||
		hex.EncodeToString(s.ParentSpanId) != "00f067aa0ba902b7" || s.StartTimeUnixNano != 1700000000000000000 || s.EndTimeUnixNano != 1700000000000001000 {
		t.Errorf("span %v", s)
	}
	a := s.Attributes
	if a[0].Value.GetIntValue() != -42 || !a[1].Value.GetBoolValue() || a[2].Value.GetDoubleValue() != 0.5 ||
		a[3].Value.GetArrayValue().Values[0].GetStringValue() != "x" || a[3].Value.GetArrayValue().Values[1].GetIntValue() != 1 {
		t.Errorf("attributes %v", a)
	}
	if e := s.Events[0]; e.Name != "exception" || e.TimeUnixNano != 1700000000000000500 || e.Attributes[0].Value.GetStringValue() != "EPERM" {
		t.Errorf("event %v", e)
	}
	if l := s.Links[0]; hex.EncodeToString(l.TraceId) != "4bf92f3577b34da6a3ce929d0e0e4736" || l.Attributes[0].Value.GetStringValue() != "first run" {
		t.Errorf("link %v", l)
	}
	if s.Status.Code != 2 || s.Status.Message != "EPERM" {
		t.Errorf("status %v", s.Status)
	}
}

// A trace that is not what glassbox writes is refused in one line, naming the
// field — never a panic, never a request with broken ids.
func TestResourceSpansHostile(t *testing.T) {
	wrap := func(span string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[` + span + `]}]}]}`
	}
	for _, c := range []struct{ in, want string }{
		{wrap(strings.Replace(okSpan, "0af7651916cd43dd8448eb211c80319c", "0af7", 1) + "}"), "traceId"},
		{wrap(strings.Replace(okSpan, "0af7651916cd43dd8448eb211c80319c", "zz"+strings.Repeat("0", 30), 1) + "}"), "traceId"},
		{wrap(strings.Replace(okSpan, "b7ad6b7169203331", "", 1) + "}"), "spanId"},
		{wrap(okSpan + `,"parentSpanId":"b7ad6b71692033310000"}`), "parentSpanId"},
		{wrap(strings.Replace(okSpan, `"1700000000000000000"`, `"-1"`, 1) + "}"), "startTimeUnixNano"},
		{wrap(strings.Replace(okSpan, `"1700000000000001000"`, `"18446744073709551616"`, 1) + "}"), "endTimeUnixNano"},
		{wrap(okSpan + `,"attributes":[{"key":"n","value":{"intValue":"9223372036854775808"}}]}`), "attribute n"},
		{wrap(okSpan + `,"attributes":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"4294967295x"}]}}}]}`), "attribute a"},
		{wrap(okSpan + `,"events":[{"timeUnixNano":"soon","name":"e"}]}`), "timeUnixNano"},
		{wrap(okSpan + `,"links":[{"traceId":"","spanId":"b7ad6b7169203331"}]}`), "link traceId"},
	} {
		_, err := resourceSpans(decode(t, c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line error naming %s", c.in, err, c.want)
		}
	}
	for _, in := range []string{"", "null", "{", `{"resourceSpans":"x"}`, "[]"} {
		if err := run(context.Background(), strings.NewReader(in)); in != "null" && (err == nil || !strings.Contains(err.Error(), "standard input")) {
			t.Errorf("input %q: %v", in, err)
		} else if in == "null" && err != nil {
			t.Errorf("null (no spans): %v, want nothing sent", err)
		}
	}
}

func decode(t *testing.T, in string) *trace.File {
	t.Helper()
	var f trace.File
	if err := json.Unmarshal([]byte(in), &f); err != nil {
		t.Fatalf("%s: %v", in, err)
	}
	return &f
}
