package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type containerd struct {
	caller
	runc      string
	cgroupDir string
}

// newContainerd starts a containerd of the test's own (root, state and socket
// in a temporary directory, the CRI plugin off) and imports busybox from an
// OCI layout. Its runc shim keeps the runtime's state in
// /run/containerd/runc/<namespace>: the test uses a namespace of its own and
// checks that glassbox-runc left no container there.
func newContainerd(t *testing.T) *containerd {
	needCallers(t, "containerd", "ctr", "containerd-shim-runc-v2")
	dir := t.TempDir()
	sock, ns := filepath.Join(dir, "containerd.sock"), "glassbox-test"
	c := &containerd{caller: caller{t: t, program: "ctr", global: []string{"--address", sock, "--namespace", ns}},
		runc: runcLink(t), cgroupDir: callerCgroup(t, "glassbox-containerd-test")}
	config := `version = 2
root = "` + filepath.Join(dir, "root") + `"
state = "` + filepath.Join(dir, "state") + `"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "` + sock + `"
[ttrpc]
  address = "` + sock + `.ttrpc"
`
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	log, _ := os.Create(filepath.Join(dir, "containerd.log"))
	daemon := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	daemon.Stdout, daemon.Stderr = log, log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	runtimeRoot := filepath.Join("/run/containerd/runc", ns)
	t.Cleanup(func() {
		leftover, _ := filepath.Glob(filepath.Join(runtimeRoot, "containers", "*"))
		if len(leftover) > 0 {
			t.Errorf("glassbox-runc state left behind: %v", leftover)
		}
		daemon.Process.Kill()
		daemon.Wait()
		log.Close()
		os.RemoveAll(runtimeRoot)
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := c.try("version"); err == nil {
			break
		} else if time.Now().After(deadline) {
			data, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			t.Fatalf("containerd did not come up: %v\n%s", err, data)
		}
	}
	tarball := filepath.Join(dir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", busyboxLayout, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	c.must("images", "import", tarball)
	return c
}

// run is `ctr run` with glassbox-runc as the runc binary and a cgroup
// beneath the test's own.
func (c *containerd) run(flags []string, id string, cmd ...string) string {
	c.t.Helper()
	args := append([]string{"run", "--runc-binary", c.runc, "--cgroup", filepath.Join(c.cgroupDir, id)}, flags...)
	return c.must(append(append(args, "busybox:latest", id), cmd...)...)
}

// containerd → containerd-shim-runc-v2 → glassbox-runc create/start/state/
// delete, with containerd's default seccomp profile.
func TestContainerdRun(t *testing.T) {
	newEnv(t)
	c := newContainerd(t)
	out := c.run([]string{"--rm", "--seccomp"}, "c1", "sh", "-c", "echo hi-from-ctr; grep ^Seccomp: /proc/self/status; cat /proc/self/cgroup")
	for _, want := range []string{"hi-from-ctr", "Seccomp:\t2", c.cgroupDir + "/c1"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
}

// A detached task, an exec into it (the shim's exec --process --detach), a
// SIGTERM through ctr task kill, and the exit status the shim reaps.
func TestContainerdDetachedExecKill(t *testing.T) {
	newEnv(t)
	c := newContainerd(t)
	c.run([]string{"-d"}, "c2", "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done")
	if out := c.must("task", "exec", "--exec-id", "e1", "c2", "sh", "-c", "echo exec-ok; cat /proc/1/cmdline"); !strings.Contains(out, "exec-ok") || !strings.Contains(out, "trap") {
		t.Errorf("ctr task exec: %s", out)
	}
	// ctr task ps asks the shim, which runs glassbox-runc ps --format json.
	if out := c.must("task", "ps", "c2"); len(strings.Split(strings.TrimSpace(out), "\n")) < 2 {
		t.Errorf("ctr task ps: %s", out)
	}
	c.must("task", "kill", "c2")
	var tasks string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if tasks = c.must("task", "ls"); strings.Contains(tasks, "STOPPED") {
			break
		}
	}
	if !strings.Contains(tasks, "STOPPED") {
		t.Fatalf("after ctr task kill: %s", tasks)
	}
	// ctr reports the status the shim reaped: the trap's exit 3.
	if out, _ := c.try("task", "delete", "c2"); !strings.Contains(out, "exit code 3") {
		t.Errorf("ctr task delete: %q, want exit code 3", out)
	}
	c.must("container", "delete", "c2")
}
