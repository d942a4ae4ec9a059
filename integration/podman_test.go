package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
)

// callers are the real programs that drive an OCI runtime: Debian's podman
// (with conmon) and containerd (with ctr and its runc shim). .ci/run installs
// them; the VM runs the host's, and there they must be.
func needCallers(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("GLASSBOX_VMTEST") == "1" {
				t.Fatalf("%s is not installed on the host, whose /usr the VM runs (.ci/run installs it)", p)
			}
			t.Skipf("%s is not installed (.ci/run installs it)", p)
		}
	}
}

// runcLink is a glassbox-runc symlink to the binary under test: invoked by
// that name, glassbox is an OCI runtime.
func runcLink(t *testing.T) string {
	link := filepath.Join(t.TempDir(), "glassbox-runc")
	if err := os.Symlink(glassbox, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// ownCgroup is the test's own cgroup (in the memory tree on v1): containers'
// cgroups go beneath it, never beside it.
func ownCgroup(t *testing.T) string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own := "/"
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if parts[1] == "memory" || parts[1] == "" && own == "/" {
			own = parts[2]
		}
	}
	return own
}

// callerCgroup is a cgroup parent beneath the test's own for a caller's
// containers, removed at the end with what the caller left in it (podman
// keeps conmon's cgroup); the containers' own cgroups are glassbox's to
// remove, and must be gone by then.
func callerCgroup(t *testing.T, name string) string {
	parent := filepath.Join(ownCgroup(t), name)
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
		if d := filepath.Join("/sys/fs/cgroup", parent); isDir(d) {
			dirs = append(dirs, d)
		}
		for _, d := range dirs {
			entries, _ := os.ReadDir(d)
			for _, e := range entries {
				if !e.IsDir() {
					continue
				}
				if e.Name() == "conmon" {
					os.Remove(filepath.Join(d, e.Name()))
				} else {
					t.Errorf("cgroup left behind: %s", filepath.Join(d, e.Name()))
				}
			}
			os.Remove(d)
		}
	})
	return parent
}

// removeIfMadeHere removes, when the test ends, those of the paths that do
// not exist yet: state a caller keeps in fixed places.
func removeIfMadeHere(t *testing.T, paths ...string) {
	for _, p := range paths {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			t.Cleanup(func() { os.RemoveAll(p) })
		}
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// ociLeftovers lists glassbox-runc's containers in its default state root.
func ociLeftovers() []string {
	found, _ := filepath.Glob("/run/glassbox-runc/containers/*")
	return found
}

// caller runs a program that drives glassbox-runc (podman, ctr) with the
// test's global flags.
type caller struct {
	t       *testing.T
	program string
	global  []string
}

func (c *caller) try(args ...string) (string, error) {
	out, err := exec.Command(c.program, append(append([]string{}, c.global...), args...)...).CombinedOutput()
	return string(out), err
}

func (c *caller) must(args ...string) string {
	c.t.Helper()
	out, err := c.try(args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", c.program, strings.Join(args, " "), err, out)
	}
	return out
}

type podman struct {
	caller
	image string // busybox's image id: a name could send podman to a registry
}

// newPodman is podman with a storage and run root of the test's own,
// glassbox-runc as its runtime and cgroupfs as its cgroup manager (this
// host's controllers are on v1, which podman's systemd manager cannot
// nest), with the busybox image loaded from an OCI layout.
func newPodman(t *testing.T) *podman {
	needCallers(t, "podman", "conmon")
	dir := t.TempDir()
	p := &podman{caller: caller{t: t, program: "podman", global: []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", runcLink(t)}}}
	// Whatever --root says, podman keeps its blob cache in /var/lib/containers
	// and CNI its leases in /var/lib/cni.
	removeIfMadeHere(t, "/var/lib/containers", "/run/containers", "/var/lib/cni")
	before := ociLeftovers()
	t.Cleanup(func() {
		p.try("rm", "--all", "--force")
		p.try("system", "reset", "--force")
		if extra := diff(ociLeftovers(), before); len(extra) > 0 {
			t.Errorf("glassbox-runc state left behind: %v", extra)
		}
	})
	lines := strings.Fields(p.must("pull", "oci:"+busyboxLayout))
	p.image = lines[len(lines)-1]
	return p
}

// podman's default hard limits (nofile 1048576) are above this host's, and
// only a privileged caller may raise a hard limit.
var podmanUlimits = []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

// podman run --rm, with podman's whole config.json (seccomp profile, device
// rules, sysctls, masked paths, its own /etc/hosts binds), through glassbox.
func TestPodmanRun(t *testing.T) {
	newEnv(t)
	p := newPodman(t)
	parent := callerCgroup(t, "glassbox-podman-test")
	run := append([]string{"run", "--rm", "--pull", "never", "--network", "none", "--cgroup-parent", parent}, podmanUlimits...)
	// Its cgroup: beneath --cgroup-parent. On v2 podman would give it a
	// cgroup namespace of its own, where its cgroup is the root: the host's
	// is asked for, so that the container can show where glassbox put it.
	cgroupns := []string{}
	if mode, _ := cgroupsv2.Detect(); mode == cgroupsv2.Unified {
		cgroupns = []string{"--cgroupns", "host"}
	}
	out := p.must(append(append(slices.Clone(run), cgroupns...), p.image, "sh", "-c",
		"echo hi; grep ^Seccomp: /proc/self/status; cat /proc/sys/net/ipv4/ping_group_range; mknod /tmp/m c 1 1 2>&1; cat /proc/self/cgroup")...)
	for _, want := range []string{"hi\n", "Seccomp:\t2", "0\t0", "Operation not permitted", parent + "/libpod-"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in the container's output:\n%s", want, out)
		}
	}
	// -t: conmon's console socket gets the master of a pty made in the container.
	if out := p.must(append(run, "-t", p.image, "tty")...); strings.TrimSpace(out) != "/dev/pts/0" {
		t.Errorf("podman run -t … tty: %q", out)
	}
	// --uidmap: a user namespace, with the layer chowned by podman's storage.
	out = p.must(append(run, "--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536", p.image, "sh", "-c",
		"id -u; cat /proc/self/uid_map; touch /etc/made && echo wrote")...)
	if !regexp.MustCompile(`^0\n\s+0\s+200000\s+65536\nwrote\n$`).MatchString(out) {
		t.Errorf("podman run --uidmap 0:200000:65536:\n%s", out)
	}
	// Written in place: podman sees the container's changes in its layer.
	id := strings.TrimSpace(p.must(append([]string{"create", "--network", "none", "--cgroup-parent", parent}, append(podmanUlimits, p.image, "touch", "/made-here")...)...))
	p.must("start", "--attach", id)
	if diff := p.must("diff", id); !strings.Contains(diff, "A /made-here") {
		t.Errorf("podman diff after touch /made-here:\n%s", diff)
	}
	p.must("rm", id)
}

// A detached container on podman's default network (a CNI bridge; podman
// makes the network namespace and glassbox joins it by path), podman exec
// into it, podman stop.
func TestPodmanDetachedExecStop(t *testing.T) {
	newEnv(t)
	p := newPodman(t)
	parent := callerCgroup(t, "glassbox-podman-test")
	bridgeBefore := linkExists("cni-podman0")
	if !bridgeBefore {
		t.Cleanup(func() {
			if l, err := netlink.LinkByName("cni-podman0"); err == nil {
				netlink.LinkDel(l) // podman's bridge, made for this test
			}
		})
	}
	id := strings.TrimSpace(p.must(append([]string{"run", "-d", "--cgroup-parent", parent}, append(podmanUlimits, p.image, "sh", "-c", "trap 'exit 3' TERM; httpd -p 8080 -h /etc; while :; do sleep 0.1; done")...)...))
	ip := strings.TrimSpace(p.must("inspect", "--format", "{{.NetworkSettings.IPAddress}}", id))
	if ip == "" {
		t.Fatalf("no address on podman's network")
	}
	if got := httpGet(t, "http://"+net.JoinHostPort(ip, "8080")+"/hostname"); strings.TrimSpace(got) != id[:12] {
		t.Errorf("GET /hostname from the container's httpd, from the host: %q, want %q", got, id[:12])
	}
	if out := p.must("exec", id, "sh", "-c", "echo exec-ok; ip -4 addr show eth0"); !strings.Contains(out, "exec-ok") || !strings.Contains(out, ip+"/") {
		t.Errorf("podman exec: %s", out)
	}
	// podman update → glassbox-runc update --resources FILE; the container
	// sees its own cgroup (bind-mounted: podman gives it no cgroup namespace on v1).
	p.must("update", "--memory", "100m", id)
	if out := p.must("exec", id, "sh", "-c", "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"); strings.TrimSpace(out) != "104857600" {
		t.Errorf("memory limit inside after podman update --memory 100m: %q", out)
	}
	start := time.Now()
	p.must("stop", "-t", "5", id)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("podman stop took %v: SIGTERM did not reach the container's trap", took)
	}
	if state := p.must("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id); strings.TrimSpace(state) != "exited 3" {
		t.Errorf("after stop: %q, want exited 3", state)
	}
	p.must("rm", id)
}

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}
