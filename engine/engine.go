// Package engine is what glassbox does to containers, whoever asks: the
// Docker-style CLI, the runc-style CLI and the daemon's Engine API routes each
// parse their input, call one method here, and print or encode the answer.
// The engine drives the stages (stages/), the trace beside them (trace/), and
// the records (container/); it knows no flag and no HTTP.
//
// A container's life, and who moves it along:
//
//	creating ──stages──▶ running ──the program exits / Stop / Kill──▶ exited ──Remove──▶ (gone)
//	                        ▲                                           │
//	                        └──────────────── start ────────────────────┘
//
// A container belongs to the glassbox process that runs its stages, and then
// to its monitor: that process holds flock(2) on the container's lock file
// from the first stage until its teardown is done, and it alone undoes what
// the stages made. Every other process — a CLI command, the daemon — acts on
// the container from outside: it signals the init, waits for the lock to be
// let go, and takes the lock itself only to remove what is left (Remove) or
// to clean up after a holder that died (gc). So the CLI and the daemon see,
// and may act on, the same containers: the state root is the truth, as
// podman's is.
package engine

import (
	"fmt"
	"os"
	"time"
)

// Engine carries out operations on the containers of one state root.
type Engine struct {
	Root string // the state root (--root, GLASSBOX_ROOT)

	// Teardown bounds the wait for a container's glassbox to finish its
	// teardown once the init is dead (GLASSBOX_TEARDOWN_TIMEOUT): long,
	// because the wait ends anyway when that glassbox does, and fifty
	// containers stopped at once on a slow, busy machine share two CPUs
	// for their teardowns.
	Teardown time.Duration
}

// New is the engine of state root root, with GLASSBOX_TEARDOWN_TIMEOUT
// read (a value that is not a positive duration is refused).
func New(root string) (*Engine, error) {
	e := &Engine{Root: root, Teardown: 2 * time.Minute}
	if v := os.Getenv("GLASSBOX_TEARDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("GLASSBOX_TEARDOWN_TIMEOUT=%s: expected a duration such as 30s or 2m", v)
		}
		e.Teardown = d
	}
	return e, nil
}
