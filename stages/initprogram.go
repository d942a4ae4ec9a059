package stages

// The container's init is a program of the host's — glassbox-init, or glassbox
// itself as `glassbox init` — and for a while it runs inside the container:
// from clone(2) to the execve(2) of the user's program, and the same for every
// `exec` and `debug`, which start it in a running container's pid namespace.
// Whatever the container can see, it can try to write. Its root can open
// /proc/<pid>/exe of that process — a link to the host's file — and keep the
// descriptor; once the program has execve'd away, nothing runs the file any
// more (ETXTBSY guarded it only until then), and reopening the descriptor
// through /proc/self/fd/N for writing would change the binary that every
// later container, and the host's root, run. That is CVE-2019-5736, found in
// runc.
//
// Two defences, as runc has:
//
//  1. The init is executed through a read-only view of its file. open_tree(2)
//     with OPEN_TREE_CLONE makes a bind mount of just that file, detached from
//     every mount namespace; mount_setattr(2) makes it read-only; execve(2) of
//     /proc/self/fd/N runs the file through it. /proc/<init>/exe then leads to
//     the file on that mount, and every open for writing fails with EROFS —
//     also after the program has execve'd away. Nothing is copied (runc's
//     other way is a sealed memfd, megabytes per start) and nothing stays
//     mounted: the mount goes with its last reference, the descriptor here and
//     then the init's executable mapping.
//  2. The init makes itself non-dumpable before anything else (InitMain,
//     prctl PR_SET_DUMPABLE 0): its /proc/<pid> files then belong to the init
//     user namespace's root and need CAP_SYS_PTRACE there to open — exe, mem,
//     fd/ — which no container gets. execve(2) of the user's program makes the
//     process dumpable again, as any other.
//
// A file executed through /proc/self/fd/N is named N in /proc/<pid>/comm;
// the init names itself glassbox-init again (PR_SET_NAME).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/beside"
)

// InitProgram is what the unshare stage clones: glassbox-init from beside the
// glassbox executable when it is installed (it starts three times faster), or
// glassbox itself as `glassbox init`.
func InitProgram() (path string, argv []string) {
	if p, err := beside.Program("glassbox-init"); err == nil {
		return p, []string{"glassbox-init"}
	}
	if exe, err := os.Executable(); err == nil {
		return exe, []string{"glassbox", "init"}
	}
	return "/proc/self/exe", []string{"glassbox", "init"}
}

// readOnlyView is the init program opened as a read-only, detached mount of
// its file (defence 1 above).
type readOnlyView struct {
	file string // the program on the host, for people and the trace
	fd   int    // O_PATH, the root of the detached mount
}

// openInitProgram opens InitProgram's file through a read-only view; the
// step is recorded in r's trace. Close it once the init has been started.
func (r *Run) openInitProgram() (*readOnlyView, []string, error) {
	file, argv := InitProgram()
	start := time.Now()
	view, err := openReadOnly(file)
	r.steps.record("open_tree "+filepath.Base(file)+" (a read-only view to execute)", start, err, "process.executable.path", file)
	return view, argv, err
}

func openReadOnly(file string) (*readOnlyView, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, file, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, callError(fmt.Sprintf("open_tree(%q, OPEN_TREE_CLONE)", file), err, viewHint(err))
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(fd)
		return nil, callError(fmt.Sprintf("mount_setattr(open_tree(%q), MOUNT_ATTR_RDONLY)", file), err, viewHint(err))
	}
	// Out of the way of the descriptors the child is given: Go's fork code
	// dup2s them onto 0…n, and moves some above n, before the execve that
	// resolves /proc/self/fd/N — a low N would name one of them by then.
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, viewFd)
	unix.Close(fd)
	if err != nil {
		return nil, callError("fcntl(F_DUPFD_CLOEXEC)", err, "")
	}
	return &readOnlyView{file: file, fd: high}, nil
}

// viewFd is the lowest descriptor the view may have: far above the few the
// init is born with.
const viewFd = 100

// CheckInitView says whether the init can be executed through a read-only
// view of its file here (glassbox doctor).
func CheckInitView() error {
	file, _ := InitProgram()
	v, err := openReadOnly(file)
	if err == nil {
		v.Close()
	}
	return err
}

// Path runs the program through the view, in execve(2): the magic link is
// resolved before execve closes the descriptor (it is close-on-exec).
func (v *readOnlyView) Path() string { return fmt.Sprintf("/proc/self/fd/%d", v.fd) }

func (v *readOnlyView) Close() { unix.Close(v.fd) }

func viewHint(err error) string {
	if errors.Is(err, unix.ENOSYS) {
		return "glassbox executes its init through a read-only mount of the file (open_tree, mount_setattr: Linux 5.12+), so that no container can overwrite it"
	}
	return ""
}

// protectInit is the init's first act (defence 2 above), and its name back.
func protectInit() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	name, err := unix.BytePtrFromString(filepath.Base(os.Args[0])) // glassbox-init, or glassbox
	if err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
}
