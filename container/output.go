package container

// What outlives a container's process: its output, in its state directory,
// and — for a container removed when it exits (--rm) — its exit code, for a
// short while in the state root, for whoever waits for it (docker run --rm
// through the daemon: the client asks for the code after the removal).

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/atomicfile"
)

// LogFile is a container's output, in its state directory: one JSON object
// per line, like Docker's json-file driver.
const LogFile = "container-log.json"

// StdinFifo is a container's stdin when it is open to attaches (docker run
// -i, docker attach): a FIFO in its state directory, read by the container
// (or, with a terminal, by its shim), written by whoever attaches.
const StdinFifo = "stdin"

// StopMark in a state directory says a stop ended the container: no restart
// policy starts it again, until a start does.
const StopMark = "stop-requested"

// LogLine is one line of a container's output.
type LogLine struct {
	Stream string    `json:"stream"` // stdout or stderr
	Time   time.Time `json:"time"`
	Log    string    `json:"log"`
}

// AppendLog appends one line to a container's log (the shim writes the rest).
func AppendLog(path string, l LogLine) error {
	line, err := json.Marshal(l)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(line, '\n'))
	return err
}

// exitsDir keeps the exit codes of containers removed as they exited.
func exitsDir(root string) string { return filepath.Join(root, "exits") }

// KeepExitCode writes the exit code of a container about to be removed.
func KeepExitCode(root, id string, code int) error {
	if err := os.MkdirAll(exitsDir(root), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(exitsDir(root), id), []byte(strconv.Itoa(code)), 0o600)
}

// KeptExitCode is the exit code KeepExitCode wrote for a container.
func KeptExitCode(root, id string) (int, bool) {
	data, err := os.ReadFile(filepath.Join(exitsDir(root), id))
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return code, err == nil
}

// SweepExitCodes removes the exit codes kept for more than a minute (gc):
// a waiter asks for one as its container goes.
func SweepExitCodes(root string) {
	entries, _ := os.ReadDir(exitsDir(root))
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(filepath.Join(exitsDir(root), e.Name()))
		}
	}
}
