package container

// What happened in a state root — containers created, started, died and
// destroyed; images pulled, tagged and deleted; networks made and removed —
// one JSON object a line in <root>/events.jsonl. Whichever glassbox did it
// appends the line (the CLI, the daemon, a container's monitor), as podman's
// file events backend does, so docker events through the daemon sees what the
// CLI did too. An append is one write(2) with O_APPEND: lines from several
// processes never interleave. Past 4 MiB the file becomes events.jsonl.1
// (the one before goes), which readers read first.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
)

// Event is one line of the events log.
type Event struct {
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`   // container, image, network
	Action     string            `json:"action"` // create, start, die, destroy, pull, tag, delete, …
	ID         string            `json:"id"`
	Attributes map[string]string `json:"attributes,omitempty"` // name, image, exitCode, signal
}

// Keys are what filters on an event match: its type, its action, its
// object's id and name (under its type: container, image, network), and a
// container's image.
func (ev Event) Keys() map[string][]string {
	keys := map[string][]string{"type": {ev.Type}, "event": {ev.Action}, ev.Type: {ev.ID, ev.Attributes["name"]}}
	if ev.Type == "container" && ev.Attributes["image"] != "" {
		keys["image"] = []string{ev.Attributes["image"]}
	}
	return keys
}

const (
	eventsFile     = "events.jsonl"
	maxEventsBytes = 4 << 20
)

// RecordEvent appends an event to root's log; an event that cannot be
// written is lost, never the operation's failure.
func RecordEvent(root string, ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	line, err := json.Marshal(ev)
	if err != nil {
		return
	}
	path := filepath.Join(root, eventsFile)
	f, err := plainfile.Open(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(line, '\n'))
	if fi, err := f.Stat(); err == nil && fi.Size() > maxEventsBytes {
		os.Rename(path, path+".1")
	}
}

// Event records what happened to this container, with its name and attrs
// (key, value, …).
func (c *Container) Event(action string, attrs ...string) {
	a := map[string]string{"name": c.Name}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			a[attrs[i]] = attrs[i+1]
		}
	}
	RecordEvent(filepath.Dir(filepath.Dir(c.Dir)), Event{Type: "container", Action: action, ID: c.ID, Attributes: a})
}

// ReadEvents gives root's events from since (zero: from the first kept) to
// emit, in order. Following, it waits for more until ctx ends or until
// passes (zero: no end); else it stops at the end of the log.
func ReadEvents(ctx context.Context, root string, since, until time.Time, follow bool, emit func(Event) error) error {
	path := filepath.Join(root, eventsFile)
	pass := func(ev Event) (bool, error) {
		if !until.IsZero() && ev.Time.After(until) {
			return false, nil
		}
		if ev.Time.Before(since) {
			return true, nil
		}
		return true, emit(ev)
	}
	// The rotated file first, when the reader starts early enough for it.
	if f, err := os.Open(path + ".1"); err == nil {
		more, err := (&eventLog{f: f}).read(pass)
		f.Close()
		if err != nil || !more {
			return err
		}
	}
	var log eventLog
	defer log.close()
	delay := time.Duration(0)
	for {
		if log.f == nil {
			f, err := os.Open(path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			log = eventLog{f: f}
		}
		if log.f != nil {
			n := log.lines
			more, err := log.read(pass)
			if err != nil || !more {
				return err
			}
			if log.lines > n {
				delay = 0
			}
			// Rotated away: once its last lines are read, the new file.
			if fi, err := os.Stat(path); err == nil {
				if held, err := log.f.Stat(); err == nil && !os.SameFile(fi, held) {
					log.close()
					continue
				}
			}
		}
		if !follow || !until.IsZero() && time.Now().After(until) {
			return nil
		}
		delay = min(max(2*delay, 5*time.Millisecond), 100*time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// eventLog reads an events file as it grows: a line being written waits in
// pending until its newline comes.
type eventLog struct {
	f       *os.File
	pending []byte
	lines   int
}

// read passes the complete lines written so far; false once pass says the
// events are past the reader's end.
func (l *eventLog) read(pass func(Event) (bool, error)) (bool, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := l.f.Read(buf)
		l.pending = append(l.pending, buf[:n]...)
		for {
			i := bytes.IndexByte(l.pending, '\n')
			if i < 0 {
				break
			}
			line := l.pending[:i]
			l.pending = l.pending[i+1:]
			l.lines++
			var ev Event
			if json.Unmarshal(line, &ev) != nil {
				continue
			}
			if more, err := pass(ev); err != nil || !more {
				return more, err
			}
		}
		if err != nil || n == 0 {
			return true, nil // the end, for now
		}
	}
}

func (l *eventLog) close() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
