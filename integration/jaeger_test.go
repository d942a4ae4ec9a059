package integration

// make e2e-otel: glassbox's traces in a real backend. Jaeger (built from the
// Go module proxy as a tool, hack/e2e-otel) runs on loopback with in-memory
// storage; glassbox exports to it over OTLP/HTTP, and Jaeger's query API says
// what arrived. Outside the default tests: GLASSBOX_JAEGER names the binary.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jaegerConfig is the smallest Jaeger v2 (an OpenTelemetry collector): OTLP in,
// memory storage, the query API; every port on loopback.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

func TestJaegerSeesTheTrace(t *testing.T) {
	bin := os.Getenv("GLASSBOX_JAEGER")
	if bin == "" {
		t.Skip("make e2e-otel builds Jaeger and runs this (GLASSBOX_JAEGER names its binary)")
	}
	query, grpc, otlp := freePort(t), freePort(t), freePort(t)
	config := filepath.Join(t.TempDir(), "jaeger.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf(jaegerConfig, query, grpc, otlp)), 0o644)
	jaeger := exec.Command(bin, "--config", config)
	logs, _ := os.Create(filepath.Join(t.TempDir(), "jaeger.log"))
	jaeger.Stdout, jaeger.Stderr = logs, logs
	if err := jaeger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jaeger.Process.Kill(); jaeger.Wait() })
	api := "http://127.0.0.1:" + strconv.Itoa(query) + "/api/"
	get := func(path string, into any) error {
		resp, err := http.Get(api + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(into)
	}
	var services struct{ Data []string }
	for deadline := time.Now().Add(30 * time.Second); get("services", &services) != nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(logs.Name())
			t.Fatalf("Jaeger's query API did not answer:\n%s", data)
		}
	}

	e := newEnv(t)
	e.importBusybox()
	endpoint := "http://127.0.0.1:" + strconv.Itoa(otlp)
	for _, args := range [][]string{
		{"run", "--rm", "--otlp-endpoint", endpoint, "busybox", "true"},
		{"run", "--rm", "--otlp-endpoint", endpoint, "--network", "none", "-u", "1000", "busybox", "id"},
		{"run", "--rm", "--otlp-endpoint", endpoint, "-v", t.TempDir() + ":/data", "busybox", "ls", "/data"},
	} {
		e.ok(args...)
	}
	files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json"))

	// What Jaeger holds: the service, few operations, each trace's tree.
	var ops struct{ Data []string }
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if get("services/glassbox/operations", &ops) == nil && len(ops.Data) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no glassbox operations reached Jaeger")
		}
	}
	if len(ops.Data) > 60 {
		t.Errorf("Jaeger lists %d operations for glassbox, want at most 60: %v", len(ops.Data), ops.Data)
	}
	t.Logf("%d operations in Jaeger from %d traces", len(ops.Data), len(files))
	for _, path := range files {
		id := strings.TrimSuffix(filepath.Base(path), ".json")
		var got struct {
			Data []struct {
				Spans []struct {
					SpanID, OperationName string
					References            []struct{ RefType, SpanID string }
					StartTime             int64
					Tags                  []struct {
						Key   string
						Value any
					}
				}
				Processes map[string]struct {
					ServiceName string
					Tags        []struct {
						Key   string
						Value any
					}
				}
			}
		}
		for deadline := time.Now().Add(20 * time.Second); get("traces/"+id, &got) != nil || len(got.Data) == 0; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("trace %s never reached Jaeger", id)
			}
		}
		spans := got.Data[0].Spans
		stored := must(os.ReadFile(path))
		if want := strings.Count(string(stored), `"spanId":`) - strings.Count(string(stored), `"links":[`); len(spans) < want/2 {
			t.Errorf("trace %s: Jaeger has %d spans, the store about %d", id, len(spans), want)
		}
		byID := map[string]int64{}
		var roots, stages int
		root := ""
		for _, s := range spans {
			byID[s.SpanID] = s.StartTime
			if len(s.References) == 0 {
				roots++
				root = s.SpanID
				if s.OperationName != "glassbox run" {
					t.Errorf("trace %s: root %q", id, s.OperationName)
				}
			}
		}
		for _, s := range spans {
			for _, r := range s.References {
				if r.RefType != "CHILD_OF" {
					continue
				}
				if s.StartTime < byID[r.SpanID] {
					t.Errorf("trace %s: %s starts before its parent", id, s.OperationName)
				}
				if r.SpanID == root && slices.Contains([]string{"rootfs", "cgroup", "unshare", "network", "mount", "exec"}, s.OperationName) {
					stages++
				}
			}
		}
		if roots != 1 || stages != 6 {
			t.Errorf("trace %s in Jaeger: %d roots, %d stages; want 1 and 6", id, roots, stages)
		}
		tags := map[string]bool{}
		for _, p := range got.Data[0].Processes {
			for _, tag := range p.Tags {
				tags[tag.Key] = true
			}
		}
		for _, key := range []string{"service.version", "host.name", "container.runtime.name"} {
			if !tags[key] {
				t.Errorf("trace %s: Jaeger's process has no %s (%v)", id, key, tags)
			}
		}
	}
	e.noState()
}
