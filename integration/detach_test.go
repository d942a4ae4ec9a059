package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runDetached starts `run -d` and returns the container id it prints.
func (e *env) runDetached(flags []string, cmd ...string) string {
	e.t.Helper()
	r := e.run("", append(append([]string{"run", "-d"}, flags...), cmd...)...)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		e.t.Fatalf("run -d: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	return id
}

// The lifecycle of a detached container: ps, logs, logs -f, stop, ps -a, rm.
func TestDetachedLifecycle(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	id := e.runDetached([]string{"--name", "ticker"}, "busybox", "sh", "-c", `echo started; echo to-stderr >&2; while :; do echo tick; sleep 0.1; done`)
	if r := e.run("", "ps"); !strings.Contains(r.stdout, "ticker") || !strings.Contains(r.stdout, id[:12]) || !strings.Contains(r.stdout, "Up ") {
		t.Errorf("ps:\n%s", r.stdout)
	}
	if r := e.run("", "ps", "-q"); strings.TrimSpace(r.stdout) != id[:12] {
		t.Errorf("ps -q: %q", r.stdout)
	}
	// logs -f streams while the container runs, and ends when it does.
	follow := exec.Command(glassbox, "logs", "-f", "ticker")
	follow.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
	out, _ := follow.StdoutPipe()
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	ticks := 0
	for ticks < 5 && lines.Scan() {
		if lines.Text() == "tick" {
			ticks++
		}
	}
	if ticks < 5 {
		t.Errorf("logs -f streamed %d ticks", ticks)
	}
	r := e.run("", "logs", "ticker")
	if !strings.HasPrefix(r.stdout, "started\ntick\n") || r.stderr != "to-stderr\n" {
		t.Errorf("logs: stdout %q…, stderr %q", r.stdout[:min(40, len(r.stdout))], r.stderr)
	}
	if r := e.run("", "logs", "--tail", "2", "-t", id[:8]); strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "Z tick") {
		t.Errorf("logs --tail 2 -t by id prefix: %q", r.stdout)
	}
	start := time.Now()
	if r := e.run("", "stop", "-t", "1", "ticker"); r.code != 0 || r.stdout != "ticker\n" {
		t.Errorf("stop: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %s with -t 1", d)
	}
	done := make(chan error, 1)
	go func() { io0(lines); done <- follow.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		follow.Process.Kill()
		t.Error("logs -f did not end when the container did")
	}
	// sh as pid 1 has no SIGTERM handler: the kernel ignores SIGTERM, so stop
	// ends with SIGKILL.
	if r := e.run("", "wait", "ticker"); strings.TrimSpace(r.stdout) != "137" {
		t.Errorf("wait: %q %q", r.stdout, r.stderr)
	}
	if r := e.run("", "ps", "-a"); !strings.Contains(r.stdout, "Exited (137)") {
		t.Errorf("ps -a:\n%s", r.stdout)
	}
	if r := e.run("", "ps"); strings.Contains(r.stdout, "ticker") {
		t.Errorf("ps lists a stopped container:\n%s", r.stdout)
	}
	if r := e.run("", "inspect", "ticker"); !strings.Contains(r.stdout, `"exitCode": 137`) {
		t.Errorf("inspect: %s", r.stdout)
	}
	if r := e.run("", "rm", "ticker"); r.code != 0 {
		t.Errorf("rm: %s", r.stderr)
	}
	e.noState()
}

func io0(s *bufio.Scanner) {
	for s.Scan() {
	}
}

// Names are unique; -d --rm removes itself; rm -f stops first; a failure in
// the stages is reported by run -d itself and leaves nothing.
func TestDetachedNamesAndRemoval(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	e.runDetached([]string{"--name", "dup", "--rm"}, "busybox", "sleep", "100")
	if r := e.run("", "run", "-d", "--name", "dup", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, `the name "dup" is already in use`) {
		t.Errorf("second --name dup: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("", "rm", "dup"); r.code != 125 || !strings.Contains(r.stderr, "running") {
		t.Errorf("rm of a running container: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("", "rm", "-f", "dup"); r.code != 0 {
		t.Errorf("rm -f: %s", r.stderr)
	}
	e.noState()
	r := e.run("", "run", "-d", "-v", "/nonexistent:/x", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "stage mount: stat(/nonexistent)") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("a failing stage under -d: exit %d %q", r.code, r.stderr)
	}
	e.noState()
}

// Killing the monitor kills the container; gc then removes everything.
func TestMonitorKilledThenGC(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	id := e.runDetached(nil, "busybox", "sleep", "100")
	pid := monitorOf(t, id)
	syscall.Kill(pid, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r := e.run("", "ps", "-a"); strings.Contains(r.stdout, "Dead") {
			break
		}
	}
	if r := e.run("", "gc"); !strings.Contains(r.stdout, "removed leftover container "+id[:12]) {
		t.Errorf("gc: %q %q", r.stdout, r.stderr)
	}
	e.noState()
}

// monitorOf finds the monitor process of a container.
func monitorOf(t *testing.T, id string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, _ := os.ReadFile(p)
		if strings.HasPrefix(string(data), "glassbox\x00monitor\x00") && strings.Contains(string(data), id) {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				return pid
			}
		}
	}
	t.Fatal("no monitor process for", id)
	return 0
}

// exec joins a running container: its pid namespace, hostname, filesystem,
// network, cgroup and user; -u, -w, -e, and the exit code.
func TestExec(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	e.runDetached([]string{"--name", "target", "-h", "exechost"}, "busybox", "sh", "-c", "echo from-container > /tmp/marker; exec sleep 100")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r := e.run("", "exec", "target", "test", "-f", "/tmp/marker"); r.code == 0 {
			break
		}
	}
	r := e.run("", "exec", "target", "sh", "-c", "hostname; cat /tmp/marker; cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /proc/self/cgroup | grep '^0::'; ip -4 addr show eth0 | grep -c inet")
	want := "exechost\nfrom-container\nsleep 100 \n0::/\n1\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exec: exit %d, stdout %q (want %q), stderr %q", r.code, r.stdout, want, r.stderr)
	}
	r = e.run("", "exec", "-u", "1000", "-w", "/tmp", "-e", "X=y", "target", "sh", "-c", "echo $(id -u) $(pwd) $X; exit 3")
	if r.code != 3 || r.stdout != "1000 /tmp y\n" {
		t.Errorf("exec -u -w -e: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run("", "exec", "target", "nosuchcommand"); r.code != 127 {
		t.Errorf("exec of a missing command: exit %d %q", r.code, r.stderr)
	}
	e.run("", "rm", "-f", "target")
	if r := e.run("", "exec", "target", "true"); r.code != 125 {
		t.Errorf("exec into a removed container: exit %d", r.code)
	}
}
