package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
)

// record reads a container's state.json.
func (e *env) record(id string) (rec struct {
	Pid        int
	IP         string
	Breakpoint string
	Cgroups    []string
	Ports      string
}) {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.root, "containers", id, "state.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		e.t.Fatal(err)
	}
	return rec
}

// The pipeline paused at every point between stages, without a terminal:
// what exists is checked from the host (and with glassbox debug), then the
// run goes on and ends normally.
func TestBreakpointsAtEveryStage(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	type point struct{ flag, stage string }
	var points []point
	for _, st := range []string{"rootfs", "cgroup", "unshare", "network", "mount", "exec"} {
		points = append(points, point{"--break-at", st})
		if st != "exec" {
			points = append(points, point{"--break-after", st})
		}
	}
	order := func(p point) int { // how many stages have run at this point
		i := slices.Index([]string{"rootfs", "cgroup", "unshare", "network", "mount", "exec"}, p.stage)
		if p.flag == "--break-after" {
			i++
		}
		return i
	}
	for _, p := range points {
		where := strings.TrimPrefix(p.flag, "--break-") + " " + p.stage
		where = strings.Replace(where, "at ", "before ", 1)
		t.Run(where, func(t *testing.T) {
			r := e.run("", "run", "-d", p.flag, p.stage, "busybox", "sh", "-c", "hostname; exit 3")
			id := strings.TrimSpace(r.stdout)
			t.Cleanup(func() { e.run("", "rm", "-f", id) }) // after a failure: no paused leftovers
			if r.code != 0 || !strings.Contains(r.stderr, "paused "+where+" stage") {
				t.Fatalf("run -d %s %s: exit %d %q %q", p.flag, p.stage, r.code, r.stdout, r.stderr)
			}
			rec := e.record(id)
			if rec.Breakpoint != where {
				t.Errorf("record: breakpoint %q, want %q", rec.Breakpoint, where)
			}
			if ps := e.run("", "ps").stdout; !strings.Contains(ps, "Paused "+where) {
				t.Errorf("ps shows no paused container:\n%s", ps)
			}
			ran := order(p)
			rootfs := filepath.Join(e.root, "containers", id, "rootfs")
			if mounted := slices.Contains(mountPoints(t), rootfs); mounted != (ran >= 1) {
				t.Errorf("overlay mounted: %v, after %d stages", mounted, ran)
			}
			cgroupsExist := len(rec.Cgroups) > 0
			for _, dir := range rec.Cgroups {
				if _, err := os.Stat(dir); err != nil {
					cgroupsExist = false
				}
			}
			if cgroupsExist != (ran >= 2) {
				t.Errorf("cgroup directories exist: %v (%v), after %d stages", cgroupsExist, rec.Cgroups, ran)
			}
			if (rec.Pid != 0) != (ran >= 3) {
				t.Errorf("init pid %d after %d stages", rec.Pid, ran)
			}
			if ran >= 3 {
				net, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", rec.Pid))
				if net == hostNet || net == "" {
					t.Errorf("the init's network namespace %q is the host's", net)
				}
				// Inside: eth0's address once the network stage ran; the
				// container's own /proc (its pid 1 is glassbox-init) once the
				// mount stage did; the hostname only in the exec stage.
				d := e.run("", "debug", id, "sh", "-c", "ip -4 -o addr show eth0 2>/dev/null | grep -c inet; cat /proc/1/comm; hostname")
				lines := strings.Split(strings.TrimSpace(d.stdout), "\n")
				if d.code != 0 || len(lines) != 3 {
					t.Fatalf("debug: exit %d %q %q", d.code, d.stdout, d.stderr)
				}
				if want := map[bool]string{true: "1", false: "0"}[ran >= 4]; lines[0] != want {
					t.Errorf("eth0 addresses seen by debug: %s, want %s", lines[0], want)
				}
				if ownProc := lines[1] == "glassbox-init"; ownProc != (ran >= 5) {
					t.Errorf("/proc/1/comm seen by debug: %q after %d stages", lines[1], ran)
				}
				if lines[2] == id[:12] {
					t.Errorf("the hostname is set before the exec stage")
				}
				if !strings.Contains(d.stderr, "glassbox debug: container "+id[:12]+", "+where) {
					t.Errorf("debug banner: %q", d.stderr)
				}
			} else if d := e.run("", "debug", id, "pwd"); d.stdout != filepath.Join(e.root, "containers", id)+"\n" || !strings.Contains(d.stderr, "no namespaces yet") {
				t.Errorf("debug with no init yet: %q %q", d.stdout, d.stderr)
			}
			if c := e.run("", "continue", id); c.code != 0 || c.stdout != "running\n" {
				t.Errorf("continue: exit %d %q %q", c.code, c.stdout, c.stderr)
			}
			if w := e.run("", "wait", id); w.stdout != "3\n" {
				t.Errorf("wait: %q %q", w.stdout, w.stderr)
			}
			if l := e.run("", "logs", id); l.stdout != id[:12]+"\n" {
				t.Errorf("logs: %q", l.stdout)
			}
			e.run("", "rm", id)
			// Abort at the same point undoes everything made so far.
			r = e.run("", "run", "-d", p.flag, p.stage, "busybox", "true")
			aborted := strings.TrimSpace(r.stdout)
			t.Cleanup(func() { e.run("", "rm", "-f", aborted) })
			if a := e.run("", "abort", aborted); a.code != 0 || a.stdout != "aborted\n" {
				t.Errorf("abort: exit %d %q %q", a.code, a.stdout, a.stderr)
			}
			e.noState()
		})
	}
}

// Breakpoints in a foreground run: continue goes from one to the next; a
// failure after a pause is reported to the continue that caused it; errors
// in the flags are refused before anything exists.
func TestBreakpointsForeground(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	cmd := exec.Command(glassbox, "run", "--rm", "--break-after", "unshare", "--break-at", "mount", "-v", "/nonexistent-src:/x", "busybox", "true")
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitPaused := func(where string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			dirs, _ := os.ReadDir(filepath.Join(e.root, "containers"))
			for _, d := range dirs {
				if data, err := os.ReadFile(filepath.Join(e.root, "containers", d.Name(), "state.json")); err == nil && strings.Contains(string(data), `"breakpoint": "`+where+`"`) {
					return d.Name()
				}
			}
		}
		cmd.Process.Kill()
		t.Fatalf("never paused %s; stderr %q", where, stderr.String())
		return ""
	}
	id := waitPaused("after unshare")
	if c := e.run("", "continue", id); c.stdout != "paused before mount\n" {
		t.Errorf("continue to the next breakpoint: %q %q", c.stdout, c.stderr)
	}
	c := e.run("", "continue", id)
	if c.code == 0 || !strings.Contains(c.stderr, "stage mount") || !strings.Contains(c.stderr, "/nonexistent-src") {
		t.Errorf("continue into a failing stage: exit %d %q", c.code, c.stderr)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(stderr.String(), "paused after unshare stage") {
		t.Errorf("the run should fail after saying where it paused: %v %q", err, stderr.String())
	}
	if c := e.run("", "continue", id); c.code == 0 {
		t.Error("continue of a gone container should fail")
	}
	e.noState()
	for _, args := range [][]string{{"--break-at", "nosuch"}, {"--break-after", "exec"}} {
		r := e.run("", append(append([]string{"run"}, args...), "busybox", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, args[0]+" "+args[1]) {
			t.Errorf("run %v: exit %d %q", args, r.code, r.stderr)
		}
	}
	e.noState()
}

// Every stage has its page, embedded in the binary.
func TestExplain(t *testing.T) {
	e := newEnv(t)
	for i, st := range []string{"rootfs", "cgroup", "unshare", "network", "mount", "exec"} {
		r := e.run("", "explain", st)
		if r.code != 0 || !strings.HasPrefix(r.stdout, fmt.Sprintf("# Stage %d — %s", i+1, st)) || !strings.Contains(r.stdout, "## See it") {
			t.Errorf("explain %s: exit %d %q", st, r.code, r.stdout[:min(80, len(r.stdout))])
		}
	}
	if r := e.run("", "explain", "hooks"); !strings.Contains(r.stdout, "GLASSBOX_NETNS") {
		t.Errorf("explain hooks: %q", r.stdout[:min(80, len(r.stdout))])
	}
	if r := e.run("", "explain", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, "rootfs, cgroup") {
		t.Errorf("explain nosuch: exit %d %q", r.code, r.stderr)
	}
}

// run --step at a terminal, driven through tmux: each stage's plan, Enter to
// run it, s for a shell in the half-built container, c for the rest, and q
// to abort, which leaves nothing behind.
func TestStepThroughTmux(t *testing.T) {
	term := newTerminal(t, 150, 50)
	e := newEnv(t)
	e.importBusybox()
	term.keys(fmt.Sprintf("GLASSBOX_ROOT=%s %s run --rm --step -m 16m busybox sh -c 'echo stepped-$(hostname)'", e.root, glassbox), "Enter")
	term.waitFor("▸ stage 1/6 rootfs")
	term.waitFor(`mount("overlay"`)
	term.keys("Enter")
	term.waitFor("▸ stage 2/6 cgroup")
	term.waitFor("= 16777216") // the memory limit it is about to write
	term.keys("Enter")
	term.waitFor("▸ stage 3/6 unshare")
	term.waitFor("clone3(")
	term.keys("Enter")
	term.waitFor("▸ stage 4/6 network")
	term.keys("s")
	term.waitFor("before network] #")
	term.keys("echo debug-$(ip -o link | grep -c UP)-$(ip -o link | wc -l); exit", "Enter")
	term.waitFor("debug-0-1") // the namespace exists, with lo (down); eth0 does not yet
	term.keys("c")
	term.waitUntil("the program's output never came", regexp.MustCompile(`(?m)^stepped-[0-9a-f]{12}$`).MatchString)
	term.exitedWith(0)
	e.noState()
	term.keys("clear", "Enter")
	term.keys(fmt.Sprintf("GLASSBOX_ROOT=%s %s run --rm --step busybox true", e.root, glassbox), "Enter")
	term.waitFor("▸ stage 1/6 rootfs")
	term.keys("Enter")
	term.waitFor("▸ stage 2/6 cgroup")
	term.keys("Enter")
	term.waitFor("▸ stage 3/6 unshare")
	term.keys("q")
	term.exitedWith(125)
	if s := term.screen(); !strings.Contains(s, "aborted") {
		t.Errorf("q should say it aborted:\n%s", s)
	}
	e.noState()
}

// At a terminal, a failed run prints its one-line error and under it the
// report: the stage, the kernel call and errno, the stage's last system
// calls as the kernel saw them, the hint, and where to look next. A failure
// at every stage names that stage.
func TestFailureReport(t *testing.T) {
	e := newEnv(t)
	atTerminal := e.atTerminal
	out, code := atTerminal(nil, e.runArgs([]string{"-v", "/nonexistent-src:/x"}, "true")...)
	for _, want := range []string{
		"glassbox: stage mount: stat(/nonexistent-src): no such file or directory",
		"  stage:   mount — ",
		"  call:    stat(/nonexistent-src) → ENOENT (no such file or directory)",
		"  kernel:  the stage's last system calls, as the kernel saw them:",
		`mount("`,
		"  hint:    the source of the mount on /x must exist on the host",
		"  more:    glassbox trace show ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if code != 125 {
		t.Errorf("exit %d, want 125", code)
	}
	for _, st := range []string{"rootfs", "cgroup", "unshare", "network", "mount", "exec"} {
		out, code := atTerminal([]string{"GLASSBOX_TEST_FAIL=" + st}, e.runArgs(nil, "true")...)
		if code != 125 || !strings.Contains(out, "glassbox: stage "+st+": failure injected") || !strings.Contains(out, "  stage:   "+st+" — ") {
			t.Errorf("a failure in %s: exit %d\n%s", st, code, out)
		}
	}
	e.noState()
}

// atTerminal runs glassbox at a terminal (script(1)), where a failure comes
// with its report, and returns what the terminal showed and the exit code.
func (e *env) atTerminal(env []string, args ...string) (string, int) {
	e.t.Helper()
	line := strings.Join(append([]string{glassbox}, args...), " ")
	cmd := exec.Command("script", "-qec", line, "/dev/null")
	cmd.Env = append(append(os.Environ(), "GLASSBOX_ROOT="+e.root), env...)
	out, _ := cmd.CombinedOutput()
	return strings.ReplaceAll(string(out), "\r\n", "\n"), cmd.ProcessState.ExitCode()
}

// A real kernel failure at every stage, each as the kernel gave it: the
// report names the stage, the call with its errno, and a hint for it —
// asserted line by line.
func TestFailureReportAtEveryStage(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	inUse, err := net.Listen("tcp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer inUse.Close()
	port := inUse.Addr().(*net.TCPAddr).Port
	bundle := func(edit func(s map[string]any)) string {
		return writeBundle(t, func(s map[string]any) {
			s["process"].(map[string]any)["args"] = []string{"true"}
			edit(s)
		})
	}
	throttleNull := bundle(func(s map[string]any) { // 1:3 is /dev/null's numbers: no block device
		s["linux"].(map[string]any)["resources"] = map[string]any{"blockIO": map[string]any{
			"throttleReadBpsDevice": []map[string]any{{"major": 1, "minor": 3, "rate": 100}}}}
	})
	wrongNamespace := bundle(func(s map[string]any) {
		for _, ns := range s["linux"].(map[string]any)["namespaces"].([]any) {
			if ns := ns.(map[string]any); ns["type"] == "network" {
				ns["path"] = "/proc/self/ns/pid"
			}
		}
	})
	tmpfsOption := bundle(func(s map[string]any) {
		for _, m := range s["mounts"].([]any) {
			if m := m.(map[string]any); m["destination"] == "/dev/shm" {
				m["options"] = append(m["options"].([]any), "uid=nobody")
			}
		}
	})
	cgroupFile := "blkio.throttle.read_bps_device"
	if cgroupMode(t) == cgroupsv2.Unified {
		cgroupFile = "io.max"
	}
	for _, c := range []struct {
		stage        string
		args         []string
		header, call string // the report's lines, from their start
		hint         string
		code         int
	}{
		{"rootfs", []string{"run", "--rm", "--rootfs", "/etc/passwd", "--", "true"},
			"glassbox: stage rootfs: stat(/etc/passwd): not a directory — ", "stat(/etc/passwd) → ENOTDIR (not a directory)",
			"root.path / --rootfs must name a directory", 125},
		{"cgroup", []string{"run", "--rm", "--bundle", throttleNull},
			"glassbox: stage cgroup: write(" + cgroupFile + ", ", "write(" + cgroupFile + ", ",
			"a device limit names a block device by major:minor that this kernel does not have", 125},
		{"unshare", []string{"run", "--rm", "--bundle", wrongNamespace},
			"glassbox: stage unshare: setns(/proc/self/ns/pid, CLONE_NEWNET): invalid argument — ", "setns(/proc/self/ns/pid, CLONE_NEWNET) → EINVAL (invalid argument)",
			"linux.namespaces: /proc/self/ns/pid is not a network namespace", 125},
		{"network", e.runArgs([]string{"-p", fmt.Sprintf("%d:80", port)}, "true"),
			fmt.Sprintf("glassbox: stage network: bind(:%d/tcp): address already in use — ", port), fmt.Sprintf("bind(:%d/tcp) → EADDRINUSE (address already in use)", port),
			"the port is in use on the host", 125},
		{"mount", []string{"run", "--rm", "--bundle", tmpfsOption},
			`glassbox: stage mount: mount("shm", `, `mount("shm", `,
			`EINVAL does not say which argument is wrong: is every option in "mode=1777,size=65536k,uid=nobody" one that tmpfs accepts`, 125},
		{"exec", e.runArgs(nil, "/etc/passwd"),
			`glassbox: stage exec: exec: "/etc/passwd": permission denied — `, "faccessat(/etc/passwd, X_OK) → EACCES (permission denied)",
			"the program must be a file with an execute bit", 126},
		{"exec", e.runArgs(nil, "nosuch"),
			`glassbox: stage exec: exec: "nosuch": executable file not found in $PATH — `, "faccessat(<each of $PATH>/nosuch, X_OK) → ENOENT (no such file or directory)",
			"no program of that name in the container's PATH", 127},
	} {
		out, code := e.atTerminal(nil, c.args...)
		report := map[string]string{} // "header", "stage", "call", "hint": the line's text
		for _, line := range strings.Split(out, "\n") {
			if i := strings.Index(line, "glassbox: stage "); i >= 0 {
				report["header"] = line[i:] // after the progress lines the terminal overwrote
			}
			for _, field := range []string{"stage", "call", "hint"} {
				if text, ok := strings.CutPrefix(line, "  "+field+":"); ok {
					report[field] = strings.TrimSpace(text)
				}
			}
		}
		if code != c.code || !strings.HasPrefix(report["header"], c.header) || !strings.HasPrefix(report["stage"], c.stage+" — ") ||
			!strings.HasPrefix(report["call"], c.call) || !strings.HasPrefix(report["hint"], c.hint) {
			t.Errorf("a failure in stage %s: exit %d; want the header %q, the call %q, the hint %q; the report:\n%s", c.stage, code, c.header, c.call, c.hint, out)
		}
		if c.stage == "cgroup" && !strings.Contains(report["call"], "→ ENODEV (no such device)") {
			t.Errorf("the cgroup write's errno: %q, want ENODEV", report["call"])
		}
		e.noState()
	}
}

// glassbox demo runs its narrated steps through and cleans up after itself.
func TestDemo(t *testing.T) {
	e := newEnv(t)
	if r := e.run("", "demo", "--no-pause"); r.code != 125 || !strings.Contains(r.stderr, "make image") {
		t.Errorf("demo without the busybox image: exit %d %q", r.code, r.stderr)
	}
	e.importBusybox()
	r := e.run("", "demo", "--no-pause")
	if r.code != 0 {
		t.Fatalf("demo: exit %d %q\n%s", r.code, r.stderr, r.stdout)
	}
	for _, want := range []string{"1/10", "$ glassbox images", "hello from a container", "· glassbox run ·", "  mount   ",
		"pid 1 on ", "Exited (0)", "paused before mount", "pid 1 is ", "running\n", "resumed\n", "10/10"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	e.noState()
}
