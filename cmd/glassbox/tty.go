package main

// run -t: the container's process gets a pseudo-terminal. glassbox opens the
// pair (/dev/ptmx: the master it keeps, /dev/pts/N: the slave the container
// gets as stdin, stdout and stderr and makes its controlling terminal), puts
// the caller's own terminal in raw mode so that every key — Ctrl-C, Ctrl-D,
// Ctrl-Z — reaches the container's terminal unchanged, and copies bytes both
// ways. A SIGWINCH (the caller's window changed) is passed on as TIOCSWINSZ on
// the master, which the kernel turns into a SIGWINCH inside.

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/term"

	"github.com/glassbox-dev/glassbox/stages"
)

type console struct {
	master, slave *os.File
	in            *os.File // the caller's terminal, read without blocking
	restore       func()
	done          chan struct{} // the container's output has all been copied
}

// openConsole makes the pty pair, sized like the caller's terminal.
func openConsole() (*console, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, err
	}
	c := &console{master: master, slave: slave, restore: func() {}, done: make(chan struct{})}
	c.resize()
	return c, nil
}

// consoleFor gives a process that asks for a terminal a pty pair, the slave
// as its stdin, stdout and stderr; nil when it asks for none.
func consoleFor(p *specs.Process, opts *stages.Options) (*console, error) {
	if !p.Terminal {
		return nil, nil
	}
	con, err := openConsole()
	if err != nil {
		return nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	opts.Stdin, opts.Stdout, opts.Stderr = con.slave, con.slave, con.slave
	return con, nil
}

// resize copies the caller's window size to the container's terminal.
func (c *console) resize() {
	if size, err := pty.GetsizeFull(os.Stdin); err == nil {
		pty.Setsize(c.master, size)
	}
}

// attach starts copying, once the container has the slave: stdin to the
// master only when interactive (-i), the master to stdout always.
func (c *console) attach(interactive bool) {
	c.slave.Close() // the container has its own copy
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
}

// discard closes the pair of a process that never started.
func (c *console) discard() {
	c.slave.Close()
	c.master.Close()
}

// close waits for the last output and gives the caller's terminal back.
func (c *console) close() {
	<-c.done
	if c.in != nil && c.in != os.Stdin {
		c.in.SetReadDeadline(time.Now())
		c.in.Close()
	}
	c.restore()
	c.master.Close()
}
