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
//  1. which ABI: a call made through another ABI of this CPU (32-bit int 0x80
//     on x86-64, i386's numbers) has another arch; on x86-64, x32 calls have
//     bit 30 set in nr. Each ABI the Spec's architectures list (the native
//     one always) gets a section of rules with its own numbers; the others
//     get the default action. Then, in each section:
//  2. the rules with argument conditions, in the Spec's order; the first whose
//     syscall and conditions all match returns its action. Arguments are
//     compared as 64-bit values, 32 bits at a time (classic BPF has 32-bit
//     registers).
//  3. the rules without conditions, as runs of "jeq nr" ending in one return
//     per action.
//  4. the default action.
//
// Names an ABI has no number for (another CPU's calls, i386's socketcall on
// x86-64, ones newer than the tables in syscalls_linux_<arch>.go) are skipped
// there, as runc skips the ones libseccomp does not know.
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
	Flags   uintptr      // SECCOMP_FILTER_FLAG_*
	Rules   int          // syscall rules compiled in, for the native ABI
	Unknown []string     // names no compiled ABI has a number for
	Arches  []specs.Arch // the ABIs whose calls the rules apply to
}

// The seccomp_data offsets (see the package comment).
const (
	dataNr   = 0
	dataArch = 4
	dataArgs = 16
)

// abi is one of this CPU's system call ABIs: a call through it comes with
// its AUDIT_ARCH_* value and its own numbers (syscalls_linux_<arch>.go).
type abi struct {
	arch  specs.Arch
	audit uint32
	table []syscallNumber
}

// x32 system calls come in with the x86-64 arch and this bit set in nr.
const x32Bit = 0x40000000

// Check checks a linux.seccomp section as Compile does, without building
// the program: what glassbox validates a config.json with, on the host,
// before the init compiles it (only a program over the kernel's 4096
// instructions is found then, and named in the exec stage).
func Check(s *specs.LinuxSeccomp) error {
	_, _, _, err := prepare(s)
	return err
}

// Compile checks a linux.seccomp section and compiles it for this machine:
// for its native ABI, and for each other ABI of this CPU that
// linux.seccomp.architectures lists (a profile's archMap: x86 and x32 beside
// x86_64, as Docker's has). Calls through an ABI not compiled get the default
// action. Errors name the field.
func Compile(s *specs.LinuxSeccomp) (*Filter, error) {
	f, defaultRet, rets, err := prepare(s)
	if err != nil {
		return nil, err
	}
	native := abis[0]
	var compiled []abi
	for _, a := range abis {
		if a.arch == native.arch || slices.Contains(s.Architectures, a.arch) {
			compiled = append(compiled, a)
			f.Arches = append(f.Arches, a.arch)
		}
	}

	// Which ABI: the arch word, then, for x86-64's, the x32 bit of nr. Each
	// ABI's rules are a section of their own, reached by a long jump.
	var p program
	p.load(dataArch)
	var audits []uint32
	for _, a := range compiled {
		if !slices.Contains(audits, a.audit) {
			audits = append(audits, a.audit)
			p.jump(unix.BPF_JEQ, a.audit, "", fmt.Sprintf("not%x", a.audit))
			p.jump(unix.BPF_JA, 0, fmt.Sprintf("audit%x", a.audit), "")
			p.label(fmt.Sprintf("not%x", a.audit))
		}
	}
	p.ret(defaultRet)
	unknown := map[string]int{}
	for _, audit := range audits {
		p.label(fmt.Sprintf("audit%x", audit))
		if audit == unix.AUDIT_ARCH_X86_64 {
			x32 := "default"
			if slices.ContainsFunc(compiled, func(a abi) bool { return a.arch == specs.ArchX32 }) {
				x32 = string(specs.ArchX32)
			}
			p.load(dataNr)
			p.jump(unix.BPF_JGE, x32Bit, "", string(specs.ArchX86_64))
			p.jump(unix.BPF_JA, 0, x32, "")
		}
		for _, a := range compiled {
			if a.audit != audit {
				continue
			}
			p.label(string(a.arch))
			rules, missing := p.rules(a, s.Syscalls, rets, defaultRet)
			if a.arch == native.arch {
				f.Rules = rules
			}
			for _, name := range missing {
				unknown[name]++
			}
		}
	}
	p.label("default")
	p.ret(defaultRet)
	for name, n := range unknown {
		if n == len(compiled) {
			f.Unknown = append(f.Unknown, name)
		}
	}
	slices.Sort(f.Unknown)
	f.Program, err = p.assemble()
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return f, nil
}

// prepare checks everything but the program's size, and gives Compile the
// filter's flags and the return value of the default and of each rule.
func prepare(s *specs.LinuxSeccomp) (*Filter, uint32, []uint32, error) {
	if len(abis) == 0 {
		return nil, 0, nil, fmt.Errorf("linux.seccomp: glassbox has no system call table for %s", runtime.GOARCH)
	}
	if native := abis[0]; len(s.Architectures) > 0 && !slices.Contains(s.Architectures, native.arch) {
		return nil, 0, nil, fmt.Errorf("linux.seccomp.architectures %v does not list this machine's %s", s.Architectures, native.arch)
	}
	if s.ListenerPath != "" || s.ListenerMetadata != "" {
		return nil, 0, nil, fmt.Errorf("linux.seccomp.listenerPath: seccomp user notification is not supported by glassbox")
	}
	f := &Filter{Flags: unix.SECCOMP_FILTER_FLAG_TSYNC}
	for _, flag := range s.Flags {
		v, ok := filterFlags[flag]
		if !ok {
			return nil, 0, nil, fmt.Errorf("linux.seccomp.flags: %q is not supported by glassbox", flag)
		}
		f.Flags |= v
	}
	defaultRet, err := action(s.DefaultAction, s.DefaultErrnoRet, 1)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}
	rets := make([]uint32, len(s.Syscalls))
	for i, rule := range s.Syscalls {
		if rets[i], err = checkRule(rule); err != nil {
			return nil, 0, nil, fmt.Errorf("linux.seccomp.syscalls[%d]%w", i, err)
		}
	}
	return f, defaultRet, rets, nil
}

// rules writes one ABI's section: the rules with argument conditions in the
// Spec's order, then the plain ones as runs of "jeq nr" ending in one return
// per action, then the default. It returns how many rules it compiled in, and
// the names this ABI has no number for (skipped, as runc skips the ones
// libseccomp does not know).
func (p *program) rules(a abi, syscalls []specs.LinuxSyscall, rets []uint32, defaultRet uint32) (int, []string) {
	type plain struct {
		nr  uint32
		ret uint32
	}
	var plains []plain
	var missing []string
	rules := 0
	seen := map[uint32]bool{} // for plain rules: the first one for a call wins
	for i, rule := range syscalls {
		for _, name := range rule.Names {
			nr, ok := a.lookup(name)
			if !ok {
				missing = append(missing, name)
				continue
			}
			rules++
			if len(rule.Args) == 0 {
				if !seen[nr] {
					seen[nr] = true
					plains = append(plains, plain{nr, rets[i]})
				}
				continue
			}
			p.argRule(nr, rule.Args, rets[i], fmt.Sprintf("%s.next%d.%s", a.arch, i, name))
		}
	}
	// A jump reaches at most 255 instructions ahead: long runs are cut in pieces.
	slices.SortStableFunc(plains, func(a, b plain) int { return int(int64(a.ret) - int64(b.ret)) })
	p.load(dataNr) // the argument rules left an argument in the accumulator
	for start := 0; start < len(plains); {
		end := start
		for end < len(plains) && plains[end].ret == plains[start].ret && end-start < 200 {
			end++
		}
		hit, miss := fmt.Sprintf("%s.hit%d", a.arch, start), fmt.Sprintf("%s.miss%d", a.arch, start)
		for _, r := range plains[start:end] {
			p.jump(unix.BPF_JEQ, r.nr, hit, "")
		}
		p.jump(unix.BPF_JA, 0, miss, "")
		p.label(hit)
		p.ret(plains[start].ret)
		p.label(miss)
		start = end
	}
	p.ret(defaultRet)
	return rules, missing
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

// syscallNumber is one entry of syscalls_linux_<arch>.go's tables.
type syscallNumber struct {
	name string
	nr   uint32
}

// lookup finds a system call's number by name in the ABI's sorted table.
func (a abi) lookup(name string) (uint32, bool) {
	i, found := slices.BinarySearchFunc(a.table, name, func(e syscallNumber, name string) int { return strings.Compare(e.name, name) })
	if !found {
		return 0, false
	}
	return a.table[i].nr, true
}

// checkRule checks one rule and returns its action as SECCOMP_RET_*; its
// errors begin with the field in the rule (".action: …"), for the caller to
// put the rule's place before.
func checkRule(rule specs.LinuxSyscall) (uint32, error) {
	ret, err := action(rule.Action, rule.ErrnoRet, 1)
	if err != nil {
		return 0, fmt.Errorf(".action: %w", err)
	}
	for j, a := range rule.Args {
		if a.Index > 5 {
			return 0, fmt.Errorf(".args[%d].index %d: a system call has 6 arguments (0–5)", j, a.Index)
		}
		if _, ok := comparisons[a.Op]; !ok {
			return 0, fmt.Errorf(".args[%d].op %q: unknown comparison", j, a.Op)
		}
	}
	return ret, nil
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
		data := fallback
		if errnoRet != nil {
			data = *errnoRet
		}
		if data > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("%s with errnoRet %d: the value must fit SECCOMP_RET_DATA's 16 bits (an errno is 1–4095)", a, data)
		}
		ret |= uint32(data)
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
	for _, a := range abis {
		archs = append(archs, string(a.arch))
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
