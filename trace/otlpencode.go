package trace

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON encodes the file as encoding/json would, without reflection: a
// glassbox process writes one trace, and encoding/json's first use in a
// process (building its encoders) costs ~4 ms of every run; this costs <1 ms.
func (f *File) AppendJSON(b []byte) []byte {
	b = append(b, `{"resourceSpans":[`...)
	for i, rs := range f.ResourceSpans {
		b = comma(b, i)
		b = append(b, `{"resource":{`...)
		if len(rs.Resource.Attributes) > 0 {
			b = append(b, `"attributes":`...)
			b = appendKeyValues(b, rs.Resource.Attributes)
		}
		b = append(b, `},"scopeSpans":[`...)
		for j, ss := range rs.ScopeSpans {
			b = comma(b, j)
			b = append(b, `{"scope":{"name":`...)
			b = appendString(b, ss.Scope.Name)
			b = append(b, `},"spans":[`...)
			for k := range ss.Spans {
				b = comma(b, k)
				b = appendSpan(b, &ss.Spans[k])
			}
			b = append(b, "]}"...)
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}"...)
}

func appendSpan(b []byte, s *Span) []byte {
	b = append(b, `{"traceId":`...)
	b = appendString(b, s.TraceID)
	b = append(b, `,"spanId":`...)
	b = appendString(b, s.SpanID)
	if s.ParentSpanID != "" {
		b = append(b, `,"parentSpanId":`...)
		b = appendString(b, s.ParentSpanID)
	}
	b = append(b, `,"name":`...)
	b = appendString(b, s.Name)
	b = append(b, `,"kind":`...)
	b = strconv.AppendInt(b, int64(s.Kind), 10)
	b = append(b, `,"startTimeUnixNano":`...)
	b = appendString(b, s.Start)
	b = append(b, `,"endTimeUnixNano":`...)
	b = appendString(b, s.End)
	b = appendAttributes(b, s.Attributes)
	if len(s.Events) > 0 {
		b = append(b, `,"events":[`...)
		for i, e := range s.Events {
			b = comma(b, i)
			b = append(b, `{"timeUnixNano":`...)
			b = appendString(b, e.Time)
			b = append(b, `,"name":`...)
			b = appendString(b, e.Name)
			b = appendAttributes(b, e.Attributes)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(s.Links) > 0 {
		b = append(b, `,"links":[`...)
		for i, l := range s.Links {
			b = comma(b, i)
			b = append(b, `{"traceId":`...)
			b = appendString(b, l.TraceID)
			b = append(b, `,"spanId":`...)
			b = appendString(b, l.SpanID)
			b = appendAttributes(b, l.Attributes)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if s.Status != nil {
		b = append(b, `,"status":{`...)
		sep := false
		if s.Status.Code != 0 {
			b = append(b, `"code":`...)
			b = strconv.AppendInt(b, int64(s.Status.Code), 10)
			sep = true
		}
		if s.Status.Message != "" {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"message":`...)
			b = appendString(b, s.Status.Message)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendKeyValues(b []byte, kvs []KeyValue) []byte {
	b = append(b, '[')
	for i, kv := range kvs {
		b = comma(b, i)
		b = append(b, `{"key":`...)
		b = appendString(b, kv.Key)
		b = append(b, `,"value":`...)
		b = appendAnyValue(b, kv.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendAnyValue(b []byte, v AnyValue) []byte {
	b = append(b, '{')
	switch {
	case v.String != nil:
		b = append(b, `"stringValue":`...)
		b = appendString(b, *v.String)
	case v.Int != nil:
		b = append(b, `"intValue":`...)
		b = appendString(b, *v.Int)
	case v.Bool != nil:
		b = append(b, `"boolValue":`...)
		b = strconv.AppendBool(b, *v.Bool)
	case v.Double != nil:
		b = append(b, `"doubleValue":`...)
		b = strconv.AppendFloat(b, *v.Double, 'g', -1, 64)
	case v.Array != nil:
		b = append(b, `"arrayValue":{"values":[`...)
		for i, e := range v.Array.Values {
			b = comma(b, i)
			b = appendAnyValue(b, e)
		}
		b = append(b, "]}"...)
	}
	return append(b, '}')
}

// appendAttributes appends `,"attributes":[…]` when there are any.
func appendAttributes(b []byte, kvs []KeyValue) []byte {
	if len(kvs) == 0 {
		return b
	}
	return appendKeyValues(append(b, `,"attributes":`...), kvs)
}

func comma(b []byte, i int) []byte {
	if i > 0 {
		return append(b, ',')
	}
	return b
}

// appendString writes a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 (a kernel path can hold any bytes)
// replaced by U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
