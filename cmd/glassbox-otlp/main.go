// Command glassbox-otlp sends a glassbox trace to an OpenTelemetry collector.
// glassbox starts it when --otlp-endpoint or the OTEL_EXPORTER_OTLP_*
// variables name one, and writes the trace to its standard input as the OTLP
// JSON it stores. glassbox-otlp uploads it with the OpenTelemetry OTLP
// clients — gRPC or HTTP/protobuf, per OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL —
// which read the other OTEL_EXPORTER_OTLP_* variables (endpoint, headers,
// TLS, compression, timeout) themselves.
//
// It is a program of its own so that the exporters' gRPC and protobuf stay out
// of glassbox, which every run starts (see trace/otlp.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"

	"github.com/glassbox-dev/glassbox/trace"
)

func main() {
	if err := run(context.Background(), os.Stdin); err != nil {
		// One line: glassbox shows the last line of this program's stderr.
		fmt.Fprintln(os.Stderr, "glassbox-otlp:", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
}

func run(ctx context.Context, in io.Reader) error {
	var f trace.File
	if err := json.NewDecoder(in).Decode(&f); err != nil {
		return fmt.Errorf("read the trace (OTLP JSON) on standard input: %w", err)
	}
	spans, err := resourceSpans(&f)
	if err != nil || len(spans) == 0 {
		return err
	}
	client := newClient()
	if err := client.Start(ctx); err != nil {
		return err
	}
	return errors.Join(client.UploadTraces(ctx, spans), client.Stop(ctx))
}

// newClient is the OTLP client of the protocol the environment asks for;
// glassbox has refused any other before it started this program.
func newClient() otlptrace.Client {
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if protocol == "grpc" {
		return otlptracegrpc.NewClient()
	}
	return otlptracehttp.NewClient()
}
