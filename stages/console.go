package stages

// The container's terminal (process.terminal: run -t, exec -t, OCI
// --console-socket), made inside the container, as runc does.
//
// A pseudo-terminal is a pair: the master, which a terminal emulator (or
// glassbox, or conmon) reads and writes, and the slave, /dev/pts/N, which the
// program uses as stdin, stdout and stderr. Opening /dev/ptmx makes a pair in
// the devpts instance mounted at /dev/pts — the container's own (newinstance).
// A pty made on the host would live in the host's instance: the program would
// work, but ttyname(3) would find no /dev/pts/N of that name inside, and
// tty(1) would say "not a tty".
//
// So the init, in the container's mounts, opens /dev/ptmx (O_NOCTTY), unlocks
// the slave (ioctl TIOCSPTLCK), asks its number (TIOCGPTN), opens
// /dev/pts/N (bind-mounted on /dev/console for the container's own process),
// gives it process.consoleSize (TIOCSWINSZ), sends the master to
// whoever waits for it over a unix socket (SCM_RIGHTS), and puts the slave on
// fds 0, 1 and 2 (dup3). The exec stage then makes it the controlling
// terminal of a new session. The host's half (Console, below) is the socket
// the master comes back over, for whoever holds the terminal: glassbox run
// -t, a detached container's monitor (then its shim), the daemon's exec.

import (
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func (in *Init) setupConsole(size *specs.Box) error {
	start := time.Now()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		in.steps.record("open /dev/ptmx", start, err)
		return callError("open(/dev/ptmx)", err, "process.terminal needs a devpts mount at /dev/pts (with ptmx) in the container")
	}
	defer master.Close()
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return callError("ioctl(/dev/ptmx, TIOCSPTLCK)", err, "")
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		return callError("ioctl(/dev/ptmx, TIOCGPTN)", err, "")
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return callError("open("+name+")", err, "")
	}
	defer slave.Close()
	// The container's own process (not one joined by exec) also gets the
	// terminal as /dev/console, as with runc and Docker: a bind mount of
	// /dev/pts/N onto it.
	if newNamespace(in.Spec, specs.MountNamespace) {
		if err := in.bindDevice(name, "/dev/console"); err != nil {
			return err
		}
	}
	if size != nil {
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}); err != nil {
			return callError("ioctl(/dev/ptmx, TIOCSWINSZ)", err, "process.consoleSize")
		}
	}
	if err := unix.Sendmsg(in.consoleFd, []byte(name), unix.UnixRights(fd), nil, 0); err != nil {
		return callError("sendmsg(console socket, SCM_RIGHTS)", err, "the console socket's other end is gone")
	}
	unix.Close(in.consoleFd)
	for target := 0; target <= 2; target++ {
		if err := unix.Dup3(int(slave.Fd()), target, 0); err != nil {
			return callError(fmt.Sprintf("dup3(%s, %d)", name, target), err, "")
		}
	}
	in.steps.record("open /dev/ptmx, "+name+", send the master, dup3 onto 0 1 2", start, nil, "glassbox.tty", name)
	return nil
}

// Console is the host's half: the socket the master comes over, for whoever
// holds the terminal — glassbox run -t, the shim of a detached container, the
// daemon's exec.
type Console struct {
	socket  *os.File // ours: the master comes over it
	initEnd *os.File // the init's: ours is closed once the init has its copy
	null    *os.File // the init's stdin until it has the pty
}

// NewConsole readies a terminal for a process that asks for one (nil when it
// asks for none): opts.IO.Console becomes the init's end of a socketpair, and
// opts.IO.Stdin /dev/null until the init has the pty.
func NewConsole(p *specs.Process, opts *Options) (*Console, error) {
	if !p.Terminal {
		return nil, nil
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("pseudo-terminal: socketpair: %w", err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	c := &Console{socket: os.NewFile(uintptr(fds[0]), "console socket"), initEnd: os.NewFile(uintptr(fds[1]), "console socket (init's end)"), null: null}
	opts.IO.Stdin, opts.IO.Console = null, c.initEnd
	return c, nil
}

// Master takes the master the init sent (before its execve: it is already
// waiting in the socket, once the process runs).
func (c *Console) Master() (*os.File, error) {
	c.initEnd.Close()
	c.null.Close()
	defer c.socket.Close()
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
	c.socket.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, oobn, _, _, err := unix.Recvmsg(int(c.socket.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive the container's pty master: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("receive the container's pty master: no descriptor came")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("receive the container's pty master: no descriptor came")
	}
	return os.NewFile(uintptr(fds[0]), "pty master"), nil
}

// Discard closes the sockets of a process that never started.
func (c *Console) Discard() {
	c.socket.Close()
	c.initEnd.Close()
	c.null.Close()
}
