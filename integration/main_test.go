// Package integration runs real containers with the glassbox binary, as root,
// and checks what the container and the kernel show. Every test also checks
// that nothing is left behind: mounts, cgroups, state directories, veths,
// address leases and NAT rules (bridges persist, like docker0).
//
// GLASSBOX_BIN and GLASSBOX_TEST_ROOTFS name a prebuilt binary (with
// glassbox-full, glassbox-init and the others beside it) and busybox rootfs (the VM harness passes them);
// otherwise TestMain builds them.
package integration

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/netns"
)

var (
	glassbox      string // path of the binary under test
	rootfs        string // busybox rootfs, never modified by the tests
	busyboxLayout string // the same rootfs as a one-layer OCI image layout, busybox:latest
)

// roles are programs the test binary also is: started inside a container
// (bind-mounted there, testProgram) with GLASSBOX_TEST_ROLE naming one, it
// plays that part instead of running tests.
var roles = map[string]func() int{
	"attack-init-binary":   attackInitBinary,
	"attack-host-loopback": attackHostLoopback,
	"forbidden-calls":      forbiddenCalls,
	"udp-echo":             udpEcho,
}

// testProgram is the test binary, to bind-mount into a container and run
// there as one of its roles: a static binary, which needs nothing of the
// container's.
func testProgram(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the test binary is dynamically linked and cannot run in a busybox container: build it with CGO_ENABLED=0 (make test does)")
		}
	}
	return self
}

func TestMain(m *testing.M) {
	if play, ok := roles[os.Getenv("GLASSBOX_TEST_ROLE")]; ok {
		os.Exit(play()) // inside a container
	}
	if os.Geteuid() != 0 {
		fmt.Println("integration tests need root (they create namespaces, mounts and cgroups): skipped")
		os.Exit(0)
	}
	tmp, err := os.MkdirTemp("", "glassbox-it-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		defer removeNetworkRulesMadeHere()()
		defer removeDirsMadeHere("/run/containerd")()
		if err := setup(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "integration setup:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// removeDirsMadeHere returns what removes, once the tests are done, those of
// paths that did not exist before them. containerd's shims and ctr keep
// sockets and FIFOs under /run/containerd whatever containerd's config says,
// and a shim or containerd a test has ended may still make them a moment
// later: a test that removed the directory at its end left it to the next.
func removeDirsMadeHere(paths ...string) func() {
	var made []string
	for _, p := range paths {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			made = append(made, p)
		}
	}
	return func() {
		for _, p := range made {
			os.RemoveAll(p)
		}
	}
}

// removeNetworkRulesMadeHere notes which networks have NAT rules now, and
// returns what removes, once the tests are done, the rules of the networks
// the tests gave rules to: glassbox keeps a network's rules while its bridge
// stays (docs/network.md), a test suite leaves the host as it found it. A
// network someone's container is on keeps its rules.
func removeNetworkRulesMadeHere() func() {
	before, _ := netns.NATOwners()
	return func() {
		after, _ := netns.NATOwners()
		for _, owner := range diff(after, before) {
			name, ok := strings.CutPrefix(owner, "net:")
			if !ok {
				continue
			}
			s, err := netns.OpenStore()
			if err != nil {
				continue
			}
			if n, err := s.Get(name); err != nil || len(n.Leases) == 0 {
				if err := netns.RemoveNetworkNAT(name); err != nil {
					fmt.Fprintln(os.Stderr, "integration: remove the NAT rules of network", name+":", err)
				}
			}
			s.Close()
		}
	}
}

func setup(tmp string) error {
	_, self, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(self))
	glassbox = os.Getenv("GLASSBOX_BIN")
	if glassbox == "" {
		glassbox = filepath.Join(tmp, "glassbox")
		for _, c := range []struct{ name, pkg, tags string }{
			{"glassbox", "glassbox", "lean"}, {"glassbox-full", "glassbox", ""}, {"glassbox-init", "glassbox-init", ""},
			{"glassbox-shim", "glassbox-shim", ""}, {"glassbox-pause", "glassbox-pause", ""}, {"glassbox-otlp", "glassbox-otlp", ""},
		} {
			cmd := exec.Command("go", "build", "-tags", c.tags, "-o", filepath.Join(tmp, c.name), "./cmd/"+c.pkg)
			cmd.Dir, cmd.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %v\n%s", c.name, err, out)
			}
		}
	}
	rootfs = os.Getenv("GLASSBOX_TEST_ROOTFS")
	if rootfs == "" {
		rootfs = filepath.Join(tmp, "rootfs")
		cmd := exec.Command(filepath.Join(repo, "hack", "mkrootfs.sh"), rootfs)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("mkrootfs: %v\n%s", err, out)
		}
	}
	busyboxLayout = filepath.Join(tmp, "busybox-oci")
	return image.WriteLayout(rootfs, busyboxLayout, "busybox:latest", time.Now())
}

// result is one glassbox invocation.
type result struct {
	stdout, stderr string
	code           int
}

// env is a test's private state root and the host state it must leave as found.
type env struct {
	t    testing.TB
	root string
}

// newEnv gives the test its own state root and checks, when it ends, that no
// mount, cgroup or state directory was left behind.
func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, root: t.TempDir()}
	mountsBefore := mountPoints(t)
	cgroupsBefore := glassboxCgroups(t)
	vethsBefore := veths()
	natBefore, _ := netns.NATOwners()
	t.Cleanup(func() {
		// A veth goes with its container's network namespace, which the
		// kernel destroys in a workqueue: give it a moment.
		var extra []string
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if extra = diff(veths(), vethsBefore); len(extra) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(extra) > 0 {
			t.Errorf("leaked veths: %v", extra)
		}
		if nat, _ := netns.NATOwners(); len(diff(containerRules(nat), containerRules(natBefore))) > 0 {
			t.Errorf("leaked nftables rules: %v", diff(containerRules(nat), containerRules(natBefore)))
		}
		if leases := leasesUnder(e.root); len(leases) > 0 {
			t.Errorf("leaked address leases: %+v", leases)
		}
		if extra := leakedMounts(mountPoints(t), mountsBefore); len(extra) > 0 {
			t.Errorf("leaked mounts: %v", extra)
		}
		if extra := diff(glassboxCgroups(t), cgroupsBefore); len(extra) > 0 {
			t.Errorf("leaked cgroups: %v", extra)
		}
		// What a failed test left would run on, for every later test to
		// trip over (its lease is on the host's bridge): once reported, it
		// goes.
		if t.Failed() {
			if ids := strings.Fields(e.run("", "ps", "-aq").stdout); len(ids) > 0 {
				e.run("", append([]string{"rm", "-f"}, ids...)...)
			}
			e.run("", "gc")
		}
	})
	return e
}

// run runs glassbox with the test's state root and the given stdin.
func (e *env) run(stdin string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(glassbox, args...)
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
	cmd.Stdin = strings.NewReader(stdin)
	return runCommand(e.t, cmd)
}

// runCommand runs cmd to its end and gives its output and exit status; a
// command that cannot be started at all ends the test.
func runCommand(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return r
}

// container runs `glassbox run --rm [flags] --rootfs <busybox> -- cmd...` and
// requires it to exit 0, returning its stdout.
func (e *env) container(flags []string, cmd ...string) string {
	e.t.Helper()
	r := e.run("", e.runArgs(flags, cmd...)...)
	if r.code != 0 {
		e.t.Fatalf("glassbox run %v %v: exit %d\nstdout: %s\nstderr: %s", flags, cmd, r.code, r.stdout, r.stderr)
	}
	e.noState()
	return r.stdout
}

func (e *env) runArgs(flags []string, cmd ...string) []string {
	args := append([]string{"run", "--rm", "--rootfs", rootfs}, flags...)
	return append(append(args, "--"), cmd...)
}

// onlyContainer is the state directory of the one container in the test's
// state root.
func (e *env) onlyContainer() string {
	e.t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(e.root, "containers", "*"))
	if len(dirs) != 1 {
		e.t.Fatalf("expected one container's state directory, found %v", dirs)
	}
	return dirs[0]
}

// noState checks that the state root holds no container directory.
func (e *env) noState() {
	e.t.Helper()
	entries, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	if len(entries) > 0 {
		var names []string
		for _, d := range entries {
			names = append(names, d.Name())
		}
		e.t.Errorf("state directories left behind: %v", names)
	}
}

func mountPoints(t testing.TB) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			out = append(out, f[4])
		}
	}
	return out
}

// hostMounts stay once made, whoever made them first on this machine, and are
// no test's to remove: glassbox mounts tracefs and the BPF filesystem where
// the system has not (as systemd would at boot; the kernel probes stay pinned
// there), and iproute2 and CNI make /run/netns a shared mount the first time
// a network namespace is named.
var hostMounts = []string{"/sys/kernel/tracing", "/sys/fs/bpf", "/run/netns"}

// leakedMounts are the mount points there now that were not before, but for
// the first of each host mount: a test may be the machine's first to make
// one; a second on top of it is a leak all the same.
func leakedMounts(now, before []string) []string {
	extra := diff(now, before)
	for _, p := range hostMounts {
		if i := slices.Index(extra, p); i >= 0 && !slices.Contains(before, p) {
			extra = slices.Delete(extra, i, i+1)
		}
	}
	return extra
}

// glassboxCgroups lists cgroup directories at or below a "glassbox" directory,
// but for the "glassbox" directories themselves: the parent of the default
// placement stays once made, whoever made it (cgroupsv2.Destroy), as
// Docker's "docker" does.
func glassboxCgroups(t testing.TB) []string {
	var out []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.Contains(p, "/glassbox") && filepath.Base(p) != "glassbox" {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// veths lists the host ends of container veths (gb + 12 hex digits).
func veths() []string {
	links, _ := netlink.LinkList()
	var out []string
	for _, l := range links {
		if l.Type() == "veth" && strings.HasPrefix(l.Attrs().Name, "gb") {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

func containerRules(owners []string) []string {
	var out []string
	for _, o := range owners {
		if strings.HasPrefix(o, "ctr:") {
			out = append(out, o)
		}
	}
	return out
}

// leasesUnder lists the address leases of containers of a state root.
func leasesUnder(root string) []netns.Lease {
	s, err := netns.OpenStore()
	if err != nil {
		panic(err)
	}
	defer s.Close()
	all, _ := s.List()
	var out []netns.Lease
	for _, n := range all {
		for _, l := range n.Leases {
			if strings.HasPrefix(l.Dir, root+"/") {
				out = append(out, l)
			}
		}
	}
	return out
}

// diff returns what is in after but not in before (as multisets of strings).
func diff(after, before []string) []string {
	count := map[string]int{}
	for _, b := range before {
		count[b]++
	}
	var extra []string
	for _, a := range after {
		if count[a] > 0 {
			count[a]--
			continue
		}
		extra = append(extra, a)
	}
	slices.Sort(extra)
	return extra
}
