package main

// run -t: the container's process gets a pseudo-terminal. The init makes the
// pair inside the container (stages/console.go: /dev/ptmx of the container's
// own devpts, so tty(1) there names its /dev/pts/N) and sends the master back
// over a socketpair; the slave is the process's stdin, stdout and stderr and
// its controlling terminal. glassbox puts the caller's own terminal in raw
// mode so that every key — Ctrl-C, Ctrl-D, Ctrl-Z — reaches the container's
// terminal unchanged, and copies bytes both ways. A SIGWINCH (the caller's
// window changed) is passed on as TIOCSWINSZ on the master, which the kernel
// turns into a SIGWINCH inside.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/stages"
)

type console struct {
	socket  *os.File // our end of the socketpair the master comes over
	initEnd *os.File // the init's end: ours is closed once the init has its copy
	null    *os.File // the init's stdin until it has the pty
	mu      sync.Mutex
	master  *os.File // nil until it has come
	in      *os.File // the caller's terminal, read without blocking
	restore func()
	done    chan struct{} // the container's output has all been copied
}

// consoleFor prepares a terminal for a process that asks for one (nil when
// it asks for none): a socketpair whose other end goes to the init, and the
// caller's window size as process.consoleSize, so the program starts with
// it. Until the init has the pty, its stdin is /dev/null.
func consoleFor(p *specs.Process, opts *stages.Options) (*console, error) {
	if !p.Terminal {
		return nil, nil
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("pseudo-terminal: socketpair: %w", err)
	}
	if size, err := pty.GetsizeFull(os.Stdin); err == nil {
		p.ConsoleSize = &specs.Box{Height: uint(size.Rows), Width: uint(size.Cols)}
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	opts.Stdin = null
	c := &console{socket: os.NewFile(uintptr(fds[0]), "console socket"), initEnd: os.NewFile(uintptr(fds[1]), "console socket (init's end)"),
		null: null, restore: func() {}, done: make(chan struct{})}
	opts.Console = c.initEnd
	return c, nil
}

// receive takes the master the init sent (it did so before execve, so it is
// already waiting in the socket).
func (c *console) receive() error {
	c.initEnd.Close()
	c.null.Close()
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
	c.socket.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, oobn, _, _, err := unix.Recvmsg(int(c.socket.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	c.socket.Close()
	if err != nil {
		return fmt.Errorf("receive the container's pty master: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return errors.New("receive the container's pty master: no descriptor came")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return errors.New("receive the container's pty master: no descriptor came")
	}
	c.mu.Lock()
	c.master = os.NewFile(uintptr(fds[0]), "pty master")
	c.mu.Unlock()
	return nil
}

// resize copies the caller's window size to the container's terminal.
func (c *console) resize() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if size, err := pty.GetsizeFull(os.Stdin); err == nil && c.master != nil {
		pty.Setsize(c.master, size)
	}
}

// attach starts copying, once the process runs: stdin to the master only
// when interactive (-i), the master to stdout always.
func (c *console) attach(interactive bool) error {
	if err := c.receive(); err != nil {
		close(c.done)
		return err
	}
	if interactive && term.IsTerminal(int(os.Stdin.Fd())) {
		if state, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			c.restore = func() { term.Restore(int(os.Stdin.Fd()), state) }
		}
	}
	if interactive {
		// Read the caller's terminal through a descriptor of our own, opened
		// O_NONBLOCK so the runtime can stop the read when the container
		// exits: a read blocked on os.Stdin would swallow the next thing
		// typed at the caller's shell.
		in, err := os.OpenFile("/dev/tty", os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			in = os.Stdin // not a terminal: a pipe or a file ends by itself
		}
		c.in = in
		go io.Copy(c.master, in)
	}
	go func() {
		io.Copy(os.Stdout, c.master) // ends with EIO once the last holder of the slave exits
		close(c.done)
	}()
	return nil
}

// discard closes the sockets of a process that never started.
func (c *console) discard() {
	c.socket.Close()
	c.initEnd.Close()
	c.null.Close()
}

// hangUp closes the master: the container's terminal hangs up.
func (c *console) hangUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.master != nil {
		c.master.Close()
	}
}

// close waits for the last output and gives the caller's terminal back.
func (c *console) close() {
	<-c.done
	if c.in != nil && c.in != os.Stdin {
		c.in.SetReadDeadline(time.Now())
		c.in.Close()
	}
	c.restore()
	if c.master != nil {
		c.master.Close()
	}
}
