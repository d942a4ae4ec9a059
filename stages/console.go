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
// terminal of a new session.

import (
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
