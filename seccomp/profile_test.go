package seccomp

import (
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// dockerCaps are the capabilities a Docker-style container has by default.
var dockerCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// The default profile, resolved for a container with Docker's default
// capabilities and with CAP_SYS_ADMIN added, as the kernel would run it.
func TestDefaultProfile(t *testing.T) {
	arch := native(t)
	nr := func(name string) uint32 { return syscallNumbers[name] }
	eperm := errno(unix.EPERM)
	for _, c := range []struct {
		caps []string
		what string
		nr   uint32
		args []uint64
		want uint32
	}{
		{dockerCaps, "read", nr("read"), nil, unix.SECCOMP_RET_ALLOW},
		{dockerCaps, "bpf", nr("bpf"), nil, eperm},
		{dockerCaps, "perf_event_open", nr("perf_event_open"), nil, eperm},
		{dockerCaps, "mount", nr("mount"), nil, eperm},
		{dockerCaps, "keyctl", nr("keyctl"), nil, eperm},
		{dockerCaps, "chroot (CAP_SYS_CHROOT is a default)", nr("chroot"), nil, unix.SECCOMP_RET_ALLOW},
		{dockerCaps, "clone(SIGCHLD)", nr("clone"), []uint64{uint64(unix.SIGCHLD)}, unix.SECCOMP_RET_ALLOW},
		{dockerCaps, "clone(CLONE_NEWUSER)", nr("clone"), []uint64{unix.CLONE_NEWUSER}, eperm},
		{dockerCaps, "clone3", nr("clone3"), nil, errno(unix.ENOSYS)},
		{dockerCaps, "personality(PER_LINUX32)", nr("personality"), []uint64{8}, unix.SECCOMP_RET_ALLOW},
		{dockerCaps, "personality(READ_IMPLIES_EXEC)", nr("personality"), []uint64{0x0400000}, eperm},
		{dockerCaps, "socket(AF_INET)", nr("socket"), []uint64{unix.AF_INET}, unix.SECCOMP_RET_ALLOW},
		{dockerCaps, "socket(AF_VSOCK)", nr("socket"), []uint64{unix.AF_VSOCK}, eperm},
		{dockerCaps, "ptrace (Linux ≥ 4.8)", nr("ptrace"), nil, unix.SECCOMP_RET_ALLOW},
		{append(dockerCaps, "CAP_SYS_ADMIN"), "mount with CAP_SYS_ADMIN", nr("mount"), nil, unix.SECCOMP_RET_ALLOW},
		{append(dockerCaps, "CAP_SYS_ADMIN"), "clone(CLONE_NEWUSER) with CAP_SYS_ADMIN", nr("clone"), []uint64{unix.CLONE_NEWUSER}, unix.SECCOMP_RET_ALLOW},
		{append(dockerCaps, "CAP_SYS_ADMIN"), "clone3 with CAP_SYS_ADMIN", nr("clone3"), nil, unix.SECCOMP_RET_ALLOW},
		{[]string{"CAP_BPF"}, "bpf with CAP_BPF", nr("bpf"), nil, unix.SECCOMP_RET_ALLOW},
	} {
		f, err := Compile(DefaultProfile().ForContainer(c.caps))
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, f, arch, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.what, got, c.want)
		}
	}
	f, _ := Compile(DefaultProfile().ForContainer(dockerCaps))
	if runtime.GOARCH == "amd64" {
		if got := run(t, f, unix.AUDIT_ARCH_I386, numbers(1)["getpid"]); got != unix.SECCOMP_RET_ALLOW {
			t.Errorf("i386 getpid: %#x: the archMap puts x86 beside x86_64", got)
		}
		if got := run(t, f, unix.AUDIT_ARCH_I386, numbers(1)["bpf"]); got != eperm {
			t.Errorf("i386 bpf: %#x", got)
		}
	}
	if len(f.Program) > maxInstructions/2 {
		t.Errorf("%d instructions", len(f.Program))
	}
	t.Logf("the default profile: %d rules for %s, %d BPF instructions for %v", f.Rules, runtime.GOARCH, len(f.Program), f.Arches)
}

func TestParseProfileRefuses(t *testing.T) {
	for want, data := range map[string]string{
		"not a seccomp profile":                             `[1, 2]`,
		"defaultAction: missing":                            `{"syscalls": []}`,
		"syscalls[0]: no names":                             `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}`,
		"syscalls[0]: both name and names":                  `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`,
		"syscalls[0].includes.minKernel":                    `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]}`,
		"null":                                              `null`,
		"defaultAction: SCMP_ACT_ERRNO with errnoRet 65536": `{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536}`,
		// The index is the file's: the rule is the second, whatever the
		// conditions of the first make of it for a container.
		"syscalls[1].action: SCMP_ACT_ERRNO with errnoRet 4294967297": `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4294967297}]}`,
		"syscalls[1].args[0].index 6": `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64", "arm64"]}},
			{"names": ["write"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]}`,
	} {
		_, err := ParseProfile([]byte(data))
		if want == "null" {
			want = "defaultAction: missing"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", data, err, want)
		}
	}
}

func TestParseKernel(t *testing.T) {
	for in, want := range map[string][2]int{"4.8": {4, 8}, "6.1.0-57-amd64": {6, 1}, "5.19-rc1": {5, 19}, "6.18.44-fc-v657": {6, 18}} {
		if got, err := parseKernel(in); err != nil || got != want {
			t.Errorf("parseKernel(%q) = %v %v, want %v", in, got, err, want)
		}
	}
}

func FuzzParseProfile(f *testing.F) {
	f.Add(defaultJSON)
	f.Add([]byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "action": "SCMP_ACT_ERRNO", "args": [{"index": 7}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile(data)
		if err != nil {
			return
		}
		Compile(p.ForContainer(dockerCaps)) // must not panic, whatever the profile says
	})
}
