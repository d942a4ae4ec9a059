package trace

import (
	"strings"
	"testing"
)

// An endpoint the SDK cannot use is refused by name, in one line, before
// anything runs: the SDK itself would log it and export to localhost.
func TestOTLPEndpointChecked(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	for _, bad := range []string{"not a url", "localhost:4318", "ftp://x", "http://", "http://h:0", "http://h:65536", "http://[::1", "http://h:4318\nx"} {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
		_, err := otlpTarget(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "--otlp-endpoint ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--otlp-endpoint %q: %v", bad, err)
		}
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318")
	if _, err := otlpTarget(""); err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT") {
		t.Errorf("bad OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: %v", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	for _, good := range []string{"http://127.0.0.1:4318", "https://collector.example/otlp"} {
		target, err := otlpTarget(good)
		if err != nil || target != "http/protobuf "+good {
			t.Errorf("--otlp-endpoint %q: %v", good, err)
		}
	}
}

// The protocol is one the exporter speaks, or the run is refused up front.
func TestOTLPProtocolChecked(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	for protocol, want := range map[string]string{"": "http/protobuf ", "http/protobuf": "http/protobuf ", "grpc": "grpc ", "http/json": "", "null": "", "grpc\n": ""} {
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
		target, err := otlpTarget("http://127.0.0.1:4317")
		switch {
		case want == "" && (err == nil || strings.Contains(err.Error(), "\n")):
			t.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: %q, %v; want a one-line refusal", protocol, target, err)
		case want != "" && (err != nil || target != want+"http://127.0.0.1:4317"):
			t.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: %q, %v", protocol, target, err)
		}
	}
}
