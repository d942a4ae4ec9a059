package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
)

// ErrNoLog: the container's output went to whoever ran it (an OCI
// runtime's caller: containerd, podman), not to a log.
var ErrNoLog = errors.New("keeps no log: its output went to whoever ran it (glassbox-runc's caller keeps it), not to a log")

// LogOptions choose what Logs gives of a container's output.
type LogOptions struct {
	Follow bool // keep giving lines until the container exits (or ctx ends)
	Tail   int  // only the last Tail lines written so far (-1: all)
	// New: only what is written from now on (an attach to a running
	// container); a container not started yet has written nothing.
	New bool
}

// ErrNoLogDriver: the container keeps no log (docker's words first).
var ErrNoLogDriver = errors.New("configured logging driver does not support reading: --log-driver none keeps no log")

// LogReadable says whether a container keeps a log that Logs can read.
func LogReadable(c *container.Container) error {
	if cfg, err := spec.LogConfigOf(c.Spec); err == nil && cfg.Driver == "none" {
		return fmt.Errorf("container %s: %w", container.ShortID(c.ID), ErrNoLogDriver)
	}
	return nil
}

// Logs gives a container's output, a line at a time, to emit, in the order
// it was written: the files a rotated log left (--log-opt max-file), oldest
// first, then the live one. Following, it waits for a container created but
// not yet started, goes on to the new file when the log is rotated, and ends
// when its glassbox lets go of the container. The shim appends the log;
// nothing here holds a lock, so a following reader costs the container
// nothing.
func (e *Engine) Logs(ctx context.Context, c *container.Container, o LogOptions, emit func(container.LogLine) error) error {
	return e.logs(ctx, c, o, emit, func() {})
}

// logs is Logs, calling positioned once it knows where the output it gives
// begins (or that it gives none).
func (e *Engine) logs(ctx context.Context, c *container.Container, o LogOptions, emit func(container.LogLine) error, positioned func()) error {
	defer positioned()
	if err := LogReadable(c); err != nil {
		return err
	}
	f, err := e.openLog(ctx, c, o.Follow)
	if errors.Is(err, os.ErrNotExist) {
		if now, lerr := container.Load(c.Dir); lerr == nil && (now.OCI || now.Status != container.Created && now.Status != container.Creating) {
			return fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNoLog)
		}
		return nil // no output, and none to come
	}
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	var history []io.Reader
	if o.New {
		f.Seek(0, io.SeekEnd)
	} else {
		for _, p := range rotatedLogs(c) {
			if old, err := os.Open(p); err == nil {
				defer old.Close()
				history = append(history, old)
			}
		}
	}
	positioned()
	r := bufio.NewReader(io.MultiReader(append(history, f)...))
	send := func(line []byte) error {
		var l container.LogLine
		if json.Unmarshal(line, &l) != nil {
			return nil // a line cut short by a full disk
		}
		return emit(l)
	}
	// sendRest sends a file's last lines, at its end for good.
	sendRest := func(line []byte) error {
		rest, _ := io.ReadAll(r)
		for _, l := range bytes.SplitAfter(append(line, rest...), []byte("\n")) {
			if err := send(l); err != nil {
				return err
			}
		}
		return nil
	}
	var last [][]byte
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			r = bufio.NewReader(io.MultiReader(bytes.NewReader(line), f)) // a partial line: read again
			break
		}
		if o.Tail < 0 {
			if err := send(line); err != nil {
				return err
			}
			continue
		}
		if last = append(last, line); len(last) > o.Tail {
			last = last[1:]
		}
	}
	for _, l := range last {
		if err := send(l); err != nil {
			return err
		}
	}
	poll := newPoll(50 * time.Millisecond)
	// Woken by the kernel when the log grows (inotify), not only by the
	// poll's clock: a key typed at an attached shell echoes at once. The
	// clock stays, to notice the container's end, a rotation, and where
	// inotify fails.
	changed := watchFile(f.Name())
	defer func() { changed.close() }()
	poll.wake = changed.fd
	for o.Follow {
		line, err := r.ReadBytes('\n')
		if err == nil {
			if err := send(line); err != nil {
				return err
			}
			poll.reset()
			continue
		}
		if next := rotatedFrom(f); next != nil {
			if err := sendRest(line); err != nil {
				next.Close()
				return err
			}
			f.Close()
			changed.close()
			f, changed = next, watchFile(next.Name())
			poll.wake = changed.fd
			r = bufio.NewReader(f)
			continue
		}
		if !mayWrite(c) {
			return sendRest(line) // whatever the shim wrote before it let go
		}
		if err := poll.wait(ctx); err != nil {
			return err
		}
		r = bufio.NewReader(io.MultiReader(bytes.NewReader(line), f))
	}
	return nil
}

// rotatedLogs are the files a rotated log left, oldest first: LOG.N … LOG.1.
func rotatedLogs(c *container.Container) []string {
	var files []string
	for n := 1; ; n++ {
		p := c.Path(container.LogFile) + "." + strconv.Itoa(n)
		if _, err := os.Lstat(p); err != nil {
			return files
		}
		files = append([]string{p}, files...)
	}
}

// rotatedFrom opens the log that replaced f at its path, if one did: the
// shim rotated it (f is complete then: the shim writes whole lines).
func rotatedFrom(f *os.File) *os.File {
	was, err := f.Stat()
	if err != nil {
		return nil
	}
	next, err := os.Open(f.Name())
	if err != nil {
		return nil // between the rotation's remove and create: the next poll sees it
	}
	if now, err := next.Stat(); err != nil || os.SameFile(was, now) {
		next.Close()
		return nil
	}
	return next
}

// openLog opens a container's log. The monitor makes it as the container
// starts (Create makes it empty beforehand), which can be after a caller
// began to follow (run -d returned): following waits for it while the
// container is created or runs.
func (e *Engine) openLog(ctx context.Context, c *container.Container, follow bool) (*os.File, error) {
	poll := newPoll(50 * time.Millisecond)
	for {
		f, err := os.Open(c.Path(container.LogFile))
		if !errors.Is(err, os.ErrNotExist) || !follow {
			return f, err
		}
		if !mayWrite(c) {
			return nil, err
		}
		if err := poll.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// mayWrite says whether a container's output may still grow: it was
// created and has not been started yet, or it runs. (The record first: a
// created container's lock is left alone, which its start is about to take.)
func mayWrite(c *container.Container) bool {
	now, err := container.Load(c.Dir)
	if err != nil {
		return false // removed
	}
	return now.Status == container.Created && !now.OCI || Running(c)
}

// poll paces a wait for a file to change: 1 ms at first, doubling up to
// max. A short-lived container's output and exit are then seen within
// milliseconds (docker run --rm of /bin/true waited up to 50 ms a poll),
// and a long follow costs a wakeup every max. With wake (an inotify
// descriptor), a change ends the wait at once.
type poll struct {
	d, max time.Duration
	wake   int // -1: none
}

func newPoll(max time.Duration) *poll { return &poll{d: time.Millisecond, max: max, wake: -1} }

func (p *poll) reset() { p.d = time.Millisecond }

func (p *poll) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.wake >= 0 {
		// Bounded by the poll's step and by ctx's end, whichever first.
		timeout := p.d
		if deadline, ok := ctx.Deadline(); ok {
			timeout = min(timeout, time.Until(deadline))
		}
		fds := []unix.PollFd{{Fd: int32(p.wake), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, int(max(timeout.Milliseconds(), 1))); n > 0 {
			drain(p.wake)
			p.reset() // it changed: the next wait is short again
			return ctx.Err()
		}
	} else {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.d):
		}
	}
	p.d = min(2*p.d, p.max)
	return ctx.Err()
}

// fileWatch is an inotify descriptor on one file's writes (fd -1: none).
type fileWatch struct{ fd int }

func watchFile(path string) fileWatch {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fileWatch{-1}
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY|unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return fileWatch{-1}
	}
	return fileWatch{fd}
}

func (w fileWatch) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
	}
}

// drain reads the events waiting on an inotify descriptor: what they say
// is only that the file changed.
func drain(fd int) {
	buf := make([]byte, 4096)
	for {
		if n, err := unix.Read(fd, buf); n <= 0 || err != nil {
			return
		}
	}
}
