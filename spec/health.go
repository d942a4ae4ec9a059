package spec

// Health checks (--health-cmd and its companions, or the image's
// HEALTHCHECK): a command run in a running container every interval, as
// exec runs one; its exit status says healthy (0) or not. Docker's
// semantics: the first check runs one interval after the start (start
// interval during the start period); a check that outlasts the timeout
// fails; retries failures in a row make the container unhealthy, and
// failures within the start period do not count. Kept in the Spec as
// HealthAnnotation, the JSON of a Healthcheck.

import (
	"encoding/json"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// HealthAnnotation holds a container's Healthcheck as JSON.
const HealthAnnotation = "org.glassbox.healthcheck"

// Healthcheck is Docker's HEALTHCHECK, with its JSON field names (the
// durations in nanoseconds). A zero duration or count means the default.
type Healthcheck struct {
	// Test is ["CMD", ARG…] (run directly), ["CMD-SHELL", COMMAND] (run by
	// /bin/sh -c) or ["NONE"] (the image's check is off).
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// Docker's defaults.
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthStartInterval = 5 * time.Second
	DefaultHealthRetries       = 3
)

// HealthOptions are the --health-* flags: each one given overrides the
// image's check.
type HealthOptions struct {
	Test                                          []string // --health-cmd CMD: ["CMD-SHELL", CMD]
	Interval, Timeout, StartPeriod, StartInterval *time.Duration
	Retries                                       *int
	None                                          bool // --no-healthcheck
}

// set says whether any --health-* flag was given.
func (o HealthOptions) set() bool {
	return o.Test != nil || o.Interval != nil || o.Timeout != nil || o.StartPeriod != nil || o.StartInterval != nil || o.Retries != nil
}

// mergeHealth is the check a container runs: the image's, changed by the
// flags; nil for none.
func mergeHealth(image *Healthcheck, o HealthOptions) (*Healthcheck, error) {
	if o.None {
		if o.set() {
			return nil, fmt.Errorf("--no-healthcheck conflicts with the --health-* options")
		}
		return nil, nil
	}
	var h Healthcheck
	if image != nil {
		h = *image
	}
	if o.Test != nil {
		h.Test = o.Test
	}
	for _, d := range []struct {
		flag string
		v    *time.Duration
		into *time.Duration
	}{{"--health-interval", o.Interval, &h.Interval}, {"--health-timeout", o.Timeout, &h.Timeout},
		{"--health-start-period", o.StartPeriod, &h.StartPeriod}, {"--health-start-interval", o.StartInterval, &h.StartInterval}} {
		if d.v != nil {
			*d.into = *d.v
		}
	}
	if o.Retries != nil {
		h.Retries = *o.Retries
	}
	if len(h.Test) == 0 || h.Test[0] == "NONE" {
		if o.set() && o.Test == nil {
			return nil, fmt.Errorf("--health-* options need a check: --health-cmd, or an image with a HEALTHCHECK")
		}
		return nil, nil
	}
	return &h, h.Check()
}

// Check refuses what Docker refuses: an unknown test form, a duration
// between 0 and 1 ms or below 0, a negative retry count.
func (h *Healthcheck) Check() error {
	switch {
	case len(h.Test) > 1 && h.Test[0] == "CMD", len(h.Test) == 2 && h.Test[0] == "CMD-SHELL" && h.Test[1] != "":
	default:
		return fmt.Errorf("health check test %q: [\"CMD\", ARG...], [\"CMD-SHELL\", COMMAND] or [\"NONE\"]", h.Test)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start period", h.StartPeriod}, {"start interval", h.StartInterval}} {
		if d.v != 0 && d.v < time.Millisecond || d.v > 24*time.Hour {
			return fmt.Errorf("health check %s %v: 0 (the default), or from 1ms to 24h", d.name, d.v)
		}
	}
	if h.Retries < 0 || h.Retries > 1000 {
		return fmt.Errorf("health check retries %d: from 0 (the default, 3) to 1000", h.Retries)
	}
	return nil
}

// Command is what the check runs in the container.
func (h *Healthcheck) Command() []string {
	if h.Test[0] == "CMD-SHELL" {
		return []string{"/bin/sh", "-c", h.Test[1]}
	}
	return h.Test[1:]
}

// WithDefaults fills the zero durations and count with Docker's defaults.
func (h Healthcheck) WithDefaults() Healthcheck {
	if h.Interval == 0 {
		h.Interval = DefaultHealthInterval
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultHealthTimeout
	}
	if h.StartInterval == 0 {
		h.StartInterval = DefaultHealthStartInterval
	}
	if h.Retries == 0 {
		h.Retries = DefaultHealthRetries
	}
	return h
}

// HealthcheckOf is the check a Spec holds, or nil (Validate has refused a
// malformed one).
func HealthcheckOf(s *specs.Spec) *Healthcheck {
	h, _ := parseHealthAnnotation(s)
	return h
}

func parseHealthAnnotation(s *specs.Spec) (*Healthcheck, error) {
	if s == nil || s.Annotations[HealthAnnotation] == "" {
		return nil, nil
	}
	var h Healthcheck
	if err := json.Unmarshal([]byte(s.Annotations[HealthAnnotation]), &h); err != nil {
		return nil, fmt.Errorf("%s: %w", HealthAnnotation, err)
	}
	if err := h.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", HealthAnnotation, err)
	}
	return &h, nil
}

func applyHealth(s *specs.Spec, image *Healthcheck, o HealthOptions) error {
	h, err := mergeHealth(image, o)
	if err != nil || h == nil {
		return err
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	setAnnotation(s, HealthAnnotation, string(data))
	return nil
}
