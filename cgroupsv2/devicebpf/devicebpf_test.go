package devicebpf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
)

func dev(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: &major, Minor: &minor, Access: access}
}

var denyAll = specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}

// The v2 program is the same on a hybrid host: attach it to a cgroup in the
// cgroup2 tree and see the kernel refuse what the rules do not allow.
func TestDeviceProgramEnforced(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	trees, err := cgroupsv2.Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	var v2 string
	for _, h := range trees {
		if !h.V1 {
			v2 = filepath.Join(h.Mount, h.Own, "glassbox-devices-test-"+strconv.Itoa(os.Getpid()))
		}
	}
	if v2 == "" {
		t.Skip("no cgroup2 tree")
	}
	if err := os.Mkdir(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(v2)
	p, err := cgroupsv2.NewDevicePolicy([]specs.LinuxDeviceCgroup{denyAll,
		dev(true, "c", 1, 3, "rwm"), // /dev/null
		dev(true, "c", 1, -1, "r"),  // every memory device (zero, urandom…), read only
		dev(true, "c", 1, 7, "rw"),
		dev(false, "c", 1, 7, "w"), // /dev/full: the last rule that matches wins
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := attach(v2, p); err != nil {
		t.Fatal(err)
	}
	cg, err := os.Open(v2)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	for script, allowed := range map[string]bool{
		"true </dev/null":       true,
		"echo >/dev/null":       true,
		"head -c1 /dev/zero":    true,
		"echo >/dev/zero":       false,
		"head -c1 /dev/urandom": true,
		"exec 3<>/dev/urandom":  false,
		"head -c1 /dev/full":    true,
		"exec 3>/dev/full":      false,
		"true </dev/tty":        false,
		"mknod /tmp/gb-null-$$ c 1 3 && rm /tmp/gb-null-$$": true,
		"mknod /tmp/gb-zero-$$ c 1 5":                       false,
	} {
		cmd := exec.Command("sh", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
		out, err := cmd.CombinedOutput()
		if (err == nil) != allowed || !allowed && !strings.Contains(string(out), "Operation not permitted") {
			t.Errorf("%s in the cgroup: err=%v (allowed: %v) %s", script, err, allowed, out)
		}
	}
}
