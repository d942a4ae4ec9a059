package main

import (
	"encoding/hex"
	"fmt"
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/glassbox-dev/glassbox/trace"
)

// resourceSpans turns a stored trace into the OTLP messages the clients
// upload: the same fields, with ids as bytes and times as numbers.
func resourceSpans(f *trace.File) ([]*tracepb.ResourceSpans, error) {
	var out []*tracepb.ResourceSpans
	for _, rs := range f.ResourceSpans {
		attrs, err := keyValues(rs.Resource.Attributes)
		if err != nil {
			return nil, fmt.Errorf("resource: %w", err)
		}
		prs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: attrs}}
		for _, ss := range rs.ScopeSpans {
			pss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: ss.Scope.Name}}
			for i := range ss.Spans {
				s, err := span(&ss.Spans[i])
				if err != nil {
					return nil, fmt.Errorf("span %q: %w", ss.Spans[i].Name, err)
				}
				pss.Spans = append(pss.Spans, s)
			}
			prs.ScopeSpans = append(prs.ScopeSpans, pss)
		}
		out = append(out, prs)
	}
	return out, nil
}

func span(s *trace.Span) (*tracepb.Span, error) {
	traceID, spanID, err := ids("", s.TraceID, s.SpanID)
	if err != nil {
		return nil, err
	}
	var parent []byte
	if s.ParentSpanID != "" {
		if parent, err = id("parentSpanId", s.ParentSpanID, 8); err != nil {
			return nil, err
		}
	}
	start, err := nanos("startTimeUnixNano", s.Start)
	if err != nil {
		return nil, err
	}
	end, err := nanos("endTimeUnixNano", s.End)
	if err != nil {
		return nil, err
	}
	attrs, err := keyValues(s.Attributes)
	if err != nil {
		return nil, err
	}
	p := &tracepb.Span{TraceId: traceID, SpanId: spanID, ParentSpanId: parent, Name: s.Name,
		Kind: tracepb.Span_SpanKind(s.Kind), StartTimeUnixNano: start, EndTimeUnixNano: end, Attributes: attrs}
	for _, e := range s.Events {
		at, err := nanos("timeUnixNano", e.Time)
		if err != nil {
			return nil, err
		}
		attrs, err := keyValues(e.Attributes)
		if err != nil {
			return nil, err
		}
		p.Events = append(p.Events, &tracepb.Span_Event{TimeUnixNano: at, Name: e.Name, Attributes: attrs})
	}
	for _, l := range s.Links {
		traceID, spanID, err := ids("link ", l.TraceID, l.SpanID)
		if err != nil {
			return nil, err
		}
		attrs, err := keyValues(l.Attributes)
		if err != nil {
			return nil, err
		}
		p.Links = append(p.Links, &tracepb.Span_Link{TraceId: traceID, SpanId: spanID, Attributes: attrs})
	}
	if s.Status != nil {
		p.Status = &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status.Code), Message: s.Status.Message}
	}
	return p, nil
}

// ids decodes the trace id and span id of a span or (what "link ") a link.
func ids(what, traceHex, spanHex string) (traceID, spanID []byte, err error) {
	if traceID, err = id(what+"traceId", traceHex, 16); err == nil {
		spanID, err = id(what+"spanId", spanHex, 8)
	}
	return traceID, spanID, err
}

// id decodes a hex id of n bytes, as OTLP JSON writes trace and span ids.
func id(field, h string, n int) ([]byte, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != n {
		return nil, fmt.Errorf("%s %q: want %d hex digits", field, h, 2*n)
	}
	return b, nil
}

func nanos(field, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want nanoseconds since 1970", field, v)
	}
	return n, nil
}

func keyValues(kvs []trace.KeyValue) ([]*commonpb.KeyValue, error) {
	out := make([]*commonpb.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		v, err := anyValue(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", kv.Key, err)
		}
		out = append(out, &commonpb.KeyValue{Key: kv.Key, Value: v})
	}
	return out, nil
}

func anyValue(v trace.AnyValue) (*commonpb.AnyValue, error) {
	switch {
	case v.String != nil:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: *v.String}}, nil
	case v.Int != nil:
		n, err := strconv.ParseInt(*v.Int, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("intValue %q: want a 64-bit integer", *v.Int)
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}, nil
	case v.Bool != nil:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: *v.Bool}}, nil
	case v.Double != nil:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: *v.Double}}, nil
	case v.Array != nil:
		arr := &commonpb.ArrayValue{}
		for _, e := range v.Array.Values {
			pe, err := anyValue(e)
			if err != nil {
				return nil, err
			}
			arr.Values = append(arr.Values, pe)
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}, nil
	}
	return &commonpb.AnyValue{}, nil
}
