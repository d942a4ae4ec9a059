package engine

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/spec"
)

// Containers lists the state root's containers: the running and paused ones,
// or with all every one, exited too.
func (e *Engine) Containers(all bool) ([]*container.Container, error) {
	list, err := container.List(e.Root)
	if err != nil {
		return nil, err
	}
	var shown []*container.Container
	for _, c := range list {
		if all || c.Status == container.Running || c.Breakpoint != "" {
			shown = append(shown, c)
		}
	}
	// Oldest first (ps and docker ps turn it round), the id breaking ties.
	slices.SortStableFunc(shown, func(a, b *container.Container) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	return shown, nil
}

// Image names the image a container was made from, as a user would write it,
// or its rootfs directory.
func Image(c *container.Container) string {
	if c.Spec == nil {
		return ""
	}
	if n := c.Spec.Annotations[spec.ImageNameAnnotation]; n != "" {
		return image.Familiar(n)
	}
	return c.Spec.Root.Path
}

// Command is the container's command line.
func Command(c *container.Container) string {
	if c.Spec == nil || c.Spec.Process == nil {
		return ""
	}
	return strings.Join(c.Spec.Process.Args, " ")
}

// Status says where a container is in its life, in Docker's words:
// "Up 3 minutes", "Exited (0) 2 seconds ago".
func Status(c *container.Container) string {
	switch c.Status {
	case container.Running:
		if !c.Alive() {
			return "Dead (glassbox gc removes it)"
		}
		up := "Up " + strings.TrimSuffix(Ago(cmp.Or(c.Started, c.Created)), " ago")
		switch h := c.Health(); {
		case h == nil:
		case h.Status == container.HealthStarting:
			up += " (health: starting)"
		default:
			up += " (" + h.Status + ")"
		}
		return up
	case container.Exited:
		if c.Restarting {
			return fmt.Sprintf("Restarting (%d) %s", c.ExitCode, Ago(c.Finished))
		}
		s := fmt.Sprintf("Exited (%d) %s", c.ExitCode, Ago(c.Finished))
		if c.OOMKilled {
			s += " OOM"
		}
		return s
	}
	if c.Breakpoint != "" {
		return "Paused " + c.Breakpoint
	}
	return "Created"
}

// HealthStatus is where a container's health checks stand (starting,
// healthy, unhealthy), or none: ps --filter health=… matches it.
func HealthStatus(c *container.Container) string {
	if h := c.Health(); h != nil {
		return h.Status
	}
	return "none"
}

// Ago says how long ago t was, as Docker does ("3 minutes ago").
func Ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	n, unit := 0, ""
	switch {
	case d < time.Second:
		return "Less than a second ago"
	case d < time.Minute:
		n, unit = int(d.Seconds()), "second"
	case d < time.Hour:
		n, unit = int(d.Minutes()), "minute"
	case d < 48*time.Hour:
		n, unit = int(d.Hours()), "hour"
	case d < 60*24*time.Hour:
		n, unit = int(d.Hours()/24), "day"
	case d < 2*365*24*time.Hour:
		n, unit = int(d.Hours()/24/30), "month"
	default:
		n, unit = int(d.Hours()/24/365), "year"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}
