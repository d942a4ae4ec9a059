package trace

// OTLP export runs in a program of its own, glassbox-otlp, installed beside
// glassbox. The OpenTelemetry OTLP exporters link gRPC and protobuf, whose
// package initialisation and pages cost every glassbox process about 1.3 ms
// and 2 MB of resident memory (docs/performance.md), though few runs export.
// A run hands glassbox-otlp its spans as the OTLP JSON it stores, once the
// trace is written.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"

	"github.com/glassbox-dev/glassbox/internal/beside"
)

// export sends one process's spans (OTLP JSON, as AppendJSON wrote them) to
// the collector the environment names: glassbox-otlp inherits the OTEL_*
// variables, and says what failed on its last line of standard error.
func export(ctx context.Context, spans []byte) error {
	prog, err := beside.Program("glassbox-otlp")
	if err != nil {
		return fmt.Errorf("OTLP export needs %w", err)
	}
	cmd := exec.CommandContext(ctx, prog)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // it never outlives glassbox
	cmd.Stdin = bytes.NewReader(spans)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("glassbox-otlp did not finish within %s (OTEL_EXPORTER_OTLP_TIMEOUT and 2 s)", exportTimeout())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if last := lines[len(lines)-1]; last != "" {
		return errors.New(strings.TrimPrefix(last, "glassbox-otlp: "))
	}
	return err
}
