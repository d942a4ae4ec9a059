package spec

// How a container is stopped: the signal its program takes as "stop"
// (--stop-signal; SIGTERM by default) and how long a stop waits for it
// before SIGKILL (--stop-timeout; 10 s by default), kept in the Spec.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// LabelAnnotationPrefix begins the annotations that hold a container's labels
// (--label KEY=VALUE: LabelAnnotationPrefix+KEY = VALUE).
const LabelAnnotationPrefix = "org.glassbox.label."

// LabelsOf are the labels a Spec holds.
func LabelsOf(s *specs.Spec) map[string]string {
	var out map[string]string
	for k, v := range s.Annotations {
		if key, ok := strings.CutPrefix(k, LabelAnnotationPrefix); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[key] = v
		}
	}
	return out
}

// InitAnnotation "true": pid 1 is a reaper that runs the program as its
// child (--init).
const InitAnnotation = "org.glassbox.init"

// The stop annotations: a signal's number, a wait's seconds.
const (
	StopSignalAnnotation  = "org.glassbox.stop-signal"
	StopTimeoutAnnotation = "org.glassbox.stop-timeout"
)

// ParseSignal reads a signal as a name (KILL, SIGKILL, kill) or a number.
func ParseSignal(sig string) (unix.Signal, error) {
	s := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(sig), "SIG"))
	if n, err := strconv.Atoi(sig); err == nil {
		s = unix.Signal(n)
	}
	if s <= 0 || s > 64 {
		return 0, fmt.Errorf("%s: no such signal", sig)
	}
	return s, nil
}

// StopOf is a container's stop signal and wait before SIGKILL.
func StopOf(s *specs.Spec) (unix.Signal, time.Duration) {
	sig, wait := unix.SIGTERM, 10*time.Second
	if s == nil {
		return sig, wait
	}
	if n, err := strconv.Atoi(s.Annotations[StopSignalAnnotation]); err == nil && n > 0 && n <= 64 {
		sig = unix.Signal(n)
	}
	if n, err := strconv.Atoi(s.Annotations[StopTimeoutAnnotation]); err == nil && n >= 0 {
		wait = time.Duration(n) * time.Second
	}
	return sig, wait
}

// applyStop records --stop-signal and --stop-timeout.
func applyStop(s *specs.Spec, signal string, timeout *int) error {
	if signal != "" {
		sig, err := ParseSignal(signal)
		if err != nil {
			return fmt.Errorf("--stop-signal %w", err)
		}
		s.Annotations[StopSignalAnnotation] = strconv.Itoa(int(sig))
	}
	if timeout != nil {
		if *timeout < 0 || *timeout > 24*3600 {
			return fmt.Errorf("--stop-timeout %d: seconds from 0 to 86400", *timeout)
		}
		s.Annotations[StopTimeoutAnnotation] = strconv.Itoa(*timeout)
	}
	return nil
}
