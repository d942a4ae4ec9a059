package integration

// The docker verbs glassbox's own CLI has over the engine (issue 22's first
// batch): run -dit and attach, cp, export, pause, rename, events, prune and
// network connect — each asserted on output and on what the kernel shows.

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/trace"
)

// ok runs glassbox and requires exit 0; its stdout, trimmed.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != 0 {
		e.t.Fatalf("glassbox %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// run -dit, then attach from a terminal: the shell's terminal, typed into,
// resized, and left with the detach keys; attached again, exited.
func TestCLIAttach(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	id := e.ok("run", "-dit", "--name", "sh1", "busybox", "sh")
	if fd0, _ := os.Readlink("/proc/" + e.ok("inspect", "-f", "{{.Pid}}", "sh1") + "/fd/0"); fd0 != "/dev/pts/0" {
		t.Errorf("run -dit: the init's stdin is %q, want its terminal", fd0)
	}
	term := newTerminal(t, 80, 24)
	term.keys("export GLASSBOX_ROOT="+e.root+" TERM=xterm; "+glassbox+" attach sh1", "Enter")
	time.Sleep(500 * time.Millisecond)
	term.keys("echo attached-$$; stty size", "Enter")
	term.waitFor("attached-1\n24 80")
	term.tmux("resize-window", "-t", term.session, "-x", "90", "-y", "30")
	term.keys("stty size", "Enter")
	term.waitFor("30 90")
	term.keys("C-p", "C-q")
	term.waitFor("detached from " + id[:12])
	term.exitedWith(0)
	if st := e.ok("inspect", "-f", "{{.Status}}", "sh1"); st != "running" {
		t.Errorf("after detaching: %s", st)
	}
	term.keys(glassbox+" attach sh1", "Enter")
	time.Sleep(500 * time.Millisecond)
	term.keys("exit 5", "Enter")
	term.exitedWith(5)
	if r := e.run("", "attach", "--detach-keys", "ctrl-zz", "sh1"); r.code == 0 || !strings.Contains(r.stderr, "is not a key") {
		t.Errorf("attach --detach-keys ctrl-zz: exit %d %q", r.code, r.stderr)
	}
	e.ok("rm", "sh1")
	e.noState()
}

// cp both ways and export, with a container that plants a set-uid program
// and a device node for the host, and a link out of its root.
func TestCLICpExport(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	dir := t.TempDir()
	local := func(name string) string { return filepath.Join(dir, name) }
	e.ok("run", "-d", "--name", "w", "--cap-add", "MKNOD", "busybox", "sh", "-c",
		"mkdir -p /out && echo data > /out/f && cp /bin/busybox /out/suid && chmod 4755 /out/suid && mknod /out/disk c 1 3 && ln -s / /out/up && exec sleep 300")
	time.Sleep(300 * time.Millisecond)
	e.ok("cp", "w:/out", local("out"))
	if b, _ := os.ReadFile(local("out/f")); string(b) != "data\n" {
		t.Errorf("cp w:/out: f is %q", b)
	}
	if fi, err := os.Stat(local("out/suid")); err != nil || fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("cp w:/out: the container's set-uid program came with its bit: %v %v", fi.Mode(), err)
	}
	if _, err := os.Lstat(local("out/disk")); err == nil {
		t.Errorf("cp w:/out: the container's device node came to the host")
	}
	if target, _ := os.Readlink(local("out/up")); target != "/" {
		t.Errorf("cp w:/out: the link came as %q, want the link itself", target)
	}
	os.WriteFile(local("in.txt"), []byte("hello\n"), 0o644)
	e.ok("cp", local("in.txt"), "w:/tmp/renamed.txt")
	e.ok("cp", local("in.txt"), "w:/out/up/tmp/") // through the container's link to its own /
	if out := e.ok("exec", "w", "cat", "/tmp/renamed.txt", "/tmp/in.txt"); out != "hello\nhello" {
		t.Errorf("cp into w: %q", out)
	}
	r := e.run("", "export", "w")
	names := map[string]bool{}
	for tr := tar.NewReader(strings.NewReader(r.stdout)); ; {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names[hdr.Name] = true
	}
	if r.code != 0 || !names["out/f"] || !names["proc/"] || names["proc/1/"] || names["proc/self"] {
		t.Errorf("export: exit %d, %d entries, want out/f and an empty proc/", r.code, len(names))
	}
	// What export writes, import takes as an image, as docker import does.
	e.ok("export", "-o", local("w.tar"), "w")
	e.ok("import", local("w.tar"), "exported:1")
	if out := e.ok("run", "--rm", "exported:1", "cat", "/out/f"); out != "data" {
		t.Errorf("run of the imported export: %q", out)
	}
	if r := e.run("", "cp", local("in.txt"), local("elsewhere")); r.code == 0 || !strings.Contains(r.stderr, "CONTAINER:PATH") {
		t.Errorf("cp host host: exit %d %q", r.code, r.stderr)
	}
	e.ok("rm", "-f", "w")
	e.ok("rmi", "exported:1")
	e.noState()
}

// pause freezes (a counter read from the host stands still), rename, and
// the events of it all; container prune takes the exited.
func TestCLIPauseRenameEventsPrune(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	since := strconv.FormatInt(time.Now().Unix(), 10)
	e.ok("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.02; done")
	pid := e.ok("inspect", "-f", "{{.Pid}}", "ticker")
	count := func() string { b, _ := os.ReadFile("/proc/" + pid + "/root/tmp/n"); return string(b) }
	time.Sleep(200 * time.Millisecond)
	e.ok("pause", "ticker")
	before := count()
	time.Sleep(300 * time.Millisecond)
	if count() != before {
		t.Errorf("paused, the counter went on")
	}
	e.ok("unpause", "ticker")
	e.ok("rename", "ticker", "counter")
	if out := e.ok("ps", "--format", "{{.Names}}"); out != "counter" {
		t.Errorf("ps after rename: %q", out)
	}
	e.ok("rm", "-f", "counter")
	e.ok("run", "--name", "done", "busybox", "true")
	if out := e.ok("container", "prune", "-f"); !strings.Contains(out, "Deleted Containers:") {
		t.Errorf("container prune: %q", out)
	}
	until := strconv.FormatInt(time.Now().Unix()+1, 10)
	time.Sleep(1100 * time.Millisecond)
	out := e.ok("events", "--since", since, "--until", until, "--filter", "type=container")
	for _, want := range []string{"container create", "container pause", "container unpause", "container rename", "name=counter, oldName=ticker)", "container destroy"} {
		if !strings.Contains(out, want) {
			t.Errorf("events lack %q:\n%s", want, out)
		}
	}
	if r := e.run("", "events", "--since", "yesterday"); r.code == 0 || !strings.Contains(r.stderr, "--since \"yesterday\"") {
		t.Errorf("events --since yesterday: exit %d %q", r.code, r.stderr)
	}
	e.noState()
}

// A container without --name gets one (adjective_thing, unique); port, restart,
// info and version print what docker's do.
func TestCLINamesPortRestartInfo(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	id := e.ok("run", "-d", "-p", "127.0.0.1:18094:80", "busybox", "sh", "-c", "echo started; exec sleep 300")
	name := e.ok("ps", "--format", "{{.Names}}")
	if ok, _ := regexp.MatchString(`^[a-z]+_[a-z]+$`, name); !ok {
		t.Errorf("a container run without --name is called %q, want adjective_thing", name)
	}
	if out := e.ok("inspect", "-f", "{{.Name}} {{.ID}}", name); out != name+" "+id {
		t.Errorf("inspect -f by the generated name: %q", out)
	}
	if out := e.ok("port", name); out != "80/tcp -> 127.0.0.1:18094" {
		t.Errorf("port: %q", out)
	}
	if r := e.run("", "port", name, "81"); r.code == 0 || !strings.Contains(r.stderr, "no public port 81") {
		t.Errorf("port of an unpublished port: exit %d %q", r.code, r.stderr)
	}
	pid := e.ok("inspect", "-f", "{{.Pid}}", name)
	e.ok("restart", "-t", "1", name)
	if st := e.ok("inspect", "-f", "{{.Status}} {{.Pid}}", name); !strings.HasPrefix(st, "running ") || st == "running "+pid {
		t.Errorf("after restart: %q (pid was %s)", st, pid)
	}
	out := ""
	for deadline := time.Now().Add(5 * time.Second); out != "started\nstarted" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out = e.ok("logs", name) // the new run's line is its shim's to write
	}
	if out != "started\nstarted" {
		t.Errorf("logs after restart: %q, want both runs' output", out)
	}
	if out := e.ok("info"); !strings.Contains(out, "Containers: 1\n Running: 1") || !strings.Contains(out, "Storage Driver: overlay") || !strings.Contains(out, "Images: 1") {
		t.Errorf("info:\n%s", out)
	}
	if out := e.ok("version"); !strings.Contains(out, "API version: 1.50") {
		t.Errorf("version:\n%s", out)
	}
	e.ok("rm", "-f", name)
	e.noState()
}

// A named volume outlives its container and shows in the next; it is not
// removed while a container has it; names that are paths are refused.
func TestCLIVolumes(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	e.ok("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo kept > /data/f")
	if out := e.ok("run", "--rm", "-v", "keep:/data:ro", "busybox", "cat", "/data/f"); out != "kept" {
		t.Errorf("a named volume's file in the next container: %q", out)
	}
	if out := e.ok("volume", "ls"); !strings.HasSuffix(out, "\nlocal    keep") {
		t.Errorf("volume ls: %q", out)
	}
	mountpoint := filepath.Join(e.root, "volumes", "keep", "_data")
	if b, _ := os.ReadFile(filepath.Join(mountpoint, "f")); string(b) != "kept\n" {
		t.Errorf("the volume's directory on the host holds %q", b)
	}
	e.ok("run", "-d", "--name", "holder", "-v", "keep:/data", "busybox", "sleep", "300")
	if r := e.run("", "volume", "rm", "keep"); r.code == 0 || !strings.Contains(r.stderr, "is in use by container") {
		t.Errorf("volume rm of a volume a container has: exit %d %q", r.code, r.stderr)
	}
	e.ok("rm", "-f", "holder")
	for _, c := range []struct{ v, want string }{
		{"../x:/data", "must be absolute, or the source a volume's name"},
		{"a/b:/data", `volume name "a/b"`},
		{strings.Repeat("v", 65) + ":/data", "at most 64"},
	} {
		if r := e.run("", "run", "--rm", "-v", c.v, "busybox", "true"); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("run -v %s: exit %d %q, want %q", c.v, r.code, r.stderr, c.want)
		}
	}
	if r := e.run("", "run", "--rm", "-v", "never:/x", "-w", "relative", "busybox", "true"); r.code == 0 {
		t.Errorf("run -w relative succeeded")
	}
	if out := e.ok("volume", "ls"); strings.Contains(out, "never") {
		t.Errorf("a refused run left its volume behind: %q", out)
	}
	e.ok("volume", "create", "--label", "a=b", "made")
	if out := e.ok("volume", "prune", "-f"); !strings.Contains(out, "keep") || !strings.Contains(out, "made") {
		t.Errorf("volume prune: %q", out)
	}
	if _, err := os.Stat(mountpoint); err == nil {
		t.Errorf("the volume's directory outlived volume prune")
	}
	e.noState()
}

// Restart policies: on-failure:3 starts a failing program three more times,
// then leaves it exited; always restarts after a kill until a stop; a stop
// during the back-off ends it; the daemon takes docker's --restart.
func TestRestartPolicies(t *testing.T) {
	e, d := newDockerEnv(t)
	e.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c", "echo try; exit 3")
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: never", what)
			}
		}
	}
	waitFor("flaky restarted 3 times and exited", func() bool {
		return e.ok("inspect", "-f", "{{.RestartCount}} {{.Status}} {{.Restarting}}", "flaky") == "3 exited false"
	})
	time.Sleep(500 * time.Millisecond) // no fourth
	if out := e.ok("logs", "flaky"); out != "try\ntry\ntry\ntry" {
		t.Errorf("on-failure:3: logs %q, want the first run and three restarts", out)
	}
	// Each restart is a trace of its own, linked to the first run's; each
	// exit's links to the run whose process exited.
	roots := map[string][]trace.Span{}
	files, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.json"))
	for _, path := range files {
		if f, err := trace.Load(path); err == nil {
			if root, ok := f.Root(); ok {
				roots[root.Name] = append(roots[root.Name], root)
			}
		}
	}
	linked := func(s trace.Span) (traceID, why string) {
		if len(s.Links) != 1 || len(s.Links[0].Attributes) != 1 || s.Links[0].Attributes[0].Value.String == nil {
			return "", fmt.Sprintf("%d links", len(s.Links))
		}
		return s.Links[0].TraceID, *s.Links[0].Attributes[0].Value.String
	}
	runs, restarts, exits := roots["glassbox run"], roots["glassbox restart"], roots["glassbox exit"]
	if len(runs) != 1 || len(restarts) != 3 || len(exits) != 4 {
		t.Fatalf("traces: %d runs, %d restarts, %d exits; want 1, 3, 4", len(runs), len(restarts), len(exits))
	}
	started := map[string]bool{runs[0].TraceID: true}
	for _, r := range restarts {
		started[r.TraceID] = true
		if id, why := linked(r); id != runs[0].TraceID || why != "first run" {
			t.Errorf("restart trace %s links to %s (%s), want the first run's %s", r.TraceID, id, why, runs[0].TraceID)
		}
	}
	for _, x := range exits {
		if id, why := linked(x); !started[id] || why != "the run of its process" {
			t.Errorf("exit trace %s links to %s (%s), want a run's or restart's", x.TraceID, id, why)
		}
	}
	e.ok("rm", "flaky")

	e.ok("run", "-d", "--name", "keeper", "--restart", "always", "busybox", "sleep", "300")
	pid := e.ok("inspect", "-f", "{{.Pid}}", "keeper")
	e.ok("kill", "keeper")
	waitFor("always: running again after a kill", func() bool {
		out := e.ok("inspect", "-f", "{{.Status}} {{.Pid}}", "keeper")
		return strings.HasPrefix(out, "running ") && out != "running "+pid && out != "running 0"
	})
	if out := e.ok("ps", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(out, "keeper Up") {
		t.Errorf("ps of the restarted container: %q", out)
	}
	e.ok("stop", "-t", "1", "keeper")
	time.Sleep(time.Second) // a restart would have come by now
	if st := e.ok("inspect", "-f", "{{.Status}} {{.Restarting}}", "keeper"); st != "exited false" {
		t.Errorf("always, after stop: %q, want it to stay exited", st)
	}
	e.ok("rm", "keeper")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--restart", "always", "busybox", "true"}, "with -d"},
		{[]string{"run", "-d", "--rm", "--restart", "always", "busybox", "true"}, "not with --rm"},
		{[]string{"run", "-d", "--restart", "sometimes", "busybox", "true"}, "no, on-failure[:N], always or unless-stopped"},
		{[]string{"run", "-d", "--restart", "on-failure:-1", "busybox", "true"}, "a count from 0 to 1000000"},
		{[]string{"run", "-d", "--restart", "always:2", "busybox", "true"}, "takes no count"},
	} {
		if r := e.run("", c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("glassbox %v: exit %d %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}

	id := d.dockerOK("run", "-d", "--restart", "on-failure:1", "busybox", "sh", "-c", "exit 1")
	waitFor("docker run --restart on-failure:1: one restart", func() bool {
		return d.dockerOK("inspect", "-f", "{{.RestartCount}} {{.State.Status}} {{.HostConfig.RestartPolicy.Name}}", id) == "1 exited on-failure"
	})
	d.dockerOK("rm", id)
	e.noState()
}

// --stop-signal and --stop-timeout: what stop sends first, and how long it
// waits before SIGKILL when -t does not say.
func TestStopSignalAndTimeout(t *testing.T) {
	e, d := newDockerEnv(t)
	e.ok("run", "-d", "--name", "polite", "--stop-signal", "USR1", "busybox", "sh", "-c", `trap "echo got-usr1; exit 7" USR1; while true; do sleep 0.1; done`)
	time.Sleep(300 * time.Millisecond)
	e.ok("stop", "polite")
	if out := e.ok("inspect", "-f", "{{.ExitCode}}", "polite"); out != "7" {
		t.Errorf("stop of a container whose stop signal is USR1: exit code %s, want its trap's 7", out)
	}
	e.ok("run", "-d", "--name", "deaf", "--stop-timeout", "1", "busybox", "sleep", "300") // pid 1 ignores SIGTERM
	start := time.Now()
	e.ok("stop", "deaf")
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("stop of a container whose --stop-timeout is 1 took %s: the 10 s default was used", took)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-d", "--stop-signal", "NOPE", "busybox", "true"}, "--stop-signal NOPE: no such signal"},
		{[]string{"run", "-d", "--stop-timeout", "-5", "busybox", "true"}, "--stop-timeout -5"},
		{[]string{"run", "-d", "--stop-timeout", "9999999999", "busybox", "true"}, "stop-timeout"},
	} {
		if r := e.run("", c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("glassbox %v: exit %d %q", c.args, r.code, r.stderr)
		}
	}
	id := d.dockerOK("run", "-d", "--stop-signal", "USR1", "busybox", "sh", "-c", `trap "exit 9" USR1; while true; do sleep 0.1; done`)
	time.Sleep(300 * time.Millisecond)
	d.dockerOK("stop", id)
	if out := d.dockerOK("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopSignal}}", id); out != "9 SIGUSR1" {
		t.Errorf("docker run --stop-signal USR1, stop: %q", out)
	}
	e.ok("rm", "polite", "deaf", id)
	e.noState()
}

// Errors that say what exists: the nearest flag, a registry that is not
// there; and --cidfile, which will not overwrite a file.
func TestCLIErrorsSayWhatExists(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	if r := e.run("", "run", "--nmae", "x", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "unknown flag: --nmae: did you mean --name? (glassbox run --help lists the flags)") {
		t.Errorf("run --nmae: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("", "ps", "--bogus"); !strings.Contains(r.stderr, "(glassbox ps --help lists the flags)") {
		t.Errorf("ps --bogus: %q", r.stderr)
	}
	port := strconv.Itoa(freePort(t)) // nothing listens there
	if r := e.run("", "pull", "127.0.0.1:"+port+"/nothing:1"); r.code == 0 || !strings.Contains(r.stderr, "cannot connect to the registry 127.0.0.1:"+port) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("pull from a registry that is not there: exit %d %q", r.code, r.stderr)
	}
	cid := filepath.Join(t.TempDir(), "cid")
	e.ok("run", "--rm", "--cidfile", cid, "busybox", "true")
	if b, _ := os.ReadFile(cid); len(b) != 64 {
		t.Errorf("--cidfile holds %q, want the container's id", b)
	}
	if r := e.run("", "run", "--rm", "--cidfile", cid, "busybox", "true"); r.code == 0 || !strings.Contains(r.stderr, "--cidfile") || !strings.Contains(r.stderr, "file exists") {
		t.Errorf("--cidfile over an existing file: exit %d %q", r.code, r.stderr)
	}
	e.noState()
}

// --label and --label-file, found again by ps --filter.
func TestCLILabelsFilter(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	file := filepath.Join(t.TempDir(), "labels")
	os.WriteFile(file, []byte("# the team's\nteam=storage\ntier=db\n"), 0o600)
	e.ok("run", "-d", "--name", "db", "--label-file", file, "--label", "tier=cache", "busybox", "sleep", "300")
	e.ok("run", "-d", "--name", "web", "--label", "team=front", "busybox", "sleep", "300")
	for filter, want := range map[string]string{
		"label=team":         "web\ndb",
		"label=team=storage": "db",
		"label=tier=cache":   "db", // --label after --label-file wins
		"name=we":            "web",
		"status=exited":      "",
	} {
		if out := e.ok("ps", "--filter", filter, "--format", "{{.Names}}"); out != want {
			t.Errorf("ps --filter %s: %q, want %q", filter, out, want)
		}
	}
	if out := e.ok("inspect", "-f", "{{.Labels.team}} {{.Labels.tier}}", "db"); out != "storage cache" {
		t.Errorf("inspect of db's labels: %q", out)
	}
	if r := e.run("", "ps", "--filter", "color=red"); r.code == 0 || !strings.Contains(r.stderr, "KEY one of id, name, status, label") {
		t.Errorf("ps --filter color=red: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("", "run", "--rm", "--label", "=x", "busybox", "true"); r.code == 0 || !strings.Contains(r.stderr, "--label") {
		t.Errorf("run --label =x: exit %d %q", r.code, r.stderr)
	}
	e.ok("rm", "-f", "db", "web")
	e.noState()
}

// --add-host and --dns: lines of the container's own /etc/hosts (which stay
// as its network's neighbours come and go) and /etc/resolv.conf.
func TestCLIAddHostDNS(t *testing.T) {
	e, d := newDockerEnv(t)
	e.ok("run", "-d", "--name", "a", "--add-host", "db.internal:10.1.2.3", "--dns", "192.0.2.53", "--dns-search", "example.test", "busybox", "sleep", "300")
	e.ok("run", "-d", "--name", "b", "busybox", "sleep", "300") // a neighbour: a's /etc/hosts is written again
	out := e.ok("exec", "a", "sh", "-c", "cat /etc/hosts /etc/resolv.conf")
	for _, want := range []string{"10.1.2.3\tdb.internal", "\tb ", "nameserver 192.0.2.53", "search example.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("a's /etc/hosts and resolv.conf lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "nameserver 8.8.8.8") {
		t.Errorf("--dns did not replace the default resolvers:\n%s", out)
	}
	if out := e.ok("run", "--rm", "--network", "none", "--add-host", "x:192.0.2.1", "busybox", "cat", "/etc/hosts"); !strings.Contains(out, "192.0.2.1\tx") {
		t.Errorf("--add-host with --network none: %q", out)
	}
	if out := d.dockerOK("run", "--rm", "--add-host", "api:192.0.2.7", "--dns", "192.0.2.9", "busybox", "cat", "/etc/hosts", "/etc/resolv.conf"); !strings.Contains(out, "192.0.2.7\tapi") || !strings.Contains(out, "nameserver 192.0.2.9") {
		t.Errorf("docker run --add-host --dns: %q", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--add-host", "evil\n1.2.3.4 bank:1.2.3.4"}, "NAME:IP"},
		{[]string{"--add-host", "x:not-an-ip"}, "is not an IP address"},
		{[]string{"--add-host", "x:host-gateway"}, "host-gateway is not supported"},
		{[]string{"--dns", "8.8.8.8 evil"}, "not an IP address"},
		{[]string{"--dns-search", "a b"}, "one word"},
		{[]string{"--network", "host", "--dns", "192.0.2.1"}, "not with --network host"},
	} {
		if r := e.run("", append(append([]string{"run", "--rm"}, c.args...), "busybox", "true")...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("run %v: exit %d %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}
	e.ok("rm", "-f", "a", "b")
	e.noState()
}

// exec -d returns at once, and its process goes on after the caller has
// gone; exec into a paused container is refused rather than frozen.
func TestCLIExecDetached(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	e.ok("run", "-d", "--name", "box", "busybox", "sleep", "300")
	e.ok("exec", "-d", "box", "sh", "-c", "sleep 0.3; echo later > /tmp/out")
	if r := e.run("", "exec", "box", "cat", "/tmp/out"); r.code == 0 {
		t.Errorf("exec -d waited for its process: /tmp/out is already %q", r.stdout)
	}
	var out string
	for deadline := time.Now().Add(5 * time.Second); out != "later" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out = strings.TrimSpace(e.run("", "exec", "box", "cat", "/tmp/out").stdout)
	}
	if out != "later" {
		t.Errorf("exec -d's process did not finish after the caller left: %q", out)
	}
	if r := e.run("", "exec", "-d", "-t", "box", "true"); r.code == 0 || !strings.Contains(r.stderr, "not with -i or -t") {
		t.Errorf("exec -d -t: exit %d %q", r.code, r.stderr)
	}
	e.ok("pause", "box")
	if r := e.run("", "exec", "box", "true"); r.code == 0 || !strings.Contains(r.stderr, "is paused: unpause it first") {
		t.Errorf("exec into a paused container: exit %d %q", r.code, r.stderr)
	}
	e.ok("unpause", "box")
	e.ok("rm", "-f", "box")
	e.noState()
}

// --mount, -v's and --tmpfs's long form: a bind, a volume, a tmpfs.
func TestCLIMountFlag(t *testing.T) {
	e, d := newDockerEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("from-host\n"), 0o644)
	out := e.ok("run", "--rm", "--mount", "type=bind,source="+dir+",target=/h,readonly", "--mount", "type=volume,src=vol1,dst=/v",
		"--mount", "type=tmpfs,target=/t,tmpfs-size=1048576", "busybox", "sh", "-c",
		"cat /h/f; touch /h/x 2>/dev/null || echo read-only; echo in-volume > /v/f; grep ' /t ' /proc/mounts | grep -o 'size=[0-9a-z]*'")
	if out != "from-host\nread-only\nsize=1024k" {
		t.Errorf("--mount bind,ro + volume + tmpfs: %q", out)
	}
	if out := d.dockerOK("run", "--rm", "--mount", "source=vol1,target=/v", "busybox", "cat", "/v/f"); out != "in-volume" {
		t.Errorf("docker run --mount of the volume: %q", out)
	}
	for v, want := range map[string]string{
		"type=bind,source=relative,target=/x": "must be an absolute host path",
		"type=volume,source=/etc,target=/x":   "a volume has a name",
		"type=nfs,target=/x":                  "bind, volume or tmpfs",
		"type=tmpfs,target=/x,color=red":      `"color" is not a key`,
		"type=bind,source=/etc":               "target= is missing",
	} {
		if r := e.run("", "run", "--rm", "--mount", v, "busybox", "true"); r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("--mount %s: exit %d %q, want %q", v, r.code, r.stderr, want)
		}
	}
	e.ok("volume", "rm", "vol1")
	e.noState()
}

// commit: an image of a container — its files, with a deletion and a
// directory made opaque carried as the OCI's whiteouts — that run takes,
// with the container's command; the daemon's docker commit too.
func TestCLICommit(t *testing.T) {
	e, d := newDockerEnv(t)
	e.ok("run", "--name", "changed", "-e", "GREETING=hi", "busybox", "sh", "-c",
		"echo made > /made; rm /etc/motd 2>/dev/null; rm -rf /usr/share; mkdir -p /usr/share && echo new > /usr/share/only")
	id := e.ok("commit", "-a", "someone", "-m", "a test", "changed", "mybox:1")
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("commit printed %q, want the image id", id)
	}
	out := e.ok("run", "--rm", "mybox:1", "sh", "-c", "cat /made; ls /etc/motd 2>&1 | grep -c 'No such'; ls /usr/share; echo $GREETING")
	if out != "made\n1\nonly\nhi" {
		t.Errorf("run of the committed image: %q, want its file, the deletion, the opaque directory and the env", out)
	}
	if out := e.ok("run", "--rm", "mybox:1"); out != "" {
		t.Errorf("the committed image's own command (the container's) printed %q", out)
	}
	if r := e.run("", "commit", "changed", "Not A Name"); r.code == 0 || !strings.Contains(r.stderr, `image reference "Not A Name"`) {
		t.Errorf("commit to a bad name: exit %d %q", r.code, r.stderr)
	}
	for _, q := range []string{"container=changed&repo=..%2F..%2Fx", "container=4294967295", "container=changed&changes=CMD+x"} {
		req, _ := http.NewRequest("POST", "http://glassbox/commit?"+q, nil)
		if status, body := d.request(req); status/100 != 4 {
			t.Errorf("POST /commit?%s: %d %q, want a 4xx", q, status, body)
		}
	}
	running := d.dockerOK("run", "-d", "busybox", "sh", "-c", "echo daemon > /d; exec sleep 300")
	time.Sleep(200 * time.Millisecond)
	d.dockerOK("commit", running, "viadocker:2")
	if st := d.dockerOK("inspect", "-f", "{{.State.Status}}", running); st != "running" {
		t.Errorf("after docker commit (which pauses it), the container is %s", st)
	}
	if out := d.dockerOK("run", "--rm", "viadocker:2", "cat", "/d"); out != "daemon" {
		t.Errorf("docker run of a docker commit: %q", out)
	}
	d.dockerOK("rm", "-f", running)
	e.ok("rm", "changed")
	e.noState()
}

// create makes a container to start later: its record, no process, no
// cgroup; start runs it; create refuses what only a foreground run does.
func TestCLICreate(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	id := e.ok("create", "--name", "later", "--label", "k=v", "busybox", "echo", "ran")
	if st := e.ok("inspect", "-f", "{{.Status}} {{.Pid}} {{.Labels.k}}", "later"); st != "created 0 v" {
		t.Errorf("after create: %q", st)
	}
	if cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/glassbox/" + id); len(cgroups) > 0 {
		t.Errorf("create made cgroups: %v", cgroups)
	}
	if out := e.ok("start", "-a", "later"); out != "ran" {
		t.Errorf("create, then start -a: %q", out)
	}
	e.ok("start", "later") // detached, under a monitor
	e.ok("wait", "later")
	if out := e.ok("logs", "later"); out != "ran\nran" {
		t.Errorf("create, start -a, then start: logs %q, want both runs' output", out)
	}
	if r := e.run("", "create", "--step", "busybox", "true"); r.code == 0 || !strings.Contains(r.stderr, "create takes no --bundle, --step") {
		t.Errorf("create --step: exit %d %q", r.code, r.stderr)
	}
	e.ok("rm", "later")
	e.noState()
}

// --init: pid 1 is glassbox-init as a reaper; the program is its child,
// takes the stop signal pid 1 receives (a namespace's pid 1 without a
// handler would drop it), and its exit status is the container's.
func TestCLIInit(t *testing.T) {
	e, d := newDockerEnv(t)
	out := e.ok("run", "--rm", "--init", "busybox", "sh", "-c", "ps -o pid,args | grep -v ps")
	if !strings.Contains(out, "    1 glassbox-init") || strings.Contains(out, "    1 sh") {
		t.Errorf("--init: pid 1 is not the reaper:\n%s", out)
	}
	if r := e.run("", "run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("--init: exit %d, want the program's 7", r.code)
	}
	e.ok("run", "-d", "--name", "sleeper", "--init", "busybox", "sleep", "300")
	e.ok("stop", "-t", "30", "sleeper")
	if code := e.ok("inspect", "-f", "{{.ExitCode}}", "sleeper"); code != "143" {
		t.Errorf("stop of sleep under --init: exit code %s, want 143 (SIGTERM passed on, not SIGKILL after the wait)", code)
	}
	id := d.dockerOK("run", "-d", "--init", "busybox", "sleep", "300")
	d.dockerOK("stop", "-t", "30", id)
	if code := d.dockerOK("inspect", "-f", "{{.State.ExitCode}}", id); code != "143" {
		t.Errorf("docker run --init, stop: exit code %s, want 143", code)
	}
	e.ok("rm", "sleeper", id)
	e.noState()
}

// --log-opt max-size/max-file rotate a container's log while a follower
// reads it; --log-driver none keeps nothing, and logs says why. The docker
// CLI's --log-opt reaches the same shim through the daemon.
func TestCLILogDriver(t *testing.T) {
	e, d := newDockerEnv(t)
	id := e.ok("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox",
		"sh", "-c", "for i in $(seq 0 99); do echo line $i; sleep 0.02; done")
	follow := e.cmd("logs", "-f", id)
	out, err := follow.Output()
	if err != nil {
		t.Fatalf("logs -f across rotations: %v", err)
	}
	var want []string
	for i := range 100 {
		want = append(want, "line "+strconv.Itoa(i))
	}
	if got := strings.TrimSpace(string(out)); got != strings.Join(want, "\n") {
		t.Errorf("logs -f read across the rotations %d lines, want lines 0 to 99 in order:\n%s", strings.Count(got, "\n")+1, got)
	}
	dir := filepath.Join(e.root, "containers", id)
	for _, f := range []string{"container-log.json", "container-log.json.1", "container-log.json.2"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Size() > 1024 {
			t.Errorf("%s: want a file of at most max-size, 1k (%v)", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "container-log.json.3")); err == nil {
		t.Errorf("max-file=3 kept a fourth file")
	}
	kept := strings.Split(e.ok("logs", id), "\n")
	if n := len(kept); n < 20 || n > 45 || kept[n-1] != "line 99" || kept[0] != "line "+strconv.Itoa(100-n) {
		t.Errorf("logs after rotation: %d lines from %q to %q, want the last of them, in order, up to line 99", n, kept[0], kept[n-1])
	}

	quiet := e.ok("run", "-d", "--log-driver", "none", "busybox", "sh", "-c", "echo lost")
	e.ok("wait", quiet)
	if r := e.run("", "logs", quiet); r.code == 0 || !strings.Contains(r.stderr, "--log-driver none keeps no log") {
		t.Errorf("logs of a --log-driver none container: exit %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(e.root, "containers", quiet, "container-log.json")); err == nil {
		t.Errorf("--log-driver none left a log")
	}

	d.dockerOK("run", "-d", "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c", "seq 1 200")
	d.dockerOK("wait", "rot")
	if out := d.dockerOK("inspect", "-f", "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}} {{index .HostConfig.LogConfig.Config \"max-file\"}}", "rot"); out != "json-file 1k 2" {
		t.Errorf("docker inspect's LogConfig: %q", out)
	}
	if out := d.dockerOK("logs", "rot"); !strings.HasSuffix(out, "\n200") || strings.HasPrefix(out, "1\n") {
		t.Errorf("docker logs of a rotated log: want its last lines only, up to 200:\n%s", out)
	}
	d.dockerOK("create", "--name", "none", "--log-driver", "none", "busybox", "true")
	if r := d.docker("logs", "none"); r.code == 0 || !strings.Contains(r.stderr, "configured logging driver does not support reading") {
		t.Errorf("docker logs of a --log-driver none container: exit %d %q", r.code, r.stderr)
	}
	if r := d.docker("run", "--rm", "--log-driver", "syslog", "busybox", "true"); r.code == 0 || !strings.Contains(r.stderr, "json-file or none") {
		t.Errorf("docker run --log-driver syslog: exit %d %q", r.code, r.stderr)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-opt", "max-size=0"}, "a size above 0"},
		{[]string{"--log-opt", "max-size=-1"}, "a size above 0"},
		{[]string{"--log-opt", "max-size=99999999999999999999t"}, "a size above 0"},
		{[]string{"--log-opt", "max-size=1k", "--log-opt", "max-file=0"}, "from 1 to 1000"},
		{[]string{"--log-opt", "max-size=1k", "--log-opt", "max-file=4294967295"}, "from 1 to 1000"},
		{[]string{"--log-opt", "max-file=3"}, "max-file needs max-size"},
		{[]string{"--log-opt", "compress=true"}, "json-file takes max-size and max-file"},
		{[]string{"--log-opt", "max-size"}, "expected KEY=VALUE"},
		{[]string{"--log-driver", "syslog"}, "json-file or none"},
		{[]string{"--log-driver", "none", "--log-opt", "max-size=1k"}, "takes no options"},
	} {
		if r := e.run("", append(append([]string{"run", "-d"}, c.args...), "busybox", "true")...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("run %v: exit %d %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}
	e.ok("rm", "-f", id, quiet, "rot", "none")
	e.noState()
}

// A health check runs in the container every interval: failures in a row
// make it unhealthy, a success healthy again, each change an event; a check
// that outlasts its timeout is killed and fails; failures in the start period
// do not count. The docker CLI's --health-* reach the same checks.
func TestCLIHealthCheck(t *testing.T) {
	e, d := newDockerEnv(t)
	health := func(name string) (status string, streak int, last string) {
		var h struct {
			Status        string
			FailingStreak int
			Log           []struct {
				ExitCode int
				Output   string
			}
		}
		if err := json.Unmarshal([]byte(e.ok("inspect", "-f", "{{json .Health}}", name)), &h); err != nil {
			t.Fatalf("inspect %s's health: %v", name, err)
		}
		if n := len(h.Log); n > 0 {
			last = strconv.Itoa(h.Log[n-1].ExitCode) + " " + h.Log[n-1].Output
		}
		return h.Status, h.FailingStreak, last
	}
	waitHealth := func(name, want string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if st, _, _ := health(name); st == want {
				return
			}
			if time.Now().After(deadline) {
				st, streak, last := health(name)
				t.Fatalf("%s's health stayed %s (streak %d, last %q), want %s", name, st, streak, last, want)
			}
		}
	}
	id := e.ok("run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok && echo fine", "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "300")
	if out := e.ok("ps", "--format", "{{.Names}} {{.Status}}"); !strings.HasSuffix(out, "(health: starting)") {
		t.Errorf("ps of a container whose first check is to come: %q", out)
	}
	waitHealth("hc", "unhealthy")
	if _, streak, last := health("hc"); streak < 2 || last != "1 " {
		t.Errorf("unhealthy with a failing streak of %d, last result %q; want at least 2, exit 1", streak, last)
	}
	e.ok("exec", "hc", "touch", "/tmp/ok")
	waitHealth("hc", "healthy")
	if _, streak, last := health("hc"); streak != 0 || last != "0 fine\n" {
		t.Errorf("healthy with a failing streak of %d, last result %q", streak, last)
	}
	if out := e.ok("ps", "-q", "--filter", "health=healthy"); out != id[:12] {
		t.Errorf("ps --filter health=healthy: %q", out)
	}
	events := e.ok("events", "--since", "1m", "--until", "0s", "--filter", "container=hc")
	if i, j := strings.Index(events, "health_status: unhealthy"), strings.Index(events, "health_status: healthy"); i < 0 || j < i {
		t.Errorf("events: want health_status: unhealthy, then healthy:\n%s", events)
	}

	e.ok("run", "-d", "--name", "slow", "--health-cmd", "sleep 30", "--health-timeout", "100ms", "--health-interval", "200ms", "busybox", "sleep", "300")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, _, last := health("slow"); last != "" {
			if last != "-1 Health check exceeded timeout (100ms)" {
				t.Errorf("a check past its timeout: %q", last)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no check of slow ended")
		}
	}
	time.Sleep(100 * time.Millisecond)
	if top := e.ok("top", "slow"); len(regexp.MustCompile(`(?m)sleep 30$`).FindAllString(top, -1)) > 1 {
		t.Errorf("checks past their timeout were left running:\n%s", top)
	}

	e.ok("run", "-d", "--name", "warm", "--health-cmd", "false", "--health-interval", "1h", "--health-start-interval", "100ms", "--health-start-period", "1h", "busybox", "sleep", "300")
	time.Sleep(700 * time.Millisecond)
	if st, streak, last := health("warm"); st != "starting" || streak != 0 || last != "1 " {
		t.Errorf("failing checks within the start period: %s, streak %d, last %q; want starting, 0, exit 1", st, streak, last)
	}

	d.dockerOK("run", "-d", "--name", "dh", "--health-cmd", "true", "--health-interval", "200ms", "busybox", "sleep", "300")
	waitHealth("dh", "healthy")
	if out := d.dockerOK("inspect", "-f", "{{.State.Health.Status}} {{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}", "dh"); out != `healthy ["CMD-SHELL","true"] 200ms` {
		t.Errorf("docker inspect's health: %q", out)
	}
	if out := d.dockerOK("ps", "--filter", "name=dh", "--format", "{{.Status}}"); !strings.HasSuffix(out, "(healthy)") {
		t.Errorf("docker ps of a healthy container: %q", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--health-cmd", "true", "--health-interval", "1ns"}, "from 1ms to 24h"},
		{[]string{"--health-cmd", "true", "--health-timeout", "-1s"}, "from 1ms to 24h"},
		{[]string{"--health-cmd", "true", "--health-start-period", "25h"}, "from 1ms to 24h"},
		{[]string{"--health-cmd", "true", "--health-retries", "-1"}, "from 0"},
		{[]string{"--health-cmd", "true", "--health-retries", "4294967295"}, "from 0"},
		{[]string{"--health-cmd", ""}, "CMD-SHELL"},
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, "conflicts"},
		{[]string{"--health-interval", "5s"}, "need a check"},
	} {
		if r := e.run("", append(append([]string{"run", "-d"}, c.args...), "busybox", "true")...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("run %v: exit %d %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}
	e.ok("rm", "-f", "hc", "slow", "warm", "dh")
	e.noState()
	if out, _ := exec.Command("pgrep", "-f", "health-check.*"+e.root).Output(); len(out) > 0 {
		t.Errorf("health checks outlived their containers: pids %s", out)
	}
}

// system prune removes, at once, what container, network and image prune
// would (volumes with --volumes, named images with -a), and leaves what a
// running container uses; asked, "n" removes nothing. docker system prune
// does the same through the daemon.
func TestSystemPrune(t *testing.T) {
	e, d := newDockerEnv(t)
	e.ok("network", "create", "spare")
	e.ok("network", "create", "busy")
	e.ok("volume", "create", "loose")
	e.ok("run", "-d", "--name", "keep", "--network", "busy", "-v", "held:/data", "busybox", "sleep", "300")
	e.ok("run", "--name", "done", "busybox", "true")
	e.ok("commit", "done")
	if r := e.run("n\n", "system", "prune"); r.code == 0 || !strings.Contains(r.stderr, "all stopped containers") || !strings.Contains(r.stderr, "nothing removed") {
		t.Errorf("system prune answered n: exit %d %q", r.code, r.stderr)
	}
	if out := e.ok("ps", "-a", "--format", "{{.Names}}"); out != "done\nkeep" {
		t.Errorf("after a prune answered n: %q", out)
	}
	out := e.ok("system", "prune", "-f")
	for _, want := range []string{"Deleted Containers:", "Deleted Networks:\nspare", "Deleted Images:"} {
		if !strings.Contains(out, want) {
			t.Errorf("system prune -f lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Volumes") || strings.Contains(out, "busy") || strings.Contains(out, "busybox") {
		t.Errorf("system prune -f took a volume, a used network or a used image:\n%s", out)
	}
	out = e.ok("system", "prune", "-f", "-a", "--volumes")
	if !strings.Contains(out, "Deleted Volumes:\nloose") || strings.Contains(out, "held") || strings.Contains(out, "busybox") {
		t.Errorf("system prune -a --volumes: want loose gone, held and busybox (used by keep) kept:\n%s", out)
	}
	if out := e.ok("ps", "-a", "--format", "{{.Names}}"); out != "keep" {
		t.Errorf("after system prune: %q", out)
	}
	e.ok("rm", "-f", "keep")
	d.dockerOK("run", "--name", "x", "busybox", "true")
	d.dockerOK("network", "create", "extra")
	if out := d.dockerOK("system", "prune", "-f", "--volumes"); !strings.Contains(out, "Deleted Containers:") || !strings.Contains(out, "extra") || !strings.Contains(out, "held") {
		t.Errorf("docker system prune -f --volumes:\n%s", out)
	}
	e.noState()
}

// A foreground run that is kept (no --rm) logs its output as a detached
// one does, while the caller gets it too: with a terminal or without, when
// the caller stops reading (| head), and with start -a. An OCI container's
// output is its caller's: logs says so.
func TestForegroundRunKeepsLog(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	r := e.run("", "run", "--name", "fg", "busybox", "sh", "-c", "echo out; echo err >&2; printf partial")
	if r.code != 0 || r.stdout != "out\npartial" || r.stderr != "err\n" {
		t.Errorf("run in the foreground: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if out := e.ok("logs", "fg"); out != "out\npartial" {
		t.Errorf("logs of a foreground run: %q", out)
	}
	if r := e.run("", "logs", "fg"); r.stderr != "err\n" {
		t.Errorf("logs of a foreground run: stderr %q, want err", r.stderr)
	}
	e.ok("start", "-a", "fg")
	if out := e.ok("logs", "fg"); out != "out\npartialout\npartial" && out != "out\npartial\nout\npartial" {
		t.Errorf("logs after start -a: %q, want both runs", out)
	}
	// The caller stops reading: glassbox is not killed by SIGPIPE, the
	// program runs to its end into the log, and the teardown happens.
	cmd := exec.Command("sh", "-c", glassbox+" run --name piped busybox seq 1 100000 | head -1")
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
	if out, err := cmd.Output(); err != nil || string(out) != "1\n" {
		t.Errorf("run | head -1: %q %v", out, err)
	}
	if out := e.ok("inspect", "-f", "{{.Status}} {{.ExitCode}}", "piped"); out != "exited 0" {
		t.Errorf("the container whose caller stopped reading: %q", out)
	}
	if out := e.ok("logs", "--tail", "1", "piped"); out != "100000" {
		t.Errorf("its log ends with %q, want 100000", out)
	}
	e.ok("run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "x")
	if r := e.run("", "logs", "quiet"); r.code == 0 || !strings.Contains(r.stderr, "keeps no log") {
		t.Errorf("logs of a --log-driver none run: exit %d %q", r.code, r.stderr)
	}
	bundle := ociBundle(t, func(s map[string]any) { s["process"].(map[string]any)["args"] = []string{"echo", "oci-out"} })
	if r := e.oci("create", "--bundle", bundle, "ocic"); r.code != 0 {
		t.Fatalf("glassbox-runc create: exit %d %s", r.code, r.stderr)
	}
	if r := e.run("", "logs", "ocic"); r.code == 0 || !strings.Contains(r.stderr, "glassbox-runc's caller keeps it") {
		t.Errorf("logs of an OCI container: exit %d %q", r.code, r.stderr)
	}
	e.oci("delete", "--force", "ocic")
	e.ok("rm", "fg", "piped", "quiet")
	e.noState()
}
