package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A --hook at every point sees the documented environment and the OCI state
// on stdin; a failing hook fails the run at its stage and leaves nothing.
func TestStageHooks(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	log := filepath.Join(t.TempDir(), "hooks.log")
	var args []string
	stages := []string{"rootfs", "cgroup", "unshare", "network", "mount", "exec"}
	for _, st := range stages {
		for _, when := range []string{"before", "after"} {
			if st == "exec" && when == "after" {
				continue
			}
			args = append(args, "--hook", st+":"+when+`=echo "$GLASSBOX_STAGE $GLASSBOX_WHEN pid=${GLASSBOX_PID:-none} netns=${GLASSBOX_NETNS:-none} cgroup=${GLASSBOX_CGROUP:+yes} ip=${GLASSBOX_IP:-none} rootfs=$GLASSBOX_ROOTFS state=$(cat)" >> `+log)
		}
	}
	r := e.run("", append(append([]string{"run", "--rm", "--name", "hooked"}, args...), "busybox", "true")...)
	if r.code != 0 {
		t.Fatalf("run with hooks: exit %d %q", r.code, r.stderr)
	}
	data, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d hook runs, want 11:\n%s", len(lines), data)
	}
	for i, line := range lines {
		f := strings.Fields(line)
		stage, when := f[0], f[1]
		if want := stages[i/2]; stage != want {
			t.Errorf("hook %d ran at %s, want %s", i, stage, want)
		}
		cloned := i >= 5 // after unshare
		if (f[2] != "pid=none") != cloned || (f[3] != "netns=none") != cloned {
			t.Errorf("%s %s: %s %s", stage, when, f[2], f[3])
		}
		if (f[4] == "cgroup=yes") != (i >= 3) {
			t.Errorf("%s %s: %s", stage, when, f[4])
		}
		if (f[5] != "ip=none") != (i >= 7) {
			t.Errorf("%s %s: %s", stage, when, f[5])
		}
		if !strings.HasSuffix(f[6], "/rootfs") {
			t.Errorf("%s %s: %s", stage, when, f[6])
		}
		var state struct {
			ID, Status string
			Pid        int
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.Join(f[7:], " "), "state=")), &state); err != nil || len(state.ID) != 64 || state.Status != "creating" {
			t.Errorf("%s %s: the OCI state on stdin: %v %+v", stage, when, err, state)
		}
	}
	r = e.run("", "run", "--rm", "--hook", "mount:before=echo failing >&2; exit 3", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "stage mount: --hook mount:before=") || !strings.Contains(r.stderr, "exit status 3") {
		t.Errorf("a failing hook: exit %d %q", r.code, r.stderr)
	}
	for _, bad := range []string{"mount=true", "nosuch:before=true", "exec:after=true", "network:during=true"} {
		if r := e.run("", "run", "--rm", "--hook", bad, "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "--hook") {
			t.Errorf("--hook %s: exit %d %q", bad, r.code, r.stderr)
		}
	}
	e.noState()
}

// "Write the network stage yourself": a script of ip commands instead of
// glassbox's network stage gives the container a working network.
func TestReplaceNetworkStage(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	host := fmt.Sprintf("gbt%d", os.Getpid()%100000)
	// iproute2's ip and util-linux's nsenter by path: a busybox sh would
	// run its own, smaller applets of those names.
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal("iproute2's ip is missing (.ci/run installs it)")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Fatal("nsenter is missing (.ci/run installs util-linux)")
	}
	script := strings.NewReplacer("IP", ip, "NSENTER", nsenter, "HOST", host).Replace(`set -e
IP link add HOST type veth peer name eth0 netns $GLASSBOX_PID
IP addr add 10.200.9.1/24 dev HOST
IP link set HOST up
NSENTER --net=$GLASSBOX_NETNS IP link set lo up
NSENTER --net=$GLASSBOX_NETNS IP addr add 10.200.9.2/24 dev eth0
NSENTER --net=$GLASSBOX_NETNS IP link set eth0 up`)
	r := e.run("", "run", "--rm", "--replace-stage", "network="+script, "busybox", "sh", "-c",
		"ip -4 -o addr show eth0 | grep -o '10.200.9.2/24'; ping -c 1 -W 2 10.200.9.1 >/dev/null && echo reached")
	if r.code != 0 || r.stdout != "10.200.9.2/24\nreached\n" {
		t.Errorf("a hand-made network: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// The kernel destroys a network namespace (and its veths) in a
	// workqueue, a moment after its last process: give it that moment.
	gone := false
	for deadline := time.Now().Add(3 * time.Second); !gone && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, err := net.InterfaceByName(host)
		gone = err != nil
	}
	if !gone {
		t.Errorf("%s outlived the container's network namespace", host)
	}
	r = e.run("", "run", "--rm", "--replace-stage", "network=exit 4", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "stage network: --replace-stage network=exit 4: exit status 4") {
		t.Errorf("a failing replacement: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("", "run", "--rm", "--replace-stage", "mount=true", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "only the host-side stages") {
		t.Errorf("--replace-stage mount: exit %d %q", r.code, r.stderr)
	}
	e.noState()
}

// config.json's hooks run at the runtime spec's points: prestart and
// createRuntime on the host before pivot_root, createContainer in the
// container's namespaces before it, startContainer inside after it,
// poststart once the program runs, poststop after the teardown.
func TestOCIHooks(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "hooks.log")
	hook := func(kind string) map[string]any {
		return map[string]any{"path": "/bin/sh", "args": []string{"sh", "-c",
			`read -r state; echo "` + kind + ` $(echo "$state" | grep -o '"status":"[a-z]*"') mnt=$(readlink /proc/self/ns/mnt) pid1=$(cat /proc/1/comm)" >> ` + log}}
	}
	bundle := writeBundle(t, func(s map[string]any) {
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "cat /started"}
		s["hooks"] = map[string]any{
			"prestart": []any{hook("prestart")}, "createRuntime": []any{hook("createRuntime")},
			"createContainer": []any{hook("createContainer")},
			"startContainer":  []any{map[string]any{"path": "/bin/sh", "args": []string{"sh", "-c", "echo started-inside > /started"}}},
			"poststart":       []any{hook("poststart")}, "poststop": []any{hook("poststop")},
		}
	})
	r := e.run("", "run", "--rm", "--bundle", bundle)
	if r.code != 0 || r.stdout != "started-inside\n" {
		t.Fatalf("bundle with hooks: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	data, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	want := []struct{ kind, status string }{
		{"prestart", "creating"}, {"createRuntime", "creating"}, {"createContainer", "creating"},
		{"poststart", "running"}, {"poststop", "stopped"},
	}
	if len(lines) != len(want) {
		t.Fatalf("hook runs:\n%s", data)
	}
	for i, w := range want {
		f := strings.Fields(lines[i])
		inside := w.kind == "createContainer"
		if f[0] != w.kind || f[1] != `"status":"`+w.status+`"` || (f[2] == "mnt="+hostMnt) == inside {
			t.Errorf("hook %d: %q, want %s %s, in the container's mount namespace: %v", i, lines[i], w.kind, w.status, inside)
		}
	}
	// Each hook is in the run's trace: the host's as spans, the init's as
	// steps of its stage.
	ls := strings.Fields(strings.Split(e.run("", "trace", "ls").stdout, "\n")[1])
	show := e.run("", "trace", "show", "--full", ls[0]).stdout
	for _, want := range []string{"prestart hook", "createRuntime hook", "createContainer hook /bin/sh", "startContainer hook /bin/sh", "poststart hook", "poststop hook"} {
		if !strings.Contains(show, want) {
			t.Errorf("the trace has no %q:\n%s", want, show)
		}
	}
	bad := writeBundle(t, func(s map[string]any) {
		s["hooks"] = map[string]any{"createRuntime": []any{map[string]any{"path": "/bin/false"}}}
	})
	if r := e.run("", "run", "--rm", "--bundle", bad); r.code != 125 || !strings.Contains(r.stderr, "createRuntime hook /bin/false") {
		t.Errorf("a failing createRuntime hook: exit %d %q", r.code, r.stderr)
	}
	e.noState()
}
