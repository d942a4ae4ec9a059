package engine

// Attaching to a container: its output is its log (Logs), its input its
// stdin FIFO (container.StdinFifo, made by Create for a container asked to
// keep stdin open), and, with a terminal, the size of its window. The
// container's shim holds the other ends, so an attach can come and go — and
// come before the start (docker run -i attaches, then starts).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
)

// Stdin opens a container's stdin for an attach to write to. Read-write: a
// FIFO's write end alone opens only once a reader has, and the container's
// comes with its start, which may come after the attach.
func (e *Engine) Stdin(c *container.Container) (*os.File, error) {
	if c.Spec.Annotations[StdinAnnotation] == "" {
		return nil, fmt.Errorf("container %s was created without an open stdin (docker run -i)", container.ShortID(c.ID))
	}
	f, err := os.OpenFile(c.Path(container.StdinFifo), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("container %s: open its stdin: %w", container.ShortID(c.ID), err)
	}
	return f, nil
}

// Attach joins a container's streams, as docker attach does: its output (o
// says which) goes to emit until it exits or ctx ends, and in — when stdin,
// the write end Stdin opened, is given — goes to its stdin until in ends
// (a once-only stdin ends with it, once the container holds it) or the
// detach keys come, which end the attach and leave the container running.
func (e *Engine) Attach(ctx context.Context, c *container.Container, stdin *os.File, in io.Reader, keys []byte, o LogOptions, emit func(container.LogLine) error) (detached bool, err error) {
	ctx, detach := context.WithCancel(ctx)
	defer detach()
	var keyed atomic.Bool
	// The input goes in only once the output given begins where it is now:
	// with o.New, what the container answers to input sent earlier would
	// come before that beginning, and never be given.
	positioned := make(chan struct{})
	if stdin != nil {
		go func() {
			<-positioned
			if CopyStdin(stdin, in, keys) == ErrDetached {
				keyed.Store(true)
				detach()
				return
			}
			// The input before the start stays in the FIFO only while
			// someone holds it (echo hi | docker run -i).
			e.WaitStarted(ctx, c)
			stdin.Close()
		}()
	}
	err = e.logs(ctx, c, o, emit, sync.OnceFunc(func() { close(positioned) }))
	if keyed.Load() {
		return true, nil
	}
	return false, err
}

// WaitStarted waits while a container is created and not yet started: what
// an attach wrote to its stdin before the start stays in the FIFO only while
// someone holds the FIFO open.
func (e *Engine) WaitStarted(ctx context.Context, c *container.Container) error {
	poll := newPoll(50 * time.Millisecond)
	for {
		now, err := container.Load(c.Dir)
		if err != nil || now.Status != container.Created {
			return err
		}
		if err := poll.wait(ctx); err != nil {
			return err
		}
	}
}

// ErrDetached: the client typed the detach keys; the container goes on.
var ErrDetached = errors.New("detached")

// DefaultDetachKeys: Ctrl-P Ctrl-Q, as Docker's.
var DefaultDetachKeys = []byte{16, 17}

// ParseDetachKeys reads Docker's form of a detach sequence: keys separated
// by commas, each a character or ctrl-X (X a letter, or one of @ [ \ ] ^ _).
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return DefaultDetachKeys, nil
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		x, ctrl := strings.CutPrefix(strings.ToLower(k), "ctrl-")
		switch {
		case !ctrl && len(k) == 1:
			keys = append(keys, k[0])
		case ctrl && len(x) == 1 && x[0] >= 'a' && x[0] <= 'z':
			keys = append(keys, x[0]-'a'+1) // ctrl-a is 1
		case ctrl && len(x) == 1 && strings.Contains("@[\\]^_", x):
			keys = append(keys, x[0]-'@') // ctrl-@ is 0, ctrl-[ 27 (ESC)
		default:
			return nil, fmt.Errorf("detach keys %q: %q is not a key (a character, or ctrl-<a-z @ [ \\ ] ^ _>)", s, k)
		}
	}
	return keys, nil
}

// CopyStdin copies an attach's input to a container's stdin until the input
// ends (nil), or the detach keys come (ErrDetached: the keys themselves are
// not passed on, what came before them is).
func CopyStdin(stdin io.Writer, in io.Reader, keys []byte) error {
	buf := make([]byte, 32<<10)
	matched := 0 // how many of keys the input ended with so far
	for {
		n, err := in.Read(buf)
		out := make([]byte, 0, n+matched)
		for _, b := range buf[:n] {
			switch {
			case len(keys) > 0 && b == keys[matched]:
				if matched++; matched == len(keys) {
					stdin.Write(out)
					return ErrDetached
				}
			case matched > 0:
				// Not the sequence after all: what was held back was input.
				out = append(out, keys[:matched]...)
				matched = 0
				if b == keys[0] {
					matched = 1
					continue
				}
				out = append(out, b)
			default:
				out = append(out, b)
			}
		}
		if _, werr := stdin.Write(out); werr != nil {
			return werr
		}
		if err != nil {
			stdin.Write(keys[:matched]) // a part of the sequence, then the end: input too
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// Resize sets the window size of a container's terminal: TIOCSWINSZ on the
// terminal its init has as stdin, and the kernel sends SIGWINCH to the
// terminal's foreground process group. The init's fd 0 is the container's to
// change, so it is opened only once fstat(2) — of an O_PATH descriptor, which
// opens nothing — has shown a pseudo-terminal's slave (major 136-143).
func (e *Engine) Resize(c *container.Container, rows, cols uint16) error {
	if !c.Spec.Process.Terminal {
		return &InvalidError{fmt.Errorf("container %s has no terminal (-t) to resize", container.ShortID(c.ID))}
	}
	if !Running(c) {
		return fmt.Errorf("container %s %w", container.ShortID(c.ID), ErrNotRunning)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/0", c.Pid), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container %s: its terminal: %w", container.ShortID(c.ID), err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("container %s: its terminal: %w", container.ShortID(c.ID), err)
	}
	if major := unix.Major(st.Rdev); st.Mode&unix.S_IFMT != unix.S_IFCHR || major < 136 || major > 143 {
		return fmt.Errorf("container %s: its init's stdin is no longer its terminal", container.ShortID(c.ID))
	}
	tty, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container %s: open its terminal: %w", container.ShortID(c.ID), err)
	}
	defer unix.Close(tty)
	return SetWindow(tty, rows, cols)
}

// SetWindow sets a terminal's window size (either end of a pseudo-terminal).
func SetWindow(fd int, rows, cols uint16) error {
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		return fmt.Errorf("ioctl(TIOCSWINSZ): %w", err)
	}
	return nil
}
