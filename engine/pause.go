package engine

// docker pause and unpause: the cgroup freezer (cgroupsv2.Freeze: cgroup.freeze
// on v2, freezer.state on v1) stops every process of the container where it
// is, without a signal it could catch; docker rename: the record's name.

import (
	"context"
	"errors"
	"fmt"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// ErrPaused and ErrNotPaused: the container is frozen (no exec, no second
// pause), or runs (no unpause).
var (
	ErrPaused    = errors.New("is paused")
	ErrNotPaused = errors.New("is not paused")
)

// Pause freezes a running container.
func (e *Engine) Pause(ctx context.Context, c *container.Container) error {
	return e.setPaused(ctx, c, true)
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ctx context.Context, c *container.Container) error {
	return e.setPaused(ctx, c, false)
}

func (e *Engine) setPaused(ctx context.Context, c *container.Container, paused bool) error {
	cg, err := e.freezer(c)
	if err != nil {
		return err
	}
	switch frozen := cg.Frozen(); {
	case frozen && paused:
		return fmt.Errorf("container %s %w already", container.ShortID(c.ID), ErrPaused)
	case !frozen && !paused:
		return fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNotPaused)
	}
	action, set := "unpause", cg.Thaw
	if paused {
		action, set = "pause", cg.Freeze
	}
	tr := trace.Lifecycle(ctx, action, c, e.Root)
	err = set()
	tr.EndLifecycle(err)
	if err == nil {
		stages.Event(c, action)
	}
	return err
}

// Paused says whether a running container is frozen.
func Paused(c *container.Container) bool {
	if c.Status != container.Running || len(c.Cgroups) == 0 {
		return false
	}
	cg, err := cgroupsv2.Reopen(c.Cgroups)
	return err == nil && cg.Frozen()
}

// freezer is a running container's cgroup, to freeze or thaw.
func (e *Engine) freezer(c *container.Container) (*cgroupsv2.Cgroup, error) {
	if !Running(c) || c.Status != container.Running {
		return nil, fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNotRunning)
	}
	cg, err := cgroupsv2.Reopen(c.Cgroups)
	if err != nil {
		return nil, fmt.Errorf("container %s: its cgroup: %w", container.ShortID(c.ID), err)
	}
	return cg, nil
}

// thawForSignal lets a paused container take a signal just sent (stop, kill):
// a frozen task acts on it only once thawed.
func thawForSignal(c *container.Container) {
	if Paused(c) {
		if cg, err := cgroupsv2.Reopen(c.Cgroups); err == nil && cg.Thaw() == nil {
			stages.Event(c, "unpause")
		}
	}
}

// Rename gives a container another name, unique in its state root.
func (e *Engine) Rename(c *container.Container, name string) error {
	if !container.ValidName(name) {
		return &InvalidError{fmt.Errorf("name %q: a name is letters, digits, _ . - (not first), at most 64", name)}
	}
	old := c.Name
	if err := container.Rename(e.Root, c, name); err != nil {
		return err
	}
	stages.Event(c, "rename", "oldName", old)
	return nil
}
