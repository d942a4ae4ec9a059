package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/glassbox-dev/glassbox/image"
)

// cri is containerd with its CRI plugin — the API kubelet speaks — on a root,
// state and socket of the test's own, with a runtime handler "glassbox" whose
// runc binary is glassbox-runc, CNI's bridge plugin on a bridge and subnet of
// the test's own, and a sandbox image of glassbox-pause; crictl drives it.
type cri struct {
	caller              // crictl, pointed at this containerd
	dir          string // config, logs, CNI leases
	cgroupParent string // pods' cgroups go beneath it
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
	needCallers(t, "containerd", "ctr", "containerd-shim-runc-v2", "crictl")
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		needCallers(t, "/usr/lib/cni/bridge") // Debian's containernetworking-plugins
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	crictlConfig := filepath.Join(dir, "crictl.yaml")
	if err := os.WriteFile(crictlConfig, []byte("runtime-endpoint: unix://"+sock+"\nimage-endpoint: unix://"+sock+"\ntimeout: 30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &cri{caller: caller{t: t, program: "crictl", global: []string{"--config", crictlConfig}},
		dir: dir, cgroupParent: callerCgroup(t, "glassbox-cri-test"), runtimeRoot: filepath.Join("/run/containerd/runc", criNamespace)}
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
	log, _ := os.Create(filepath.Join(dir, "containerd.log"))
	daemon := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	daemon.Stdout, daemon.Stderr = log, log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	// The shim keeps its sockets and FIFOs under /run/containerd whatever
	// containerd's config says; CNI's named network namespaces go in /run/netns.
	removeIfMadeHere(t, "/run/containerd", "/run/netns")
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
	ctr := caller{t: t, program: "ctr", global: []string{"--address", sock, "--namespace", criNamespace}}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := ctr.try("version"); err == nil {
			break
		} else if time.Now().After(deadline) {
			data, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			t.Fatalf("containerd did not come up: %v\n%s", err, data)
		}
	}
	// The sandbox image: glassbox-pause as the only file; busybox for the
	// containers. Both from this machine, tagged as CRI names them.
	pauseRoot := filepath.Join(dir, "pause-rootfs")
	os.Mkdir(pauseRoot, 0o755)
	pause, err := os.ReadFile(filepath.Join(filepath.Dir(glassbox), "glassbox-pause"))
	if err != nil {
		t.Fatalf("glassbox-pause beside the binary under test: %v (make build makes it)", err)
	}
	if err := os.WriteFile(filepath.Join(pauseRoot, "pause"), pause, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, img := range []struct{ layout, ref string }{{filepath.Join(dir, "pause-oci"), pauseImage}, {busyboxLayout, criBusybox}} {
		if img.ref == pauseImage {
			if err := image.WriteLayout(pauseRoot, img.layout, pauseImage, "/pause"); err != nil {
				t.Fatal(err)
			}
		}
		tarball := filepath.Join(dir, filepath.Base(img.layout)+".tar")
		if out, err := exec.Command("tar", "-C", img.layout, "-cf", tarball, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v %s", err, out)
		}
		ctr.must("images", "import", tarball)
		if img.ref == criBusybox { // CRI asks for the normalized name
			ctr.must("images", "tag", "--force", "busybox:latest", criBusybox)
		}
	}
	return c
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
	server := container("server", "sh", "-c", "nc -l -p 8080")
	container("client", "sh", "-c", "for i in $(seq 100); do echo hello-over-localhost | nc 127.0.0.1 8080 && exit; sleep 0.1; done; exit 1")
	var logs string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if logs = c.must("logs", server); strings.Contains(logs, "hello-over-localhost") {
			break
		}
	}
	if !strings.Contains(logs, "hello-over-localhost") {
		t.Errorf("the server never heard the client over the pod's localhost; its logs: %q\n%s", logs, c.must("ps", "-a"))
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
