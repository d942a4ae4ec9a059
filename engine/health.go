package engine

// Health checks: the shim of a container with a check (spec.Healthcheck)
// starts `glassbox monitor --health-check` every interval, which calls
// Probe: the check's command joins the container as exec's does, its exit
// status and first 4 KiB of output are recorded in the container's
// health.json, and a change of status is an event ("health_status:
// healthy"), as in Docker. A probe is not traced: one every few seconds
// would fill the trace store with the same exec.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
)

// Docker keeps this much of a check's output, and this many results.
const (
	healthOutputMax = 4096
	healthLogMax    = 5
)

// StartHealth marks a container with a check as starting, before its start
// is reported (each start and restart begins again without a result).
func StartHealth(c *container.Container) error {
	if spec.HealthcheckOf(c.Spec) == nil {
		os.Remove(c.Path(container.HealthFile))
		return nil
	}
	return c.SaveHealth(&container.Health{Status: container.HealthStarting})
}

// Probe runs a running container's health check once and records the
// result.
func (e *Engine) Probe(ctx context.Context, c *container.Container) error {
	check := spec.HealthcheckOf(c.Spec)
	if check == nil || !Running(c) || Paused(c) {
		return nil // a frozen process cannot answer; Docker skips it too
	}
	h := check.WithDefaults()
	result := e.probe(c, h)
	if !Running(c) {
		return nil // it exited meanwhile: the check says nothing of it
	}
	health := c.Health()
	if health == nil {
		health = &container.Health{Status: container.HealthStarting}
	}
	was := health.Status
	switch {
	case result.ExitCode == 0:
		health.Status, health.FailingStreak = container.HealthHealthy, 0
	case time.Since(c.Started) < h.StartPeriod:
		// Failures while the program starts up do not count.
	default:
		if health.FailingStreak++; health.FailingStreak >= h.Retries {
			health.Status = container.HealthUnhealthy
		}
	}
	if health.Log = append(health.Log, result); len(health.Log) > healthLogMax {
		health.Log = health.Log[len(health.Log)-healthLogMax:]
	}
	if err := c.SaveHealth(health); err != nil {
		return err
	}
	if health.Status != was {
		stages.Event(c, "health_status: "+health.Status)
	}
	return nil
}

// probe runs the check's command in the container, killing it at the
// timeout.
func (e *Engine) probe(c *container.Container, h spec.Healthcheck) container.HealthResult {
	res := container.HealthResult{Start: time.Now(), ExitCode: -1}
	failed := func(err error) container.HealthResult {
		res.End, res.Output = time.Now(), err.Error()
		return res
	}
	s, err := spec.ForExec(stages.JoinSpec(c, c.Spec.Process), h.Command(), nil, "", "", false)
	if err != nil {
		return failed(err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return failed(err)
	}
	defer null.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return failed(err)
	}
	defer outR.Close()
	r, err := stages.Join(c, s, stages.Options{Root: e.Root, ID: c.ID, IO: stages.IO{Stdin: null, Stdout: outW, Stderr: outW}})
	outW.Close()
	if err != nil {
		return failed(err)
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(h.Timeout, func() {
		timedOut.Store(true)
		r.Signal(unix.SIGKILL)
	})
	// The output is read to its end (a check that writes much must not
	// block on a full pipe), and its start kept.
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&out, io.LimitReader(outR, healthOutputMax))
		io.Copy(io.Discard, outR)
		close(read)
	}()
	code := r.Wait()
	timer.Stop()
	select {
	case <-read:
	case <-time.After(100 * time.Millisecond):
		outR.Close() // a process the check left behind holds the pipe: stop reading
		<-read
	}
	res.End, res.ExitCode, res.Output = time.Now(), code, out.String()
	if timedOut.Load() {
		res.ExitCode, res.Output = -1, fmt.Sprintf("Health check exceeded timeout (%v)", h.Timeout)
	}
	return res
}
