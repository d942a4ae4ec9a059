// Package stages is glassbox's run path: a container is created by a fixed
// pipeline of stages, each a short chapter about one part of the kernel.
//
//	rootfs   overlayfs: the image read-only below, the container's writes above
//	cgroup   a control group for the container's processes
//	unshare  clone(2) the container's init into new namespaces
//	network  bring the new network namespace up (from the host side)
//	mount    /proc, /sys, /dev, volumes, then pivot_root into the rootfs
//	exec     hostname, user, capabilities, no_new_privs, then execve(2)
//
// Two processes share the work. glassbox (the "host side") does what must be done
// from outside the container; the container's init — glassbox re-executed as
// `glassbox init` inside the new namespaces — does what must be done from inside.
// They talk over a socketpair (the sync socket, after runc's "syncpipe"): the
// host side tells the init which stage to run, the init reports how it went. The
// init never runs ahead of the host, so the pipeline can stop between any two
// stages — that is how `create`/`start` and breakpoints work. The host runs
// ahead of the init once: the network stage, all host-side, wires the new
// network namespace while the init is still starting (Stage.WhileInitWorks),
// unless a breakpoint, --step or a hook stops between them.
package stages

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stage is one step of creating a container.
type Stage struct {
	Name    string
	Purpose string // one line, shown by `glassbox stages`
	Kernel  string // the kernel objects and calls it touches

	// Host runs in glassbox; Container runs in the container's init, after Host.
	// Either may be nil.
	Host      func(*Run) error
	Container func(*Init) error
	// Undo reverses Host. It runs, in reverse stage order, after the container
	// exits, after a failure (also for the stage that failed half-way) and from
	// `glassbox gc`, so it must be idempotent and work from the record alone.
	Undo func(*Run) error
	// WhileInitWorks: a host-side stage that runs while the init works on
	// the stage before it, instead of after it (runner.go, alongside) — the
	// network stage, while the init starts.
	WhileInitWorks bool
}

// Pipeline is every stage in the order a container is created.
var Pipeline = []*Stage{Rootfs, Cgroup, Unshare, Network, Mount, Exec}

// ByName finds a stage.
func ByName(name string) *Stage {
	for _, s := range Pipeline {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Error is a failed stage: the stage, the kernel call with its arguments, the
// error, and what to do about it. It crosses the sync socket as JSON.
type Error struct {
	Stage    string `json:"stage"`
	Call     string `json:"call,omitempty"`  // e.g. "pivot_root(/var/lib/glassbox/…/rootfs)"
	Errno    string `json:"errno,omitempty"` // e.g. "EINVAL", when the call failed with one
	Msg      string `json:"msg"`
	Hint     string `json:"hint,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"` // 126/127 when the command cannot be run
	Leftover string `json:"leftover,omitempty"` // what the undo after the failure could not undo
	// Err is the cause, for errors.Is and As (ENOSPC, a netns.PortError);
	// an Error that came from the init over its socket has its Errno alone.
	Err error `json:"-"`
}

// Unwrap gives the cause: Err, or the errno the init named.
func (e *Error) Unwrap() error {
	if e.Err == nil && e.Errno != "" {
		for errno := syscall.Errno(1); errno < 4096; errno++ {
			if unix.ErrnoName(errno) == e.Errno {
				return errno
			}
		}
	}
	return e.Err
}

func (e *Error) Error() string {
	s := ""
	if e.Stage != "" { // an error before any stage (exec's checks) has none
		s = "stage " + e.Stage + ": "
	}
	// A program that cannot be run (126, 127) is named as runc names it
	// (exec: "x": permission denied), which callers match; its call is in
	// the failure report.
	if e.Call != "" && e.ExitCode == 0 {
		s += e.Call + ": "
	}
	s += e.Msg
	if e.Hint != "" {
		s += " — " + e.Hint
	}
	if e.Leftover != "" {
		s += "; and then " + e.Leftover
	}
	return s
}

// callError describes a failed kernel call; the runner adds the stage name.
func callError(call string, err error, hint string) *Error {
	e := &Error{Call: call, Msg: err.Error(), Hint: hint, Err: err}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		e.Msg, e.Errno = errno.Error(), unix.ErrnoName(errno)
		if e.Hint == "" {
			e.Hint = errnoHints[errno]
		}
	}
	return e
}

// errnoHints say what an errno usually means in a container's creation, for
// a call that has no more specific hint.
var errnoHints = map[syscall.Errno]string{
	unix.EPERM:  "the kernel refused: glassbox needs root, and a capability or a security module (seccomp, AppArmor, SELinux) may forbid this call here",
	unix.EACCES: "permission denied on a path: check its mode and owner, and for volumes the host directory",
	unix.ENOENT: "a path does not exist: check the volume's source, the rootfs, the working directory",
	unix.EBUSY:  "something is using it: a mount on top, or a process in the cgroup",
	unix.ENOSPC: "a kernel limit was reached (namespaces, cgroups, or disk space)",
}

// asStageError attaches the stage to any error a stage returned.
func asStageError(stage string, err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Err: err, Msg: err.Error()}
	}
	if e.Stage == "" {
		e.Stage = stage
	}
	return e
}

// injectFailure lets tests fail a stage on purpose, before it does its work, to
// prove that every stage's failure is reported and undone. GLASSBOX_TEST_FAIL=<stage>.
func injectFailure(stage, want string) error {
	if want == stage {
		return fmt.Errorf("failure injected by GLASSBOX_TEST_FAIL=%s", stage)
	}
	return nil
}
