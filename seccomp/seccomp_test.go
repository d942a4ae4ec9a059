package seccomp

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// run executes the filter on one system call in x/net/bpf's interpreter, as
// the kernel would. The interpreter loads words in network byte order, so the
// seccomp_data is written as the 32-bit words the kernel's loads would see.
func run(t *testing.T, f *Filter, arch uint32, nr uint32, args ...uint64) uint32 {
	t.Helper()
	raw := make([]bpf.RawInstruction, len(f.Program))
	for i, in := range f.Program {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("the program does not disassemble")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[dataNr:], nr)
	binary.BigEndian.PutUint32(data[dataArch:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[dataArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[dataArgs+8*i+4:], uint32(a>>32))
	}
	ret, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(ret)
}

// syscallNumbers is the native ABI's table as a map, for the tests.
var syscallNumbers = numbers(0)

func numbers(i int) map[string]uint32 {
	m := map[string]uint32{}
	for _, e := range abis[i].table {
		m[e.name] = e.nr
	}
	return m
}

func TestLookupSyscall(t *testing.T) {
	for _, a := range abis {
		for _, e := range a.table {
			if nr, ok := a.lookup(e.name); !ok || nr != e.nr {
				t.Errorf("%s: lookup(%q) = %d %v, want %d (is the table sorted?)", a.arch, e.name, nr, ok, e.nr)
			}
		}
		if _, ok := a.lookup("no_such_call"); ok {
			t.Errorf("%s: no_such_call found", a.arch)
		}
	}
}

func native(t *testing.T) uint32 {
	if len(abis) == 0 {
		t.Skip("no table for", runtime.GOARCH)
	}
	return abis[0].audit
}

func errno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

func ptr[T any](v T) *T { return &v }

func TestCompileRules(t *testing.T) {
	arch := native(t)
	nr := func(name string) uint32 { return syscallNumbers[name] }
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: ptr(uint(unix.ENOSYS)),
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "no_such_call"}, Action: specs.ActAllow},
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.EACCES))},
			{Names: []string{"read"}, Action: specs.ActKillProcess}, // a later plain rule for read: the first wins
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.EINVAL)),
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 16, Op: specs.OpEqualTo}, {Index: 2, Value: 9, Op: specs.OpEqualTo}}},
			{Names: []string{"socket"}, Action: specs.ActAllow},
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWNS | unix.CLONE_NEWUSER, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			{Names: []string{"lseek"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 1 << 33, Op: specs.OpLessEqual}}},
			{Names: []string{"dup3"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: 1 << 32, Op: specs.OpGreaterThan}}},
			{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 9, Op: specs.OpNotEqual}}},
		},
	}
	f, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Unknown) != 1 || f.Unknown[0] != "no_such_call" {
		t.Errorf("unknown names: %v", f.Unknown)
	}
	for _, c := range []struct {
		what string
		nr   uint32
		args []uint64
		want uint32
	}{
		{"read", nr("read"), nil, unix.SECCOMP_RET_ALLOW},
		{"write", nr("write"), nil, unix.SECCOMP_RET_ALLOW},
		{"mkdirat: its own errno", nr("mkdirat"), nil, errno(unix.EACCES)},
		{"a call no rule names: the default", nr("getpid"), nil, errno(unix.ENOSYS)},
		{"personality(0xffffffff)", nr("personality"), []uint64{0xffffffff}, unix.SECCOMP_RET_ALLOW},
		{"personality(0x1ffffffff): the high word counts", nr("personality"), []uint64{0x1ffffffff}, errno(unix.ENOSYS)},
		{"socket(AF_NETLINK, 0, NETLINK_AUDIT)", nr("socket"), []uint64{16, 0, 9}, errno(unix.EINVAL)},
		{"socket(AF_NETLINK, 0, NETLINK_ROUTE)", nr("socket"), []uint64{16, 0, 0}, unix.SECCOMP_RET_ALLOW},
		{"clone without NEWNS/NEWUSER", nr("clone"), []uint64{unix.CLONE_NEWPID | uint64(unix.SIGCHLD)}, unix.SECCOMP_RET_ALLOW},
		{"clone with NEWUSER", nr("clone"), []uint64{unix.CLONE_NEWUSER}, errno(unix.ENOSYS)},
		{"lseek to 1<<33", nr("lseek"), []uint64{0, 1 << 33}, unix.SECCOMP_RET_ALLOW},
		{"lseek to 1<<33+1", nr("lseek"), []uint64{0, 1<<33 + 1}, errno(unix.ENOSYS)},
		{"lseek to 5", nr("lseek"), []uint64{0, 5}, unix.SECCOMP_RET_ALLOW},
		{"dup3 flags 1<<32", nr("dup3"), []uint64{0, 0, 1 << 32}, errno(unix.ENOSYS)},
		{"dup3 flags 1<<32+1", nr("dup3"), []uint64{0, 0, 1<<32 + 1}, unix.SECCOMP_RET_ALLOW},
		{"dup3 flags 1<<33", nr("dup3"), []uint64{0, 0, 1 << 33}, unix.SECCOMP_RET_ALLOW},
		{"kill(…, 15)", nr("kill"), []uint64{1, 15}, unix.SECCOMP_RET_ALLOW},
		{"kill(…, 9)", nr("kill"), []uint64{1, 9}, errno(unix.ENOSYS)},
	} {
		if got := run(t, f, arch, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.what, got, c.want)
		}
	}
	if got := run(t, f, unix.AUDIT_ARCH_I386, nr("read")); got != errno(unix.ENOSYS) {
		t.Errorf("another ABI's call: %#x, want the default action", got)
	}
	if runtime.GOARCH == "amd64" {
		if got := run(t, f, arch, x32Bit|nr("read")); got != errno(unix.ENOSYS) {
			t.Errorf("an x32 call: %#x, want the default action", got)
		}
	}
}

// A profile's architectures (Docker's archMap: x86 and x32 beside x86_64)
// get their own sections, with their own numbers; ABIs not listed get the
// default action.
func TestCompileOtherABIs(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the i386 and x32 ABIs are x86-64's")
	}
	i386, x32 := numbers(1), numbers(2)
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, DefaultErrnoRet: ptr(uint(unix.ENOSYS)),
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid", "socketcall"}, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
		},
	}
	f, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what     string
		arch, nr uint32
		args     []uint64
		want     uint32
	}{
		{"x86_64 getpid", unix.AUDIT_ARCH_X86_64, syscallNumbers["getpid"], nil, unix.SECCOMP_RET_ALLOW},
		{"i386 getpid (20, not 39)", unix.AUDIT_ARCH_I386, i386["getpid"], nil, unix.SECCOMP_RET_ALLOW},
		{"i386 socketcall (x86_64 has none)", unix.AUDIT_ARCH_I386, i386["socketcall"], nil, unix.SECCOMP_RET_ALLOW},
		{"i386 nr 39 (umask there)", unix.AUDIT_ARCH_I386, 39, nil, errno(unix.ENOSYS)},
		{"i386 personality(8)", unix.AUDIT_ARCH_I386, i386["personality"], []uint64{8}, unix.SECCOMP_RET_ALLOW},
		{"i386 personality(9)", unix.AUDIT_ARCH_I386, i386["personality"], []uint64{9}, errno(unix.ENOSYS)},
		{"x32 getpid", unix.AUDIT_ARCH_X86_64, x32["getpid"], nil, unix.SECCOMP_RET_ALLOW},
		{"x32 read", unix.AUDIT_ARCH_X86_64, x32["read"], nil, errno(unix.ENOSYS)},
		{"an ABI no profile has", unix.AUDIT_ARCH_AARCH64, 172, nil, errno(unix.ENOSYS)},
	} {
		if got := run(t, f, c.arch, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.what, got, c.want)
		}
	}
	if len(f.Unknown) != 0 || f.Rules != 2 {
		t.Errorf("unknown %v, %d rules: socketcall is i386's, and the native ABI has 2 of the 3 names", f.Unknown, f.Rules)
	}
	// Without them listed, their calls get the default action.
	s.Architectures = nil
	if f, err = Compile(s); err != nil {
		t.Fatal(err)
	}
	if got := run(t, f, unix.AUDIT_ARCH_I386, i386["getpid"]); got != errno(unix.ENOSYS) {
		t.Errorf("i386 getpid, x86 not listed: %#x", got)
	}
	if got := run(t, f, unix.AUDIT_ARCH_X86_64, x32["getpid"]); got != errno(unix.ENOSYS) {
		t.Errorf("x32 getpid, x32 not listed: %#x", got)
	}
}

// A profile the size of Docker's and podman's (every call this architecture
// has, but a few) needs its runs of jumps cut in pieces of reachable length.
func TestCompileLargeProfile(t *testing.T) {
	arch := native(t)
	var allowed []string
	for name := range syscallNumbers {
		if name != "mount" && name != "kexec_load" {
			allowed = append(allowed, name)
		}
	}
	f, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, DefaultErrnoRet: ptr(uint(unix.ENOSYS)),
		Syscalls: []specs.LinuxSyscall{
			{Names: allowed, Action: specs.ActAllow},
			{Names: []string{"kexec_load"}, Action: specs.ActErrno},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Program) > len(syscallNumbers)+20 {
		t.Errorf("%d instructions for %d calls", len(f.Program), len(syscallNumbers))
	}
	for _, name := range allowed {
		if got := run(t, f, arch, syscallNumbers[name]); got != unix.SECCOMP_RET_ALLOW {
			t.Errorf("%s: %#x, want allowed", name, got)
		}
	}
	if got := run(t, f, arch, syscallNumbers["kexec_load"]); got != errno(unix.EPERM) {
		t.Errorf("kexec_load: %#x, want EPERM (the errno when errnoRet is not given)", got)
	}
	if got := run(t, f, arch, syscallNumbers["mount"]); got != errno(unix.ENOSYS) {
		t.Errorf("mount: %#x, want the default", got)
	}
}

func TestCompileRefuses(t *testing.T) {
	native(t)
	for field, s := range map[string]specs.LinuxSeccomp{
		"defaultAction":      {DefaultAction: "SCMP_ACT_NOPE"},
		"listenerPath":       {DefaultAction: specs.ActAllow, ListenerPath: "/run/x.sock"},
		"architectures":      {DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchS390X}},
		"flags":              {DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
		"syscalls[0].action": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}},
		"syscalls[0].args[0].index": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
		"syscalls[0].action: SCMP_ACT_ERRNO with errnoRet 65536": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			ErrnoRet: ptr(uint(65536))}}},
		"syscalls[0].args[0].op": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Op: "SCMP_CMP_NOPE"}}}}},
	} {
		_, err := Compile(&s)
		if err == nil || !strings.Contains(err.Error(), "linux.seccomp."+field) {
			t.Errorf("%s: got %v, want an error naming linux.seccomp.%s", field, err, field)
		}
	}
}

// The cost on the exec stage of a profile the size of Docker's: compiling it
// (loading is one seccomp(2) call).
func BenchmarkCompileLargeProfile(b *testing.B) {
	names := make([]string, 0, len(syscallNumbers))
	for name := range syscallNumbers {
		names = append(names, name)
	}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow},
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}}}}
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}
