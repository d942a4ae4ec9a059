package integration

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/image"
)

// cri is containerd with its CRI plugin — the API kubelet speaks — on a root,
// state and socket of the test's own, with a runtime handler "glassbox" whose
// runc binary is glassbox-runc, CNI's bridge plugin on a bridge and subnet of
// the test's own, and a sandbox image of glassbox-pause; crictl drives it.
type cri struct {
	caller              // crictl, pointed at this containerd
	ctr          caller // ctr, in CRI's containerd namespace
	sock         string
	dir          string // config, logs, CNI leases
	cgroupParent string // pods' cgroups go beneath it, in containerd's cgroup namespace
	runtimeRoot  string // glassbox-runc's state root, as containerd's shim passes it
}

const (
	criNamespace = "k8s.io" // containerd's namespace for CRI's images and containers
	criBridge    = "gbcri0"
	criSubnet    = "10.88.77.0/24"
	pauseImage   = "glassbox.test/pause:1"
	criBusybox   = "docker.io/library/busybox:latest"
)

func newCRI(t *testing.T) *cri {
	needCallers(t, "containerd", "ctr", "containerd-shim-runc-v2", "crictl", "/usr/lib/cni/bridge") // the last: Debian's containernetworking-plugins
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	crictlConfig := filepath.Join(dir, "crictl.yaml")
	if err := os.WriteFile(crictlConfig, []byte("runtime-endpoint: unix://"+sock+"\nimage-endpoint: unix://"+sock+"\ntimeout: 30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &cri{caller: caller{t: t, program: "crictl", global: []string{"--config", crictlConfig}}, sock: sock,
		ctr: caller{t: t, program: "ctr", global: []string{"--address", sock, "--namespace", criNamespace}},
		dir: dir, cgroupParent: "/glassbox-cri-test", runtimeRoot: filepath.Join("/run/containerd/runc", criNamespace)}
	for _, d := range []string{"cni", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conflist := map[string]any{"cniVersion": "0.4.0", "name": "glassbox-cri-test", "plugins": []any{map[string]any{
		"type": "bridge", "bridge": criBridge, "isGateway": true, "ipMasq": false,
		"ipam": map[string]any{"type": "host-local", "subnet": criSubnet, "dataDir": filepath.Join(dir, "ipam")},
	}}}
	data, _ := json.Marshal(conflist)
	if err := os.WriteFile(filepath.Join(dir, "cni", "10-glassbox.conflist"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = "%s.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.glassbox]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.glassbox.options]
        BinaryName = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock, pauseImage, filepath.Join(dir, "cni"), runcLink(t))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	// The shim keeps its sockets and FIFOs under /run/containerd whatever
	// containerd's config says (TestMain removes it if the tests made it).
	// CNI's named network namespaces go in /run/netns, a host mount that
	// stays (hostMounts).
	log, _ := os.Create(filepath.Join(dir, "containerd.log"))
	// containerd, and every shim and runtime it starts, in a cgroup namespace
	// of its own, with cgroupfs mounted again inside: the test's own cgroups
	// are the root of every tree there. runc makes a pod's cgroups at the root
	// when the pod names no parent (critest's do not), which on a v1 host
	// would move processes out of the test's own cgroup.
	daemon := exec.Command("unshare", "--mount", "--cgroup", "--propagation", "private", "--", "sh", "-ec", `
		awk '$9 == "cgroup" || $9 == "cgroup2" {print $5, $9, $NF}' /proc/self/mountinfo | while read -r dir fs opts; do
			umount "$dir"
			mount -t "$fs" -o "$opts" "$fs" "$dir"
		done
		exec containerd --config "$1"`, "sh", filepath.Join(dir, "config.toml"))
	daemon.Stdout, daemon.Stderr = log, log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	netnsBefore := namedNetns()
	t.Cleanup(func() {
		if leftover, _ := filepath.Glob(filepath.Join(c.runtimeRoot, "containers", "*")); len(leftover) > 0 {
			t.Errorf("glassbox-runc state left behind: %v", leftover)
		}
		for _, ns := range namedNetns() {
			if !strings.Contains(strings.Join(netnsBefore, " "), ns) {
				t.Errorf("network namespace left behind: /run/netns/%s", ns)
			}
		}
		if leases, _ := filepath.Glob(filepath.Join(dir, "ipam", "glassbox-cri-test", "10.*")); len(leases) > 0 {
			t.Errorf("CNI leases left behind: %v", leases)
		}
		daemon.Process.Kill()
		daemon.Wait()
		log.Close()
		// The pods' parent, in every tree beneath the test's own cgroup (the
		// root of containerd's namespace); what is still below it is a leak.
		trees, _ := cgroupsv2.Hierarchies()
		for _, tree := range trees {
			parent := filepath.Join(tree.Mount, tree.Own, c.cgroupParent)
			if left, _ := os.ReadDir(parent); len(left) > 0 {
				for _, e := range left {
					if e.IsDir() {
						t.Errorf("cgroup left behind: %s", filepath.Join(parent, e.Name()))
					}
				}
			}
			os.Remove(parent)
		}
		os.RemoveAll(c.runtimeRoot)
		if l, err := netlink.LinkByName(criBridge); err == nil {
			netlink.LinkDel(l) // CNI's bridge plugin makes it and never removes it
		}
	})
	// Whatever a failed test left running goes before containerd does.
	t.Cleanup(func() {
		if pods, err := c.try("pods", "-q"); err == nil {
			for _, id := range strings.Fields(pods) {
				c.try("stopp", id)
				c.try("rmp", "--force", id)
			}
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := c.ctr.try("version"); err == nil {
			break
		} else if time.Now().After(deadline) {
			data, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			t.Fatalf("containerd did not come up: %v\n%s", err, data)
		}
	}
	c.importImages()
	return c
}

// importImages imports the sandbox image (glassbox-pause as its only file)
// and busybox, from this machine, under the names CRI and critest ask for.
func (c *cri) importImages() {
	c.t.Helper()
	pauseRoot, pauseLayout := filepath.Join(c.dir, "pause-rootfs"), filepath.Join(c.dir, "pause-oci")
	if _, err := os.Stat(pauseLayout); err != nil {
		pause, err := os.ReadFile(filepath.Join(filepath.Dir(glassbox), "glassbox-pause"))
		if err != nil {
			c.t.Fatalf("glassbox-pause beside the binary under test: %v (make build makes it)", err)
		}
		os.Mkdir(pauseRoot, 0o755)
		if err := os.WriteFile(filepath.Join(pauseRoot, "pause"), pause, 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := image.WriteLayout(pauseRoot, pauseLayout, pauseImage, time.Now(), "/pause"); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, img := range []struct {
		layout, name string
		tags         []string
	}{
		{pauseLayout, pauseImage, []string{"registry.k8s.io/pause:3.9"}},
		{busyboxLayout, "busybox:latest", []string{criBusybox, "registry.k8s.io/e2e-test-images/busybox:1.29-2"}},
	} {
		tarball := filepath.Join(c.dir, filepath.Base(img.layout)+".tar")
		if out, err := exec.Command("tar", "-C", img.layout, "-cf", tarball, ".").CombinedOutput(); err != nil {
			c.t.Fatalf("tar: %v %s", err, out)
		}
		c.ctr.must("images", "import", tarball)
		for _, tag := range img.tags {
			c.ctr.must("images", "tag", "--force", img.name, tag)
		}
	}
}

// namedNetns lists /run/netns.
func namedNetns() []string {
	entries, _ := os.ReadDir("/run/netns")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// config writes a pod's or a container's CRI config as JSON for crictl.
func (c *cri) config(name string, v map[string]any) string {
	c.t.Helper()
	data, _ := json.Marshal(v)
	path := filepath.Join(c.dir, name+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// A pod through Kubernetes' CRI: containerd → its runc shim → glassbox-runc.
// Two containers share the pod's network namespace (the pause container's,
// joined by path) and talk over localhost; exec and logs go through the CRI;
// stopping and removing the pod leaves nothing: no glassbox state, cgroup,
// network namespace or CNI lease.
func TestCRIPod(t *testing.T) {
	newEnv(t)
	c := newCRI(t)
	pod := c.config("pod", map[string]any{
		"metadata":      map[string]any{"name": "gbpod", "namespace": "default", "uid": "gbpod-uid"},
		"hostname":      "gbpod",
		"log_directory": filepath.Join(c.dir, "logs"),
		"linux": map[string]any{"cgroup_parent": c.cgroupParent,
			"security_context": map[string]any{"namespace_options": map[string]any{"pid": 1}}}, // kubelet's default: a pid namespace per container
	})
	podID := strings.TrimSpace(c.must("runp", "--runtime", "glassbox", pod))
	// The sandbox's start, as glassbox-runc traced it (the shim's --root).
	show := exec.Command(glassbox, "--root", c.runtimeRoot, "trace", "show", podID)
	show.Env = append(os.Environ(), "COLUMNS=100")
	out, err := show.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "glassbox create") {
		t.Errorf("the sandbox's trace: %v\n%s", err, out)
	}
	t.Logf("the pod sandbox's start, traced by glassbox-runc:\n%s", out)
	container := func(name string, cmd ...string) string {
		cfg := c.config(name, map[string]any{
			"metadata": map[string]any{"name": name},
			"image":    map[string]any{"image": criBusybox},
			"command":  cmd,
			"log_path": name + ".log",
		})
		id := strings.TrimSpace(c.must("create", podID, cfg, pod))
		c.must("start", id)
		return id
	}
	// Until one connection carries the line (busybox nc may see a client
	// that connected before it listened, and close).
	server := container("server", "sh", "-c", "until nc -l -p 8080 | grep hello-over-localhost; do :; done")
	container("client", "sh", "-c", "for i in $(seq 100); do echo hello-over-localhost | nc 127.0.0.1 8080; sleep 0.1; done")
	var logs string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if logs = c.must("logs", server); strings.Contains(logs, "hello-over-localhost") {
			break
		}
	}
	if !strings.Contains(logs, "hello-over-localhost") {
		inspect, _ := c.try("inspect", server)
		t.Errorf("the server never heard the client over the pod's localhost; its logs: %q\n%s\n%s", logs, c.must("ps", "-a"), inspect)
	}
	probe := container("probe", "sleep", "60")
	if out := c.must("exec", probe, "hostname"); strings.TrimSpace(out) != "gbpod" {
		t.Errorf("exec hostname: %q, want the pod's", out)
	}
	if out, err := exec.Command("script", "-qec", strings.Join(append([]string{"crictl"}, append(c.global, "exec", "-it", probe, "sh", "-c", "tty; echo $((6*7))")...), " "), "/dev/null").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "42") {
		t.Errorf("exec -it: %v %q", err, out)
	}
	c.must("stopp", podID)
	c.must("rmp", podID)
	if out := c.must("pods", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("pods after rmp: %q", out)
	}
}

// critest, the CRI validation suite Kubernetes runs against runtimes, with
// the runc handler and with glassbox's on the same containerd, offline: every
// spec that passes with runc must pass with glassbox-runc. (Offline, runc
// fails those that pull images or need port-forwarding's tools.) The counts
// go to the test's log, which CI prints. critest's image specs are left out:
// they test containerd's image service, not the runtime.
func TestCritest(t *testing.T) {
	if os.Getenv("GLASSBOX_VMTEST") == "1" {
		t.Skip("critest runs on the host: its 100 s would be over ten minutes in the VM, which has no KVM here (TestCRIPod runs in both)")
	}
	needCallers(t, "critest")
	newEnv(t)
	c := newCRI(t)
	passed := map[string]map[string]bool{} // handler → spec → passed
	failure := map[string]string{}         // spec → why it failed with glassbox-runc
	for _, handler := range []string{"runc", "glassbox"} {
		c.importImages() // critest's image tests remove images
		report := filepath.Join(c.dir, "critest-"+handler+".xml")
		// The Image Manager specs test containerd's image service, whichever
		// the runtime, and remove the images every other spec needs: left
		// out. One seed: the same order for both handlers.
		args := []string{"-runtime-endpoint", "unix://" + c.sock, "-image-endpoint", "unix://" + c.sock,
			"-runtime-handler", handler, "-ginkgo.no-color", "-ginkgo.junit-report", report, "-ginkgo.timeout", "20m",
			"-ginkgo.seed", "1", "-ginkgo.skip", `\[k8s\.io\] Image Manager`}
		if focus := os.Getenv("CRITEST_FOCUS"); focus != "" { // a developer's: one spec, say
			args = append(args, "-ginkgo.focus", focus)
		}
		cmd := exec.Command("critest", args...)
		tmp := filepath.Join(c.dir, "critest-tmp-"+handler) // what critest makes and leaves goes with the test
		os.Mkdir(tmp, 0o755)
		cmd.Dir, cmd.Env = c.dir, append(os.Environ(), "TMPDIR="+tmp)
		start := time.Now()
		out, _ := cmd.CombinedOutput() // failed specs make it exit 1
		os.WriteFile(filepath.Join(c.dir, "critest-"+handler+".log"), out, 0o644)
		// critest's mount-propagation specs bind-mount a directory of their
		// own ($TMPDIR/test<pod id>/mnt) on the host, and their clean-up, which
		// unmounts a mount point inside it first, leaves it when that one is
		// not mounted: theirs, with either runtime.
		left, _ := filepath.Glob(filepath.Join(tmp, "test*", "mnt"))
		for _, mnt := range left {
			unix.Unmount(mnt, unix.MNT_DETACH)
			os.RemoveAll(filepath.Dir(mnt))
		}
		var suites struct {
			Suites []struct {
				Cases []struct {
					Name    string `xml:"name,attr"`
					Status  string `xml:"status,attr"`
					Failure struct {
						Message string `xml:"message,attr"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		data, err := os.ReadFile(report)
		if err == nil {
			err = xml.Unmarshal(data, &suites)
		}
		if err != nil {
			t.Fatalf("critest with the %s handler wrote no report (%v):\n%s", handler, err, out)
		}
		counts := map[string]int{}
		passed[handler] = map[string]bool{}
		for _, s := range suites.Suites {
			for _, tc := range s.Cases {
				counts[tc.Status]++
				passed[handler][tc.Name] = tc.Status == "passed"
				if handler == "glassbox" {
					failure[tc.Name] = tc.Failure.Message
				}
			}
		}
		t.Logf("critest, %s handler: %d passed, %d failed, %d skipped of %d specs, in %s (it left %d mounts of its own)", handler,
			counts["passed"], counts["failed"]+counts["panicked"]+counts["timedout"], counts["skipped"]+counts["pending"],
			len(passed[handler]), time.Since(start).Round(time.Second), len(left))
	}
	failed := false
	for spec, ok := range passed["runc"] {
		if ok && !passed["glassbox"][spec] {
			t.Errorf("passes with runc, not with glassbox-runc: %s\n%s", spec, failure[spec])
			failed = true
		}
	}
	if failed { // what containerd and its shims last said went wrong, for whoever reads CI's log
		log, _ := os.ReadFile(filepath.Join(c.dir, "containerd.log"))
		var errs []string
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "level=error") {
				errs = append(errs, line)
			}
		}
		t.Logf("containerd's last errors:\n%s", strings.Join(errs[max(0, len(errs)-40):], "\n"))
	}
}
