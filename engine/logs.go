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
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
)

// ErrNoLog: the container ran in the foreground, its output the caller's.
var ErrNoLog = errors.New("ran in the foreground: its output went to the terminal, not to a log (run -d, create and start keep one)")

// LogOptions choose what Logs gives of a container's output.
type LogOptions struct {
	Follow bool // keep giving lines until the container exits (or ctx ends)
	Tail   int  // only the last Tail lines written so far (-1: all)
	// New: only what is written from now on (an attach to a running
	// container); a container not started yet has written nothing.
	New bool
}

// Logs gives a container's output, a line at a time, to emit, in the order
// it was written. Following, it waits for a container created but not yet
// started, and ends when its glassbox lets go of it. The monitor appends the
// log; nothing here holds a lock, so a following reader costs a poll every
// 50 ms and nothing to the container.
func (e *Engine) Logs(ctx context.Context, c *container.Container, o LogOptions, emit func(container.LogLine) error) error {
	f, err := e.openLog(ctx, c, o.Follow)
	if errors.Is(err, os.ErrNotExist) {
		if now, lerr := container.Load(c.Dir); lerr == nil && now.Status != container.Created && now.Status != container.Creating {
			return fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNoLog)
		}
		return nil // no output, and none to come
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if o.New {
		f.Seek(0, io.SeekEnd)
	}
	r := bufio.NewReader(f)
	send := func(line []byte) error {
		var l container.LogLine
		if json.Unmarshal(line, &l) != nil {
			return nil // a line cut short by a full disk
		}
		return emit(l)
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
	// clock stays, to notice the container's end, and where inotify fails.
	changed := watchFile(f.Name())
	defer changed.close()
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
		if !mayWrite(c) {
			// Whatever the monitor wrote before it let go.
			rest, _ := io.ReadAll(r)
			for _, l := range bytes.SplitAfter(append(line, rest...), []byte("\n")) {
				if err := send(l); err != nil {
					return err
				}
			}
			return nil
		}
		if err := poll.wait(ctx); err != nil {
			return err
		}
		r = bufio.NewReader(io.MultiReader(bytes.NewReader(line), f))
	}
	return nil
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
