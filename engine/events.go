package engine

// docker events: the state root's events log (container/events.go), written
// by every glassbox that acts on the root — containers by the stages and the
// lifecycle calls, images and networks here.

import (
	"context"
	"time"

	"github.com/glassbox-dev/glassbox/container"
)

// Events gives the root's events from since to emit; following, it waits for
// more until ctx ends or until (zero: never) passes.
func (e *Engine) Events(ctx context.Context, since, until time.Time, follow bool, emit func(container.Event) error) error {
	return container.ReadEvents(ctx, e.Root, since, until, follow, emit)
}

// event records an image's or a network's event (attrs: key, value, …).
func (e *Engine) event(typ, action, id string, attrs ...string) {
	a := map[string]string{}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i]] = attrs[i+1]
	}
	container.RecordEvent(e.Root, container.Event{Type: typ, Action: action, ID: id, Attributes: a})
}
