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
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/stages"
)

type console struct {
	pty *stages.Console
	// interactive: the caller's input goes to the container (-i); output:
	// its output to the caller (not when a monitor holds it for the shim).
	interactive, output bool
	mu                  sync.Mutex
	master              *os.File // nil until it has come
	in                  *os.File // the caller's terminal, read without blocking
	restore             func()
	done                chan struct{} // the container's output has all been copied
}

// consoleFor prepares a terminal for a process that asks for one (nil when
// it asks for none; stages.NewConsole), with the caller's window size as
// process.consoleSize, so the program starts with it.
func consoleFor(p *specs.Process, opts *stages.Options) (*console, error) {
	pc, err := stages.NewConsole(p, opts)
	if pc == nil {
		return nil, err
	}
	if size, err := pty.GetsizeFull(os.Stdin); err == nil {
		p.ConsoleSize = &specs.Box{Height: uint(size.Rows), Width: uint(size.Cols)}
	}
	return &console{pty: pc, interactive: opts.IO.Interactive, output: true, restore: func() {}, done: make(chan struct{})}, nil
}

// receive takes the master the init sent.
func (c *console) receive() error {
	master, err := c.pty.Master()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.master = master
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

// Attach starts copying, once the process runs: stdin to the master only
// when interactive (-i), the master to stdout unless not output (the monitor
// then hands the master to the shim).
func (c *console) Attach(log io.Writer) error {
	interactive := c.interactive
	if err := c.receive(); err != nil || !c.output {
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
		out := io.Writer(os.Stdout)
		if log != nil {
			out = io.MultiWriter(os.Stdout, log)
		}
		io.Copy(out, c.master) // ends with EIO once the last holder of the slave exits
		close(c.done)
	}()
	return nil
}

// Discard closes the sockets of a process that never started.
func (c *console) Discard() { c.pty.Discard() }

// hangUp closes the master: the container's terminal hangs up.
func (c *console) hangUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.master != nil {
		c.master.Close()
	}
}

// Close waits for the last output and gives the caller's terminal back.
func (c *console) Close() {
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
