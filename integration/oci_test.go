package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/trace"
)

// oci runs `glassbox oci --root <test root> ARGS…`.
func (e *env) oci(args ...string) result {
	e.t.Helper()
	cmd := exec.Command(glassbox, append([]string{"oci", "--root", e.root}, args...)...)
	// Files, not pipes: a created init keeps the caller's stdio open, and
	// reading a pipe to its end would wait for the container.
	out, _ := os.CreateTemp(e.t.TempDir(), "stdout")
	errf, _ := os.CreateTemp(e.t.TempDir(), "stderr")
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		e.t.Fatal(err)
	}
	stdout, _ := os.ReadFile(out.Name())
	stderr, _ := os.ReadFile(errf.Name())
	return result{stdout: string(stdout), stderr: string(stderr), code: cmd.ProcessState.ExitCode()}
}

// ociState is `state ID`, decoded.
func (e *env) ociState(id string) (st struct {
	ID, Status, Bundle string
	Pid                int
}) {
	e.t.Helper()
	r := e.oci("state", id)
	if r.code != 0 {
		e.t.Fatalf("state %s: exit %d %s", id, r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		e.t.Fatalf("state %s: %v\n%s", id, err, r.stdout)
	}
	return st
}

// The runtime-spec lifecycle as conmon or containerd's shim drive it: the
// caller is a child subreaper, create leaves the init waiting before execve
// (its stdio the caller's), start lets it run, the caller reaps it, state
// follows along, delete leaves nothing behind.
func TestOCILifecycle(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	bundle := ociBundle(t, func(s map[string]any) {
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "echo out; echo err >&2; read x; exit 7"}
		// In the container, as part of start (runtime-spec), not of create.
		s["hooks"] = map[string]any{"startContainer": []map[string]any{{"path": "/bin/sh", "args": []string{"sh", "-c", "touch /start-hook-ran"}}}}
	})
	hookRan := func() bool { // in the bundle's rootfs: glassbox-runc uses it in place, as runc does
		_, err := os.Stat(filepath.Join(bundle, "rootfs", "start-hook-ran"))
		return err == nil
	}
	out, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	defer out.Close()
	pidFile := filepath.Join(t.TempDir(), "pid")
	stdinR, stdinW, _ := os.Pipe()
	cmd := exec.Command(glassbox, "oci", "--root", e.root, "create", "--bundle", bundle, "--pid-file", pidFile, "c1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("create: %v", err)
	}
	stdinR.Close()
	data, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(string(data))
	st := e.ociState("c1")
	if st.Status != "created" || st.Pid != pid || pid == 0 || st.Bundle != bundle {
		t.Errorf("after create: %+v (pid file %q, bundle %s)", st, data, bundle)
	}
	if comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm")); string(comm) != "glassbox-init\n" {
		t.Errorf("a created container's init is %q, want glassbox-init waiting before execve", comm)
	}
	if ppid := parentOf(pid); ppid != os.Getpid() {
		t.Errorf("the init's parent is %d, want the caller (subreaper) %d", ppid, os.Getpid())
	}
	for _, bad := range [][]string{{"create", "--bundle", bundle, "c1"}, {"delete", "nosuch"}, {"create", "--bundle", bundle, "bad/id"}} {
		if r := e.oci(bad...); r.code == 0 || !strings.Contains(r.stderr, "glassbox:") {
			t.Errorf("%v: exit %d %q, want an error", bad, r.code, r.stderr)
		}
	}
	if hookRan() {
		t.Errorf("the startContainer hook ran at create")
	}
	if r := e.oci("start", "c1"); r.code != 0 {
		t.Fatalf("start: exit %d %s", r.code, r.stderr)
	}
	for deadline := time.Now().Add(5 * time.Second); !hookRan() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !hookRan() {
		t.Errorf("the startContainer hook did not run at start")
	}
	if r := e.oci("start", "c1"); r.code == 0 || !strings.Contains(r.stderr, "not created") {
		t.Errorf("start twice: exit %d %q", r.code, r.stderr)
	}
	if st := e.ociState("c1"); st.Status != "running" || st.Pid != pid {
		t.Errorf("after start: %+v", st)
	}
	// create and start are one trace: start's span is a child of create's root.
	if files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json")); len(files) != 1 {
		t.Errorf("traces after create and start: %v, want one", files)
	} else if f, err := trace.Load(files[0]); err != nil {
		t.Error(err)
	} else {
		root, _ := f.Root()
		var started bool
		for _, sp := range f.Spans() {
			started = started || (sp.Name == "glassbox start" && sp.ParentSpanID == root.SpanID)
		}
		if root.Name != "glassbox create" || !started {
			t.Errorf("trace root %q, a start span under it: %v", root.Name, started)
		}
	}
	if r := e.oci("delete", "c1"); r.code == 0 || !strings.Contains(r.stderr, "running") {
		t.Errorf("delete of a running container: exit %d %q", r.code, r.stderr)
	}
	stdinW.Close() // `read x` returns: the program exits 7
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 7 {
		t.Errorf("the caller reaps the init: %v, status %d, want 7", err, ws.ExitStatus())
	}
	if st := e.ociState("c1"); st.Status != "stopped" || st.Pid != 0 {
		t.Errorf("after exit: %+v", st)
	}
	if got, _ := os.ReadFile(out.Name()); string(got) != "out\nerr\n" {
		t.Errorf("the program's output went to %q, want the caller's stdout and stderr", got)
	}
	if r := e.oci("kill", "c1", "TERM"); r.code == 0 {
		t.Errorf("kill of a stopped container succeeded")
	}
	if r := e.oci("delete", "c1"); r.code != 0 {
		t.Errorf("delete: exit %d %s", r.code, r.stderr)
	}
	e.noState()
}

// beSubreaper makes the test a child subreaper for its duration, as conmon
// and containerd's shim are: orphans below it are re-parented to it.
func beSubreaper(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
}

func parentOf(pid int) int {
	data, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// kill works on created and running containers; delete --force removes a
// running one, delete a created one (its init dies, as with runc).
func TestOCIKillAndDelete(t *testing.T) {
	e := newEnv(t)
	bundle := ociBundle(t, func(s map[string]any) {
		s["process"].(map[string]any)["args"] = []string{"sleep", "60"}
	})
	for _, id := range []string{"k1", "k2", "k3"} {
		if r := e.oci("create", "--bundle", bundle, id); r.code != 0 {
			t.Fatalf("create %s: exit %d %s", id, r.code, r.stderr)
		}
	}
	e.oci("start", "k1")
	e.oci("start", "k2")
	// No glassbox process owns them, but their caller does: gc keeps them.
	e.run("", "gc")
	for _, id := range []string{"k1", "k2", "k3"} {
		if st := e.ociState(id); st.Status != map[string]string{"k1": "running", "k2": "running", "k3": "created"}[id] {
			t.Errorf("after gc, %s is %s", id, st.Status)
		}
	}
	// ps: the cgroup's processes, as JSON pids (containerd's shim) or ps(1)'s table.
	pid := e.ociState("k2").Pid
	if r := e.oci("ps", "--format", "json", "k2"); r.code != 0 || strings.TrimSpace(r.stdout) != "["+strconv.Itoa(pid)+"]" {
		t.Errorf("ps --format json k2: exit %d, %q, want [%d] (%s)", r.code, r.stdout, pid, r.stderr)
	}
	if r := e.oci("ps", "k2", "-o", "pid,args"); r.code != 0 || !regexp.MustCompile(`(?m)^\s*PID\s+COMMAND\n\s*`+strconv.Itoa(pid)+`\s+sleep 60\n$`).MatchString(r.stdout) { // procps or busybox ps
		t.Errorf("ps k2 -o pid,args: exit %d, %q (%s)", r.code, r.stdout, r.stderr)
	}
	// update writes the cgroup's limit files, from flags and from linux.resources JSON on stdin.
	if r := e.oci("update", "--memory", "64m", "k2"); r.code != 0 {
		t.Errorf("update --memory 64m: exit %d %s", r.code, r.stderr)
	}
	update := exec.Command(glassbox, "oci", "--root", e.root, "update", "--resources", "-", "k2")
	update.Stdin = strings.NewReader(`{"pids": {"limit": 42}}`)
	if out, err := update.CombinedOutput(); err != nil {
		t.Errorf("update --resources -: %v %s", err, out)
	}
	limits := e.oci("exec", "k2", "sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max")
	if limits.stdout != "67108864\n42\n" {
		t.Errorf("limits inside after update: %q (%s)", limits.stdout, limits.stderr)
	}
	if r := e.oci("update", "--resources", "-", "k2"); r.code == 0 {
		t.Errorf("update with empty JSON on stdin succeeded")
	}
	// pause freezes the cgroup (state reads the kernel's freezer), resume thaws it.
	if r := e.oci("pause", "k2"); r.code != 0 || e.ociState("k2").Status != "paused" {
		t.Errorf("pause k2: exit %d %s; state %s", r.code, r.stderr, e.ociState("k2").Status)
	}
	if r := e.oci("pause", "k2"); r.code == 0 || !strings.Contains(r.stderr, "it is paused") {
		t.Errorf("pause twice: exit %d %q", r.code, r.stderr)
	}
	if r := e.oci("resume", "k2"); r.code != 0 || e.ociState("k2").Status != "running" {
		t.Errorf("resume k2: exit %d %s; state %s", r.code, r.stderr, e.ociState("k2").Status)
	}
	e.oci("pause", "k2") // delete --force must kill it frozen
	if r := e.oci("kill", "k1", "KILL"); r.code != 0 {
		t.Errorf("kill k1: exit %d %s", r.code, r.stderr)
	}
	waitStatus(t, e, "k1", "stopped")
	if r := e.oci("kill", "k2", "nosuchsignal"); r.code == 0 {
		t.Errorf("kill with a bad signal succeeded")
	}
	for _, args := range [][]string{{"delete", "k1"}, {"delete", "--force", "k2"}, {"delete", "k3"}} {
		if r := e.oci(args...); r.code != 0 {
			t.Errorf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}
	e.noState()
}

func waitStatus(t *testing.T, e *env, id, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st := e.ociState(id)
		if st.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s after 5 s, want %s", id, st.Status, want)
		}
	}
}

// `run` is create and start in one: in the foreground it exits with the
// program's status and deletes the container.
func TestOCIRun(t *testing.T) {
	e := newEnv(t)
	bundle := ociBundle(t, func(s map[string]any) {
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "echo ran; exit 3"}
	})
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := e.oci("run", "--bundle", bundle, "--pid-file", pidFile, "r1")
	if r.code != 3 || r.stdout != "ran\n" {
		t.Errorf("run: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if pid, err := os.ReadFile(pidFile); err != nil || len(pid) == 0 {
		t.Errorf("--pid-file: %q %v", pid, err)
	}
	// One process, one trace: created, then the FIFO opened, as a step.
	root, _ := e.loadTrace().Root()
	var released bool
	for _, sp := range e.loadTrace().Spans() {
		released = released || strings.HasPrefix(sp.Label(), "open exec.fifo O_RDONLY")
	}
	if root.Name != "glassbox run" || !released {
		t.Errorf("run's trace: root %q, the exec.fifo step there: %v", root.Name, released)
	}
	e.noState()
}

// process.terminal: the pty master goes to the caller over --console-socket
// (SCM_RIGHTS); the program's output comes out of it.
func TestOCIConsoleSocket(t *testing.T) {
	e := newEnv(t)
	bundle := ociBundle(t, func(s map[string]any) {
		p := s["process"].(map[string]any)
		p["terminal"] = true
		p["consoleSize"] = map[string]int{"height": 33, "width": 101}
		p["args"] = []string{"sh", "-c", "test -t 0 && test -t 1 && test /dev/console -ef $(tty) && echo on-the-pty $(stty size) $(tty)"}
	})
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	master := make(chan *os.File, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			master <- nil
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, _ := conn.ReadMsgUnix(buf, oob)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) == 1 {
			if fds, _ := unix.ParseUnixRights(&msgs[0]); len(fds) == 1 {
				master <- os.NewFile(uintptr(fds[0]), "pty master")
				return
			}
		}
		master <- nil
	}()
	if r := e.oci("create", "--bundle", bundle, "--console-socket", sock, "t1"); r.code != 0 {
		t.Fatalf("create: exit %d %s", r.code, r.stderr)
	}
	m := <-master
	if m == nil {
		t.Fatal("no pty master arrived on the console socket")
	}
	defer m.Close()
	if r := e.oci("start", "t1"); r.code != 0 {
		t.Fatalf("start: exit %d %s", r.code, r.stderr)
	}
	m.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got strings.Builder
	buf := make([]byte, 256)
	for !strings.Contains(got.String(), "\r\n") {
		n, err := m.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	// consoleSize became the pty's size; the pty is the container's own
	// (its devpts), so tty(1) can name it there; /dev/console is it too.
	if !strings.Contains(got.String(), "on-the-pty 33 101 /dev/pts/0\r\n") {
		t.Errorf("read from the pty master: %q", got.String())
	}
	waitStatus(t, e, "t1", "stopped")
	if r := e.oci("delete", "t1"); r.code != 0 {
		t.Errorf("delete: exit %d %s", r.code, r.stderr)
	}
	e.noState()
}

// Invoked as glassbox-runc, the binary is the OCI command set; features
// says what it supports in the runtime-spec's format.
func TestOCIName(t *testing.T) {
	dir := t.TempDir()
	runc := filepath.Join(dir, "glassbox-runc")
	if err := os.Symlink(glassbox, runc); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(runc, "features").Output()
	var f struct {
		OCIVersionMax string
		Hooks         []string
		Linux         struct{ Namespaces []string }
	}
	if err != nil || json.Unmarshal(out, &f) != nil || f.OCIVersionMax == "" || len(f.Hooks) != 6 || len(f.Linux.Namespaces) == 0 {
		t.Errorf("glassbox-runc features: %v %s", err, out)
	}
	if err := exec.Command(runc, "spec", "--bundle", dir).Run(); err != nil {
		t.Errorf("glassbox-runc spec: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Errorf("spec wrote no config.json: %v", err)
	}
	// runc's ps lists one container's processes: it needs an ID (Docker's lists containers).
	if out, _ := exec.Command(runc, "ps").CombinedOutput(); !strings.Contains(string(out), "requires at least 1 arg") {
		t.Errorf("glassbox-runc ps should be runc's ps, not Docker's: %s", out)
	}
	if out, err := exec.Command(runc, "--version").Output(); err != nil || !regexp.MustCompile(`^glassbox-runc version \S+\nspec: 1\.\d+\.\d+\ngo: go`).Match(out) {
		t.Errorf("glassbox-runc --version: %v %q", err, out)
	}
	// A link of another name to it, resolved (readlink -f), is glassbox:
	// make build's glassbox-runc is a hard link, whose name stays.
	hard := filepath.Join(dir, "hard", "glassbox-runc")
	os.Mkdir(filepath.Dir(hard), 0o755)
	if err := os.Link(glassbox, hard); err == nil {
		if resolved, _ := filepath.EvalSymlinks(hard); filepath.Base(resolved) != "glassbox-runc" {
			t.Errorf("a hard link resolves to %s", resolved)
		}
		if out, err := exec.Command(hard, "features").Output(); err != nil || !strings.Contains(string(out), "ociVersionMax") {
			t.Errorf("glassbox-runc as a hard link: %v %s", err, out)
		}
	}
}

// runc's command line, as callers use it: list (table, -q, JSON), delete
// --force of a container that is gone, kill of a stopped one in runc's words,
// and exit status 1 for every error.
func TestOCICommandLine(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	bundle := ociBundle(t, func(s map[string]any) { s["process"].(map[string]any)["args"] = []string{"true"} })
	if r := e.oci("create", "--bundle", bundle, "listed"); r.code != 0 {
		t.Fatalf("create: exit %d %s", r.code, r.stderr)
	}
	if r := e.oci("list"); !regexp.MustCompile(`(?m)^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\nlisted\s+\d+\s+created\s+` + regexp.QuoteMeta(bundle)).MatchString(r.stdout) {
		t.Errorf("list:\n%s%s", r.stdout, r.stderr)
	}
	if r := e.oci("list", "-q"); r.stdout != "listed\n" {
		t.Errorf("list -q: %q", r.stdout)
	}
	var states []struct{ ID, Status, Bundle string }
	if r := e.oci("list", "--format", "json"); json.Unmarshal([]byte(r.stdout), &states) != nil || len(states) != 1 || states[0].ID != "listed" || states[0].Status != "created" {
		t.Errorf("list --format json: %s", r.stdout)
	}
	if r := e.oci("start", "listed"); r.code != 0 {
		t.Fatalf("start: exit %d %s", r.code, r.stderr)
	}
	var ws unix.WaitStatus
	unix.Wait4(e.ociState("listed").Pid, &ws, 0, nil)
	if r := e.oci("kill", "listed", "KILL"); r.code != 1 || !strings.Contains(r.stderr, "container not running") {
		t.Errorf("kill of a stopped container: exit %d %q; want 1 and runc's words", r.code, r.stderr)
	}
	if r := e.oci("delete", "listed"); r.code != 0 {
		t.Errorf("delete: exit %d %s", r.code, r.stderr)
	}
	if r := e.oci("delete", "--force", "listed"); r.code != 0 || r.stderr != "" {
		t.Errorf("delete --force of a container that is gone: exit %d %q; want 0, as runc", r.code, r.stderr)
	}
	if r := e.oci("delete", "listed"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("delete of a container that is gone: exit %d %q", r.code, r.stderr)
	}
	e.noState()
}

// exec runs another process in a running container: from arguments, waited
// for, with its exit status; from --process JSON with --detach, left to the
// caller (a child subreaper) to reap.
func TestOCIExec(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	bundle := ociBundle(t, func(s map[string]any) {
		s["hostname"] = "oci-exec"
		s["process"].(map[string]any)["args"] = []string{"sleep", "60"}
	})
	if r := e.oci("run", "--detach", "--bundle", bundle, "x1"); r.code != 0 {
		t.Fatalf("run --detach: exit %d %s", r.code, r.stderr)
	}
	if r := e.oci("exec", "x1", "sh", "-c", "hostname; cat /proc/1/comm; exit 4"); r.code != 4 || r.stdout != "oci-exec\nsleep\n" {
		t.Errorf("exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	process := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(process, []byte(`{"args": ["sh", "-c", "exit 9"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}`), 0o644)
	pidFile := filepath.Join(t.TempDir(), "pid")
	if r := e.oci("exec", "--process", process, "--detach", "--pid-file", pidFile, "x1"); r.code != 0 {
		t.Fatalf("exec --process --detach: exit %d %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(string(data))
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 9 {
		t.Errorf("the caller reaps the exec'd process %d: %v, status %d, want 9", pid, err, ws.ExitStatus())
	}
	if r := e.oci("delete", "--force", "x1"); r.code != 0 {
		t.Errorf("delete: exit %d %s", r.code, r.stderr)
	}
	e.noState()
}

// ociBundle is a bundle as podman or containerd hand one over: config.json
// and a rootfs of the container's own, which glassbox-runc uses in place.
func ociBundle(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	bundle := writeBundle(t, func(s map[string]any) {
		s["root"] = map[string]any{"path": "rootfs"}
		edit(s)
	})
	if out, err := exec.Command("cp", "-a", rootfs, filepath.Join(bundle, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s: %v %s", rootfs, err, out)
	}
	return bundle
}

// linux.namespaces[].path: a second container joins the first's pid, IPC,
// UTS and network namespaces, as a pod's containers do; a mount namespace
// path is refused by name.
func TestOCIJoinNamespacesByPath(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	pod := ociBundle(t, func(s map[string]any) {
		s["hostname"] = "podhost"
		s["process"].(map[string]any)["args"] = []string{"sleep", "60"}
	})
	if r := e.oci("run", "--detach", "--bundle", pod, "pod"); r.code != 0 {
		t.Fatalf("run --detach pod: exit %d %s", r.code, r.stderr)
	}
	defer e.oci("delete", "--force", "pod")
	podPid := e.ociState("pod").Pid
	ns := func(kind string) string { return fmt.Sprintf("/proc/%d/ns/%s", podPid, kind) }
	ipc, _ := os.Readlink(ns("ipc"))
	member := ociBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["namespaces"] = []map[string]any{
			{"type": "pid", "path": ns("pid")}, {"type": "ipc", "path": ns("ipc")}, {"type": "uts", "path": ns("uts")},
			{"type": "network", "path": ns("net")}, {"type": "mount"},
		}
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "hostname; readlink /proc/self/ns/ipc; ps -o pid,args"}
	})
	r := e.oci("run", "--bundle", member, "member")
	for _, want := range []string{"podhost\n", ipc + "\n", "1 sleep 60"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("want %q in the member's output; exit %d, %q %q", want, r.code, r.stdout, r.stderr)
		}
	}
	// A mount namespace by path: one that a process on the host made
	// (unshare -m), where the bundle's paths exist; the container's tree is
	// built there. glassbox's own (the host's) is refused: pivot_root would
	// move the host's root.
	holder := exec.Command("unshare", "-m", "--propagation", "private", "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	mnt := fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if a, b := readlink(mnt), readlink("/proc/self/ns/mnt"); a != "" && a != b {
			break
		}
	}
	mountJoin := ociBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["namespaces"] = []map[string]any{{"type": "mount", "path": mnt}, {"type": "pid"}, {"type": "uts"}}
		s["process"].(map[string]any)["args"] = []string{"readlink", "/proc/self/ns/mnt"}
	})
	if r := e.oci("run", "--bundle", mountJoin, "m"); r.code != 0 || strings.TrimSpace(r.stdout) != readlink(mnt) {
		t.Errorf("joining the mount namespace %s (%s): exit %d, %q %q", mnt, readlink(mnt), r.code, r.stdout, r.stderr)
	}
	hostJoin := ociBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["namespaces"] = []map[string]any{{"type": "mount", "path": "/proc/self/ns/mnt"}, {"type": "uts"}}
	})
	if r := e.oci("run", "--bundle", hostJoin, "h"); r.code == 0 || !strings.Contains(r.stderr, "glassbox's own mount namespace") {
		t.Errorf("joining the host's mount namespace: exit %d, %q; want a refusal", r.code, r.stderr)
	}
}

// A user namespace: uid 0 in the container is host uid 100000 (the rootfs is
// chowned to it, as podman's storage does for --uidmap). The container's root
// writes its files; the host sees them, and the process, as 100000; device
// nodes are the host's, bind-mounted (mknod is refused in a user namespace);
// exec into it is refused by name.
func TestOCIUserNamespace(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	bundle := ociBundle(t, func(s map[string]any) {
		withUserNamespace(s, 0, 65536)
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "id -u; cat /proc/self/uid_map; touch /etc/made-by-root && echo x > /dev/null && echo ok; sleep 60"}
	})
	if out, err := exec.Command("chown", "-R", "100000:100000", filepath.Join(bundle, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	// The namespace's root must reach the rootfs: the test's temporary
	// directories above it (0700) become searchable.
	for _, d := range []string{bundle, filepath.Dir(bundle)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.oci("run", "--detach", "--bundle", bundle, "u1"); r.code != 0 {
		t.Fatalf("run --detach: exit %d %s", r.code, r.stderr)
	}
	defer e.oci("delete", "--force", "u1")
	pid := e.ociState("u1").Pid
	var status string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if status = string(data); strings.Contains(status, "sleep") {
			break
		}
	}
	if !regexp.MustCompile(`(?m)^Uid:\s+100000\s+100000`).MatchString(status) {
		t.Errorf("the container's process on the host:\n%s", status)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(bundle, "rootfs", "etc", "made-by-root"), &st); err != nil || st.Uid != 100000 {
		t.Errorf("a file the container's root made: %v, owner %d, want 100000", err, st.Uid)
	}
	if r := e.oci("exec", "u1", "true"); r.code == 0 || !strings.Contains(r.stderr, "user namespace") {
		t.Errorf("exec into a user namespace: exit %d, %q; want a refusal naming it", r.code, r.stderr)
	}
	noRoot := ociBundle(t, func(s map[string]any) {
		withUserNamespace(s, 1, 10) // no container uid 0
	})
	if r := e.oci("run", "--bundle", noRoot, "u2"); r.code == 0 || !strings.Contains(r.stderr, "linux.uidMappings must map the container's uid 0") {
		t.Errorf("a map without uid 0: exit %d, %q", r.code, r.stderr)
	}
}

// withUserNamespace gives a bundle a user namespace whose uids from
// firstUID (and gids from 0), size of them, are host ids from 100000.
func withUserNamespace(s map[string]any, firstUID, size int) {
	l := s["linux"].(map[string]any)
	l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "user"})
	l["uidMappings"] = []map[string]any{{"containerID": firstUID, "hostID": 100000, "size": size}}
	l["gidMappings"] = []map[string]any{{"containerID": 0, "hostID": 100000, "size": size}}
}

func readlink(path string) string {
	link, _ := os.Readlink(path)
	return link
}

// A config.json that names no namespace at all: the container shares every
// one of the host's, as runc does it — in the host's mount namespace its
// mounts appear below the rootfs, it chroots instead of pivot_root, and its
// teardown unmounts them all (the leak check says so).
func TestOCINoNamespaces(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	bundle := ociBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["namespaces"] = []any{}
		delete(s, "hostname")
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "for ns in mnt pid net; do readlink /proc/self/ns/$ns; done"}
	})
	// Mounts a failed teardown leaves are in the host's namespace, below the
	// bundle that t.TempDir will remove: said, then detached, deepest first.
	t.Cleanup(func() {
		points := mountPoints(t)
		for _, p := range slices.Backward(points) {
			if strings.HasPrefix(p, bundle+"/") {
				t.Errorf("left mounted: %s", p)
				unix.Unmount(p, unix.MNT_DETACH)
			}
		}
	})
	r := e.oci("run", "--bundle", bundle, "shared")
	want := readlink("/proc/self/ns/mnt") + "\n" + readlink("/proc/self/ns/pid") + "\n" + readlink("/proc/self/ns/net") + "\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("no namespaces: exit %d, stdout %q (want the host's %q), stderr %q", r.code, r.stdout, want, r.stderr)
	}
	e.noState()
}
