// Package seccomp compiles the runtime-spec's linux.seccomp section into the
// classic BPF program the kernel runs on every system call of the container,
// and installs it.
//
// seccomp(2) with SECCOMP_SET_MODE_FILTER attaches a program to the calling
// thread (SECCOMP_FILTER_FLAG_TSYNC: to every thread of the process); it is
// inherited across fork and kept across execve, and can never be removed. For
// each system call the kernel runs the program on a struct seccomp_data:
//
//	offset 0   nr                   the system call number
//	offset 4   arch                 AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64, …
//	offset 8   instruction_pointer
//	offset 16  args[6]              64 bits each, in the CPU's byte order
//
// and the program's return value says what happens: SECCOMP_RET_ALLOW, _ERRNO
// (the call fails with the errno in the low 16 bits, without running),
// _KILL_THREAD, _KILL_PROCESS, _TRAP (SIGSYS), _TRACE, _LOG. Installing one
// needs CAP_SYS_ADMIN, or no_new_privs set first.
//
// The program glassbox writes, in order:
//
//  1. arch: a call made through another ABI of this CPU (32-bit int 0x80 on
//     x86-64) has another arch and other numbers; it gets the default action.
//     On x86-64, x32 calls (nr with bit 30 set) get it too.
//  2. the rules with argument conditions, in the Spec's order; the first whose
//     syscall and conditions all match returns its action. Arguments are
//     compared as 64-bit values, 32 bits at a time (classic BPF has 32-bit
//     registers).
//  3. the rules without conditions, as runs of "jeq nr" ending in one return
//     per action.
//  4. the default action.
//
// Names this architecture has no number for (another CPU's calls, ones newer
// than the table in syscalls_linux_<arch>.go) are skipped, as runc skips the
// ones libseccomp does not know.
package seccomp

//go:generate go run gen.go

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Filter is a compiled linux.seccomp.
type Filter struct {
	Program []unix.SockFilter
	Flags   uintptr  // SECCOMP_FILTER_FLAG_*
	Rules   int      // syscall rules compiled in
	Unknown []string // names this architecture has no number for
}

// The seccomp_data offsets (see the package comment).
const (
	dataNr   = 0
	dataArch = 4
	dataArgs = 16
)

var nativeArch = map[string]struct {
	audit uint32
	scmp  specs.Arch
}{
	"amd64": {unix.AUDIT_ARCH_X86_64, specs.ArchX86_64},
	"arm64": {unix.AUDIT_ARCH_AARCH64, specs.ArchAARCH64},
}

// x32 system calls come in with the x86-64 arch and this bit set in nr.
const x32Bit = 0x40000000

// Compile checks a linux.seccomp section and compiles it for this machine.
// Errors name the field.
func Compile(s *specs.LinuxSeccomp) (*Filter, error) {
	arch, ok := nativeArch[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("linux.seccomp: glassbox has no system call table for %s", runtime.GOARCH)
	}
	if len(s.Architectures) > 0 && !slices.Contains(s.Architectures, arch.scmp) {
		return nil, fmt.Errorf("linux.seccomp.architectures %v does not list this machine's %s", s.Architectures, arch.scmp)
	}
	if s.ListenerPath != "" || s.ListenerMetadata != "" {
		return nil, fmt.Errorf("linux.seccomp.listenerPath: seccomp user notification is not supported by glassbox")
	}
	f := &Filter{Flags: unix.SECCOMP_FILTER_FLAG_TSYNC}
	for _, flag := range s.Flags {
		v, ok := filterFlags[flag]
		if !ok {
			return nil, fmt.Errorf("linux.seccomp.flags: %q is not supported by glassbox", flag)
		}
		f.Flags |= v
	}
	defaultRet, err := action(s.DefaultAction, s.DefaultErrnoRet, 1)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}

	var p program
	p.load(dataArch)
	p.jump(unix.BPF_JEQ, arch.audit, "native", "")
	p.ret(defaultRet)
	p.label("native")
	p.load(dataNr)
	if runtime.GOARCH == "amd64" {
		p.jump(unix.BPF_JGE, x32Bit, "", "rules")
		p.ret(defaultRet)
	}
	p.label("rules")

	type plain struct {
		nr  uint32
		ret uint32
	}
	var plains []plain
	seen := map[uint32]bool{} // for plain rules: the first one for a call wins
	for i, rule := range s.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		ret, err := action(rule.Action, rule.ErrnoRet, 1)
		if err != nil {
			return nil, fmt.Errorf("%s.action: %w", field, err)
		}
		for j, a := range rule.Args {
			if a.Index > 5 {
				return nil, fmt.Errorf("%s.args[%d].index %d: a system call has 6 arguments (0–5)", field, j, a.Index)
			}
			if _, ok := comparisons[a.Op]; !ok {
				return nil, fmt.Errorf("%s.args[%d].op %q: unknown comparison", field, j, a.Op)
			}
		}
		for _, name := range rule.Names {
			nr, ok := lookupSyscall(name)
			if !ok {
				f.Unknown = append(f.Unknown, name)
				continue
			}
			f.Rules++
			if len(rule.Args) == 0 {
				if !seen[nr] {
					seen[nr] = true
					plains = append(plains, plain{nr, ret})
				}
				continue
			}
			p.argRule(nr, rule.Args, ret, fmt.Sprintf("next%d.%s", i, name))
		}
	}
	// Plain rules: a run of "jeq nr → return" per action. A jump reaches at
	// most 255 instructions ahead, so long runs are cut in pieces.
	slices.SortStableFunc(plains, func(a, b plain) int { return int(int64(a.ret) - int64(b.ret)) })
	p.load(dataNr) // the argument rules left an argument in the accumulator
	for start := 0; start < len(plains); {
		end := start
		for end < len(plains) && plains[end].ret == plains[start].ret && end-start < 200 {
			end++
		}
		hit := fmt.Sprintf("hit%d", start)
		for _, r := range plains[start:end] {
			p.jump(unix.BPF_JEQ, r.nr, hit, "")
		}
		p.jump(unix.BPF_JA, 0, fmt.Sprintf("miss%d", start), "")
		p.label(hit)
		p.ret(plains[start].ret)
		p.label(fmt.Sprintf("miss%d", start))
		start = end
	}
	p.ret(defaultRet)
	f.Program, err = p.assemble()
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return f, nil
}

// filterFlags are the linux.seccomp.flags seccomp(2) is given.
var filterFlags = map[specs.LinuxSeccompFlag]uintptr{
	specs.LinuxSeccompFlagLog:       unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
}

// actions are the SCMP_ACT_* names and their SECCOMP_RET_* values.
var actions = map[specs.LinuxSeccompAction]uint32{
	specs.ActAllow: unix.SECCOMP_RET_ALLOW, specs.ActLog: unix.SECCOMP_RET_LOG,
	specs.ActErrno: unix.SECCOMP_RET_ERRNO, specs.ActTrace: unix.SECCOMP_RET_TRACE,
	specs.ActKill: unix.SECCOMP_RET_KILL_THREAD, specs.ActKillThread: unix.SECCOMP_RET_KILL_THREAD,
	specs.ActKillProcess: unix.SECCOMP_RET_KILL_PROCESS, specs.ActTrap: unix.SECCOMP_RET_TRAP,
}

// syscallNumber is one entry of syscalls_linux_<arch>.go's table.
type syscallNumber struct {
	name string
	nr   uint32
}

// lookupSyscall finds a system call's number by name in the sorted table.
func lookupSyscall(name string) (uint32, bool) {
	i, found := slices.BinarySearchFunc(syscallTable[:], name, func(e syscallNumber, name string) int { return strings.Compare(e.name, name) })
	if !found {
		return 0, false
	}
	return syscallTable[i].nr, true
}

// action turns an SCMP_ACT_* name into a SECCOMP_RET_* value. errnoRet is the
// errno of SCMP_ACT_ERRNO (EPERM when not given) or the data of
// SCMP_ACT_TRACE.
func action(a specs.LinuxSeccompAction, errnoRet *uint, fallback uint) (uint32, error) {
	if a == specs.ActNotify {
		return 0, fmt.Errorf("%s: seccomp user notification is not supported by glassbox", a)
	}
	ret, ok := actions[a]
	if !ok {
		return 0, fmt.Errorf("%q: unknown action", a)
	}
	if a == specs.ActErrno || a == specs.ActTrace {
		data := uint32(fallback)
		if errnoRet != nil {
			data = uint32(*errnoRet)
		}
		ret |= data & unix.SECCOMP_RET_DATA
	}
	return ret, nil
}

// Features is what the compiler supports, for the runtime-spec's features
// document: actions, comparisons, flags, and this machine's architecture.
func Features() (actionNames, operators, flags, archs []string) {
	for a := range actions {
		actionNames = append(actionNames, string(a))
	}
	for op := range comparisons {
		operators = append(operators, string(op))
	}
	for f := range filterFlags {
		flags = append(flags, string(f))
	}
	if a, ok := nativeArch[runtime.GOARCH]; ok {
		archs = []string{string(a.scmp)}
	}
	slices.Sort(actionNames)
	slices.Sort(operators)
	slices.Sort(flags)
	return
}

// Load installs the filter on every thread of the calling process
// (seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)).
func (f *Filter) Load() error {
	prog := unix.SockFprog{Len: uint16(len(f.Program)), Filter: &f.Program[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, f.Flags, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}
