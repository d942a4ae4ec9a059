package trace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/stages"
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

// The network stage runs while the init starts (stages.Stage.WhileInitWorks):
// of the kernel events in their overlap, glassbox's own are the network
// stage's, the init's the unshare stage's.
func TestKernelEventsOfOverlappingStages(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s, err := Start(Config{Dir: filepath.Join(t.TempDir(), "traces"), Name: "glassbox run", Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	const init = 4242
	s.Stage(stages.Timing{Stage: "unshare", Start: at(0), End: at(10),
		Steps: []stages.Step{{Name: "unshare CLONE_NEWCGROUP", Pid: init, Start: at(8).UnixNano(), End: at(9).UnixNano()}}})
	s.Stage(stages.Timing{Stage: "network", Start: at(2), End: at(6)})
	for _, c := range []struct {
		pid, ms int
		want    string
	}{
		{os.Getpid(), 3, "network"}, // glassbox's netlink calls
		{init, 3, "unshare"},        // the init starting, meanwhile
		{os.Getpid(), 7, "unshare"}, // glassbox waiting for the init
		{init, 8, "unshare"},        // the init's step
	} {
		got := "the root"
		if w := s.place(KernelEvent{Pid: c.pid, Start: at(c.ms), End: at(c.ms)}); w != nil {
			got = w.stage
		}
		if got != c.want {
			t.Errorf("an event of pid %d at %d ms: placed in %s, want stage %s", c.pid, c.ms, got, c.want)
		}
	}
}
