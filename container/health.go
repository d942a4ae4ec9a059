package container

import (
	"encoding/json"
	"os"
	"time"

	"github.com/glassbox-dev/glassbox/internal/atomicfile"
)

// HealthFile holds the results of a container's health checks, in its state
// directory: written by each check (glassbox monitor --health-check, which
// the shim starts every interval), read by ps and inspect.
const HealthFile = "health.json"

// The health statuses, Docker's words.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Health is where a container's checks stand, in the shape of Docker's
// State.Health.
type Health struct {
	Status        string
	FailingStreak int
	Log           []HealthResult // the last few, oldest first
}

// HealthResult is one check.
type HealthResult struct {
	Start, End time.Time
	ExitCode   int // -1: it did not run, or outlasted its timeout
	Output     string
}

// Health reads the container's health, nil if it has no check (or none
// has begun).
func (c *Container) Health() *Health {
	data, err := os.ReadFile(c.Path(HealthFile))
	if err != nil {
		return nil
	}
	var h Health
	if json.Unmarshal(data, &h) != nil || h.Status == "" {
		return nil
	}
	return &h
}

// SaveHealth writes the container's health.
func (c *Container) SaveHealth(h *Health) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(c.Path(HealthFile), data, 0o644)
}
