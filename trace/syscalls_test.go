package trace

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/stages"
)

func TestCloneFlags(t *testing.T) {
	for f, want := range map[uint64]string{
		unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET: "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET",
		0x1200011:            "CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD",
		unix.CLONE_NEWCGROUP: "CLONE_NEWCGROUP",
		0:                    "0x0",
	} {
		if got := stages.CloneFlagNames(f); got != want {
			t.Errorf("CloneFlagNames(%#x) = %q, want %q", f, got, want)
		}
	}
}

func TestDecodeMount(t *testing.T) {
	sc := syscallTable[unix.SYS_MOUNT]
	got := sc.decode([6]uint64{0, 0, 0, unix.MS_BIND | unix.MS_REC}, []string{"/a", "/b", ""})
	if want := `mount("/a", "/b", "", MS_BIND|MS_REC)`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestReadLayout(t *testing.T) {
	if _, err := EnsureTracefs(); err != nil {
		t.Skip("no tracefs here:", err)
	}
	l, err := readLayout("raw_syscalls", "sys_enter", "id", "args", "")
	if err != nil {
		t.Skip("no raw_syscalls tracepoint here:", err)
	}
	if l.NumSize != 8 || l.ValSize != 48 || l.ValOff != l.NumOff+8 {
		t.Errorf("sys_enter layout %+v: want an 8-byte id followed by args[6]", l)
	}
	if _, err := readLayout("raw_syscalls", "sys_enter", "no_such_field", "", ""); err == nil {
		t.Error("a missing field must be an error")
	}
}
