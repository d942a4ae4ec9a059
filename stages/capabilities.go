package stages

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
	"github.com/glassbox-dev/glassbox/spec"
)

// capSet is a set of capabilities as the kernel stores it: a 64-bit mask.
type capSet uint64

func parseCaps(field string, names []string, last int) (capSet, error) {
	var s capSet
	for _, n := range names {
		c, ok := spec.CapabilityNumbers[strings.ToUpper(n)]
		if !ok {
			return 0, &Error{Msg: fmt.Sprintf("process.capabilities.%s: unknown capability %q", field, n)}
		}
		if c <= last { // newer than this kernel: it cannot be granted anyway
			s |= 1 << c
		}
	}
	return s, nil
}

// lastCap is the highest capability this kernel knows.
func lastCap() int {
	data, err := plainfile.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 40
	}
	return n
}

// setCredentials switches to the container's user and capability sets. nil
// capabilities leave them as they are (root's full set), as runc does.
func (in *Init) setCredentials(u execUser, caps *specs.LinuxCapabilities) error {
	last := lastCap()
	var bounding, effective, permitted, inheritable, ambient capSet
	if caps != nil {
		var err error
		for _, f := range []struct {
			name  string
			names []string
			set   *capSet
		}{
			{"bounding", caps.Bounding, &bounding}, {"effective", caps.Effective, &effective},
			{"permitted", caps.Permitted, &permitted}, {"inheritable", caps.Inheritable, &inheritable},
			{"ambient", caps.Ambient, &ambient},
		} {
			if *f.set, err = parseCaps(f.name, f.names, last); err != nil {
				return err
			}
		}
		// Dropping from the bounding set needs CAP_SETPCAP, so it comes first.
		start := time.Now()
		for c := 0; c <= last; c++ {
			if bounding&(1<<c) == 0 {
				if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
					in.steps.record("prctl PR_CAPBSET_DROP", start, err)
					return callError(fmt.Sprintf("prctl(PR_CAPBSET_DROP, %d)", c), err, "")
				}
			}
		}
		in.steps.record("prctl PR_CAPBSET_DROP (bounding set)", start, nil, "glassbox.caps.bounding", fmt.Sprintf("%#x", bounding))
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return callError("prctl(PR_SET_KEEPCAPS, 1)", err, "")
	}
	start := time.Now()
	err := setIDs(u)
	in.steps.record(fmt.Sprintf("setgroups %v, setresgid %d, setresuid %d", u.Groups, u.GID, u.UID), start, err)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return callError("prctl(PR_SET_KEEPCAPS, 0)", err, "")
	}
	if caps == nil {
		return nil
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(effective), Permitted: uint32(permitted), Inheritable: uint32(inheritable)},
		{Effective: uint32(effective >> 32), Permitted: uint32(permitted >> 32), Inheritable: uint32(inheritable >> 32)},
	}
	start = time.Now()
	err = unix.Capset(&hdr, &data[0])
	in.steps.record("capset", start, err, "glassbox.caps.effective", fmt.Sprintf("%#x", effective),
		"glassbox.caps.permitted", fmt.Sprintf("%#x", permitted), "glassbox.caps.inheritable", fmt.Sprintf("%#x", inheritable))
	if err != nil {
		return callError(fmt.Sprintf("capset(effective=%#x, permitted=%#x, inheritable=%#x)", effective, permitted, inheritable), err,
			"effective must be a subset of permitted")
	}
	// The kernel raises an ambient capability only if it is permitted and
	// inheritable; the rest are skipped (spec.Warnings tells the user), as runc does.
	ambient &= permitted & inheritable
	for c := 0; c <= last; c++ {
		if ambient&(1<<c) != 0 {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
				return callError(fmt.Sprintf("prctl(PR_CAP_AMBIENT_RAISE, %d)", c), err, "an ambient capability must be permitted and inheritable")
			}
		}
	}
	return nil
}

// setIDs calls setgroups, setresgid and setresuid as raw system calls: Go's
// syscall package applies them to every thread of the process, but only this
// (locked) thread matters — it is the one that will execve.
func setIDs(u execUser) error {
	gids := append([]uint32{}, u.Groups...)
	var ptr unsafe.Pointer
	if len(gids) > 0 {
		ptr = unsafe.Pointer(&gids[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(ptr), 0); e != 0 {
		return callError(fmt.Sprintf("setgroups(%v)", gids), e, "")
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return callError(fmt.Sprintf("setresgid(%d)", u.GID), e, "")
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return callError(fmt.Sprintf("setresuid(%d)", u.UID), e, "")
	}
	return nil
}
