// Package plainfile opens the files a run reads and writes most — cgroupfs
// and /proc files, state records — without offering them to the Go runtime's
// poller.
//
// os.OpenFile offers every file it opens to epoll: it sets O_NONBLOCK (fcntl
// F_GETFL, F_SETFL), tries EPOLL_CTL_ADD, which regular, proc and kernfs
// files refuse with EPERM, and clears O_NONBLOCK again: five system calls
// beside the open, ~3.5 µs on this kind of machine. A run opens about a
// hundred such files, most of them on its critical path. os.NewFile of a
// blocking descriptor asks the poller nothing.
//
// Not for pipes, sockets, FIFOs or terminals: those need the poller for
// deadlines, and for a blocked read not to hold a thread.
package plainfile

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Open is os.OpenFile for a file that no poller can wait on. The descriptor
// is close-on-exec.
func Open(path string, flag int, perm os.FileMode) (*os.File, error) {
	fd, err := unix.Open(path, flag|unix.O_CLOEXEC, uint32(perm.Perm()))
	for err == unix.EINTR { // as os.OpenFile: a signal may interrupt an open
		fd, err = unix.Open(path, flag|unix.O_CLOEXEC, uint32(perm.Perm()))
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ReadFile is os.ReadFile through Open.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
