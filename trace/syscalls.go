package trace

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/mountns"
	"github.com/glassbox-dev/glassbox/stages"
)

// syscallInfo says how to show one system call: its name, which arguments
// are strings the BPF program copies (bit i: argument i), and a decoder.
type syscallInfo struct {
	name      string
	strings   uint8
	cloneArgs bool // argument 0 is a struct clone_args: the program copies its flags and cgroup fd into a[2], a[3]
	show      func(a [6]uint64, s []string) string
}

// want is the syscall's entry in the BPF program's syscalls map.
func (sc syscallInfo) want() uint8 {
	w := 1 | sc.strings<<1
	if sc.cloneArgs {
		w |= 0x80
	}
	return w
}

func (sc syscallInfo) decode(a [6]uint64, s []string) string {
	if sc.show == nil {
		return sc.name + "()"
	}
	return sc.name + "(" + sc.show(a, s) + ")"
}

// syscallTable holds the system calls that create a container, by x86-64
// number; only these are reported.
var syscallTable = map[int]syscallInfo{
	unix.SYS_CLONE: {name: "clone", show: func(a [6]uint64, _ []string) string { return stages.CloneFlagNames(a[0]) }},
	unix.SYS_CLONE3: {name: "clone3", cloneArgs: true, show: func(a [6]uint64, _ []string) string {
		if a[2]&unix.CLONE_INTO_CGROUP != 0 {
			return fmt.Sprintf("{flags: %s, cgroup: %d}", stages.CloneFlagNames(a[2]), int32(a[3]))
		}
		return "{flags: " + stages.CloneFlagNames(a[2]) + "}"
	}},
	unix.SYS_UNSHARE: {name: "unshare", show: func(a [6]uint64, _ []string) string { return stages.CloneFlagNames(a[0]) }},
	unix.SYS_SETNS: {name: "setns", show: func(a [6]uint64, _ []string) string {
		return fmt.Sprintf("%d, %s", int32(a[0]), stages.CloneFlagNames(a[1]))
	}},
	unix.SYS_MOUNT: {name: "mount", strings: 0b111, show: func(a [6]uint64, s []string) string {
		return fmt.Sprintf("%q, %q, %q, %s", str(s, 0), str(s, 1), str(s, 2), mountns.FlagNames(uintptr(a[3])))
	}},
	unix.SYS_UMOUNT2: {name: "umount2", strings: 0b1, show: func(a [6]uint64, s []string) string {
		flags := "0"
		if a[1]&unix.MNT_DETACH != 0 {
			flags = "MNT_DETACH"
		}
		return fmt.Sprintf("%q, %s", str(s, 0), flags)
	}},
	unix.SYS_PIVOT_ROOT:    {name: "pivot_root", strings: 0b11, show: func(_ [6]uint64, s []string) string { return fmt.Sprintf("%q, %q", str(s, 0), str(s, 1)) }},
	unix.SYS_CHROOT:        {name: "chroot", strings: 0b1, show: func(_ [6]uint64, s []string) string { return fmt.Sprintf("%q", str(s, 0)) }},
	unix.SYS_SETHOSTNAME:   {name: "sethostname", strings: 0b1, show: func(a [6]uint64, s []string) string { return fmt.Sprintf("%q", prefix(str(s, 0), a[1])) }},
	unix.SYS_SETDOMAINNAME: {name: "setdomainname", strings: 0b1, show: func(a [6]uint64, s []string) string { return fmt.Sprintf("%q", prefix(str(s, 0), a[1])) }},
	unix.SYS_MKDIR:         {name: "mkdir", strings: 0b1, show: func(a [6]uint64, s []string) string { return fmt.Sprintf("%q, %#o", str(s, 0), a[1]) }},
	unix.SYS_MKDIRAT:       {name: "mkdirat", strings: 0b10, show: func(a [6]uint64, s []string) string { return fmt.Sprintf("%s, %q, %#o", dirfd(a[0]), str(s, 0), a[2]) }},
	unix.SYS_MKNODAT: {name: "mknodat", strings: 0b10, show: func(a [6]uint64, s []string) string {
		return fmt.Sprintf("%s, %q, %#o, %d:%d", dirfd(a[0]), str(s, 0), a[2], unix.Major(a[3]), unix.Minor(a[3]))
	}},
	unix.SYS_EXECVE:   {name: "execve", strings: 0b1, show: func(_ [6]uint64, s []string) string { return fmt.Sprintf("%q", str(s, 0)) }},
	unix.SYS_EXECVEAT: {name: "execveat", strings: 0b10, show: func(a [6]uint64, s []string) string { return fmt.Sprintf("%s, %q", dirfd(a[0]), str(s, 0)) }},
	unix.SYS_CAPSET:   {name: "capset"},
	unix.SYS_PRCTL:    {name: "prctl", show: func(a [6]uint64, _ []string) string { return prctlOption(a) }},
	unix.SYS_SECCOMP:  {name: "seccomp", show: func(a [6]uint64, _ []string) string { return fmt.Sprintf("%d, %#x", a[0], a[1]) }},
	unix.SYS_SETRESUID: {name: "setresuid", show: func(a [6]uint64, _ []string) string {
		return fmt.Sprintf("%d, %d, %d", int32(a[0]), int32(a[1]), int32(a[2]))
	}},
	unix.SYS_SETRESGID: {name: "setresgid", show: func(a [6]uint64, _ []string) string {
		return fmt.Sprintf("%d, %d, %d", int32(a[0]), int32(a[1]), int32(a[2]))
	}},
	unix.SYS_SETGROUPS: {name: "setgroups", show: func(a [6]uint64, _ []string) string { return fmt.Sprintf("%d groups", a[0]) }},
	// Signals: how stop and kill end a container, and run forwards Ctrl-C.
	unix.SYS_KILL: {name: "kill", show: func(a [6]uint64, _ []string) string {
		return fmt.Sprintf("%d, %s", int32(a[0]), unix.SignalName(unix.Signal(a[1])))
	}},
	unix.SYS_PIDFD_OPEN: {name: "pidfd_open", show: func(a [6]uint64, _ []string) string { return fmt.Sprintf("%d, %#x", int32(a[0]), a[1]) }},
	unix.SYS_PIDFD_SEND_SIGNAL: {name: "pidfd_send_signal", show: func(a [6]uint64, _ []string) string {
		return fmt.Sprintf("%d, %s", int32(a[0]), unix.SignalName(unix.Signal(a[1])))
	}},
	unix.SYS_CLOSE_RANGE: {name: "close_range", show: func(a [6]uint64, _ []string) string {
		flags := "0"
		if a[2]&unix.CLOSE_RANGE_CLOEXEC != 0 {
			flags = "CLOSE_RANGE_CLOEXEC"
		}
		return fmt.Sprintf("%d, %#x, %s", a[0], a[1], flags)
	}},
}

func str(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "?"
}

// prefix cuts a (not NUL-terminated) buffer to its length argument.
func prefix(s string, n uint64) string {
	if uint64(len(s)) > n {
		return s[:n]
	}
	return s
}

func dirfd(fd uint64) string {
	if int32(fd) == unix.AT_FDCWD {
		return "AT_FDCWD"
	}
	return fmt.Sprint(int32(fd))
}

func prctlOption(a [6]uint64) string {
	switch a[0] {
	case unix.PR_SET_NO_NEW_PRIVS:
		return fmt.Sprintf("PR_SET_NO_NEW_PRIVS, %d", a[1])
	case unix.PR_CAPBSET_DROP:
		return fmt.Sprintf("PR_CAPBSET_DROP, %d", a[1])
	case unix.PR_SET_KEEPCAPS:
		return fmt.Sprintf("PR_SET_KEEPCAPS, %d", a[1])
	case unix.PR_SET_PDEATHSIG:
		return fmt.Sprintf("PR_SET_PDEATHSIG, %s", unix.SignalName(unix.Signal(a[1])))
	case unix.PR_CAP_AMBIENT:
		return fmt.Sprintf("PR_CAP_AMBIENT, %d, %d", a[1], a[2])
	case unix.PR_SET_SECCOMP:
		return fmt.Sprintf("PR_SET_SECCOMP, %d", a[1])
	}
	return fmt.Sprint(a[0])
}
