package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
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

// Each lab, as an attendee does it: check fails first, naming what is
// missing; the solution; check passes and lab list ticks it; reset forgets.
func TestLabs(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	home := t.TempDir()
	lab := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(glassbox, append([]string{"lab"}, args...)...)
		cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root, "GLASSBOX_LABS="+home)
		out, _ := cmd.CombinedOutput()
		return result{stdout: string(out), code: cmd.ProcessState.ExitCode()}
	}
	ip, _ := exec.LookPath("ip")
	nsenter, _ := exec.LookPath("nsenter")
	for _, c := range []struct {
		n        int
		missing  string
		solution func()
	}{
		{1, "no traced run that exited 0", func() { e.run("", "run", "--rm", "--trace", "busybox", "echo", "hello") }},
		{2, "no running container named lab2", func() {
			e.runDetached([]string{"--name", "lab2", "-h", "lab2-host"}, "busybox", "sleep", "3600")
		}},
		{3, "no container named lab3 paused before the mount stage", func() {
			e.run("", "run", "-d", "--name", "lab3", "--break-at", "mount", "busybox", "true")
			r := e.run("", "debug", "lab3", "cat", "/proc/1/comm")
			os.WriteFile(filepath.Join(home, "03-before-pivot-root", "answer"), []byte(r.stdout), 0o644)
		}},
		{4, "no container named lab4", func() { e.run("", "run", "--name", "lab4", "-m", "16m", "busybox", "tail", "/dev/zero") }},
		{5, "the container did not reach 10.200.5.1", func() {
			script := strings.NewReplacer("IP", ip, "NSENTER", nsenter).Replace(`#!/bin/sh
set -e
IP link add lab5host type veth peer name eth0 netns $GLASSBOX_PID
IP addr add 10.200.5.1/24 dev lab5host
IP link set lab5host up
NSENTER --net=$GLASSBOX_NETNS IP link set lo up
NSENTER --net=$GLASSBOX_NETNS IP addr add 10.200.5.2/24 dev eth0
NSENTER --net=$GLASSBOX_NETNS IP link set eth0 up
`)
			os.WriteFile(filepath.Join(home, "05-network-yourself", "net.sh"), []byte(script), 0o755)
		}},
		{6, "no container named lab6", func() {
			e.run("", "run", "--name", "lab6", "busybox", "sh", "-c", "echo written > /lab6.txt; rm /etc/group")
		}},
		{7, "no container named lab7", func() {
			e.run("", "run", "--name", "lab7", "--pids-limit", "20", "busybox", "sh", "-c", "for i in $(seq 40); do sleep 1 & done; wait")
		}},
		{8, "no container named lab8", func() {
			e.run("", "run", "--name", "lab8", "--cpus", "0.5", "busybox", "sh", "-c", "timeout 2 sh -c 'while :; do :; done'; echo stopped")
		}},
		{9, "no running container named lab9", func() {
			port, _ := os.ReadFile(filepath.Join(home, "09-published-ports", "port")) // lab start 9 picked it
			e.runDetached([]string{"--name", "lab9", "-p", strings.TrimSpace(string(port)) + ":80"}, "busybox", "sh", "-c", "mkdir /www; echo lab9 > /www/index.html; exec httpd -f -p 80 -h /www")
			for range 50 { // httpd takes a moment to listen
				if lab("check", "9").code == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}},
		{10, "no running container named lab10", func() {
			e.runDetached([]string{"--name", "lab10"}, "busybox", "sleep", "3600")
			e.run("", "exec", "lab10", "sh", "-c", "sleep 3600 >/dev/null 2>&1 &")
		}},
		{11, "no answer yet", func() {
			ls := strings.Fields(strings.Split(e.run("", "trace", "ls").stdout, "\n")[1])
			show := e.run("", "trace", "show", ls[0]).stdout
			mode := regexp.MustCompile(`kernel: (\S+) mode`).FindStringSubmatch(show)
			if mode == nil {
				t.Fatalf("no mode in the trace header:\n%s", show)
			}
			os.WriteFile(filepath.Join(home, "11-observer-modes", "answer"), []byte(mode[1]+"\n"), 0o644)
		}},
		{12, "the bundle does not run yet", func() {
			path := filepath.Join(home, "12-broken-config", "config.json")
			data, _ := os.ReadFile(path)
			os.WriteFile(path, []byte(strings.Replace(string(data), `"uid=nobody"`, `"uid=65534"`, 1)), 0o644)
		}},
		{13, "no container named lab13", func() {
			profile := filepath.Join(home, "13-seccomp", "profile.json")
			os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644)
			e.run("", "run", "--name", "lab13", "--security-opt", "seccomp="+profile, "busybox", "mkdir", "/lab13")
		}},
		{14, "no container named lab14", func() {
			e.run("", "run", "--name", "lab14", "--cap-drop", "SYS_CHROOT", "busybox", "chroot", "/", "true")
		}},
		{15, "no image 127.0.0.1:", func() {
			addr, _ := os.ReadFile(filepath.Join(home, "15-images", "registry"))
			ref := strings.TrimSpace(string(addr)) + "/lab15/hello:v1"
			// The registry is the attendee's to pull from, nobody's to push to.
			resp, err := http.Post("http://"+strings.TrimSpace(string(addr))+"/v2/lab15/hello/blobs/uploads/", "", nil)
			if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("a push to the lab's registry: %v %v, want 405", err, resp)
			} else {
				resp.Body.Close()
			}
			if r := e.run("", "pull", ref); r.code != 0 {
				t.Errorf("pull %s: %s", ref, r.stderr)
			}
			var inspect struct {
				Config struct {
					RootFS struct {
						DiffIDs []string `json:"diff_ids"`
					}
				}
			}
			json.Unmarshal([]byte(e.run("", "image", "inspect", ref).stdout), &inspect)
			for _, diffID := range inspect.Config.RootFS.DiffIDs {
				if _, err := os.Stat(filepath.Join(e.root, "images", "layers", strings.TrimPrefix(diffID, "sha256:"), "greeting")); err == nil {
					os.WriteFile(filepath.Join(home, "15-images", "answer"), []byte(diffID+"\n"), 0o644)
				}
			}
			if r := e.run("", "run", "--name", "lab15", ref); r.stdout != "hello from the layer on top\n" {
				t.Errorf("run %s: exit %d %q %s", ref, r.code, r.stdout, r.stderr)
			}
			// Only what the store lacked came: the config and the top layer,
			// not busybox's layer.
			log, _ := os.ReadFile(filepath.Join(home, "15-images", "registry.log"))
			if strings.Count(string(log), "GET /v2/lab15/hello/blobs/") != 2 || !strings.Contains(string(log), "GET /v2/lab15/hello/manifests/v1") {
				t.Errorf("the registry's log:\n%s", log)
			}
		}},
		{16, "no glassbox stop of lab16-naive", func() {
			e.runDetached([]string{"--name", "lab16-naive"}, "busybox", "sleep", "3600")
			e.run("", "stop", "-t", "1", "lab16-naive")
			id := e.runDetached([]string{"--name", "lab16"}, "busybox", "sh", "-c", `trap "echo bye; exit 0" TERM; sleep 3600 & wait`)
			for range 100 { // until the kernel has the shell's handler: SigCgt's bit 15 (SIGTERM)
				status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.record(id).Pid))
				if m := regexp.MustCompile(`SigCgt:\s*([0-9a-f]+)`).FindSubmatch(status); m != nil {
					if mask, _ := strconv.ParseUint(string(m[1]), 16, 64); mask&(1<<(15-1)) != 0 {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			e.run("", "stop", "lab16")
		}},
		{17, "no container named lab17", func() {
			d := e.startDaemon()
			if r := d.docker("run", "--name", "lab17", "busybox", "echo", "hello"); r.code != 0 || r.stdout != "hello\n" {
				t.Errorf("docker run --name lab17: exit %d %q %s", r.code, r.stdout, r.stderr)
			}
			d.stop()
		}},
		{18, "no trace in /run/glassbox-runc", func() {
			p := newPodman(t) // with the glassbox-runc under test, and the ulimits
			p.must("load", "-i", filepath.Join(home, "18-podman", "busybox.tar"))
			run := append([]string{"run", "--rm", "--pull", "never", "--network", "none", "--cgroup-parent", callerCgroup(t, "glassbox-podman-test")}, podmanUlimits...)
			if out := p.must(append(run, "busybox", "echo", "lab18")...); out != "lab18\n" {
				t.Errorf("podman run … echo lab18: %q", out)
			}
		}},
		{19, "no running container named lab19", func() {
			dir := filepath.Join(home, "19-runtime-binary")
			id := e.runDetached([]string{"--name", "lab19", "--cap-add", "SYS_PTRACE", "-v", dir + "/attack.sh:/attack.sh:ro"}, "busybox", "sh", "/attack.sh")
			logs := func() string { return e.run("", "logs", "lab19").stdout }
			for range 100 {
				if strings.HasPrefix(logs(), "ready") {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			unprotected := exec.Command(filepath.Join(dir, "runtime"), filepath.Join(dir, "exec.py"), strconv.Itoa(e.record(id).Pid), "echo", "hi")
			unprotected.Run() // killed by the attacker
			for i := 0; i < 50 && !strings.Contains(logs(), "WROTE"); i++ {
				time.Sleep(100 * time.Millisecond)
			}
			for i := 0; i < 20 && !strings.Contains(logs(), "refused: Read-only file system"); i++ {
				e.run("", "exec", "lab19", "true")
				time.Sleep(100 * time.Millisecond)
			}
		}},
		{20, "no rootfs/escaped", func() {
			escape := exec.Command(filepath.Join(home, "20-chroot", "chroot-run"), "-c", "cat /proc/$PPID/root/etc/hostname > /escaped")
			if out, err := escape.CombinedOutput(); err != nil {
				t.Errorf("chroot-run: %v %s", err, out)
			}
			e.run("", "run", "--name", "lab20", "busybox", "sh", "-c", "cat /proc/[0-9]*/root/etc/hostname | sort -u")
		}},
		{21, "no container named lab21", func() {
			dir := filepath.Join(home, "21-user-namespaces")
			var cfg map[string]any
			data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			json.Unmarshal(data, &cfg)
			withUserNamespace(cfg, 0, 65536)
			data, _ = json.Marshal(cfg)
			os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
			// The namespace's root, host uid 100000, must reach the state
			// root: the test's temporary directories (0700) become searchable,
			// as /var/lib/glassbox is.
			os.Chmod(e.root, 0o711)
			os.Chmod(filepath.Dir(e.root), 0o711)
			out := e.run("", "run", "--name", "lab21", "--bundle", dir).stdout
			owner := regexp.MustCompile(`(?m)^d\S+\s+\d+\s+(\d+)\s+.*/bin$`).FindStringSubmatch(out)
			if owner == nil {
				t.Errorf("no owner of /bin in lab21's output:\n%s", out)
				return
			}
			os.WriteFile(filepath.Join(dir, "answer"), []byte(owner[1]+"\n"), 0o644)
		}},
	} {
		t.Run(fmt.Sprint(c.n), func(t *testing.T) {
			if r := lab("show", fmt.Sprint(c.n)); !strings.HasPrefix(r.stdout, fmt.Sprintf("# Lab %d — ", c.n)) {
				t.Errorf("lab show: %.80q", r.stdout)
			}
			t.Cleanup(func() { lab("reset", fmt.Sprint(c.n)) }) // also when the lab fails half-way: its registry, its containers
			if r := lab("start", fmt.Sprint(c.n)); r.code != 0 {
				t.Fatalf("lab start: %s", r.stdout)
			}
			if r := lab("check", fmt.Sprint(c.n)); r.code != 1 || !strings.Contains(r.stdout, "✗ "+c.missing) {
				t.Errorf("lab check before the solution: exit %d\n%s", r.code, r.stdout)
			}
			if r := lab("hint", fmt.Sprint(c.n)); !strings.HasPrefix(r.stdout, "hint 1/") || strings.Contains(r.stdout, "hint 2/") {
				t.Errorf("the first hint: %q", r.stdout)
			}
			c.solution()
			if r := lab("check", fmt.Sprint(c.n)); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("✓ lab %d passed", c.n)) {
				t.Errorf("lab check after the solution: exit %d\n%s", r.code, r.stdout)
			}
			if r := lab("list"); !strings.Contains(r.stdout, fmt.Sprintf("✓ %2d  ", c.n)) {
				t.Errorf("lab list does not tick %d:\n%s", c.n, r.stdout)
			}
			if r := lab("reset", fmt.Sprint(c.n)); r.code != 0 || strings.Contains(lab("list").stdout, fmt.Sprintf("✓ %2d  ", c.n)) {
				t.Errorf("lab reset: exit %d %s", r.code, r.stdout)
			}
			if r := e.run("", "ps", "-a"); strings.Count(r.stdout, "\n") > 1 {
				t.Errorf("lab reset %d leaves containers:\n%s", c.n, r.stdout)
			}
		})
	}
	e.noState()
}

// A room on one machine: each attendee runs glassbox through sudo. Their
// progress is their own (per user sudo names, per state root), their files
// go in their own home and belong to them, lab 9 gives each a port of their
// own, and a SUDO_USER that names no user is refused, not followed.
func TestLabsSharedMachine(t *testing.T) {
	e := newEnv(t)
	home := t.TempDir()
	users := map[string]int{"nobody": 65534} // a user every Debian has, and its uid
	if _, err := exec.Command("id", "daemon").Output(); err == nil {
		users["daemon"] = 1
	}
	lab := func(sudoUser, root string, args ...string) result {
		t.Helper()
		cmd := exec.Command(glassbox, append([]string{"lab"}, args...)...)
		cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+root, "GLASSBOX_LABS="+filepath.Join(home, sudoUser), "SUDO_USER="+sudoUser)
		out, _ := cmd.CombinedOutput()
		return result{stdout: string(out), code: cmd.ProcessState.ExitCode()}
	}
	if r := lab("nobody", e.root, "hint", "1"); r.code != 0 || !strings.HasPrefix(r.stdout, "hint 1/") {
		t.Fatalf("hint as nobody: exit %d %s", r.code, r.stdout)
	}
	// Another attendee, or the same one with another state root, starts afresh.
	other := t.TempDir()
	for _, who := range []struct{ user, root string }{{"daemon", e.root}, {"nobody", other}} {
		if _, ok := users[who.user]; !ok {
			continue
		}
		if r := lab(who.user, who.root, "hint", "1"); !strings.HasPrefix(r.stdout, "hint 1/") || strings.Contains(r.stdout, "hint 2/") {
			t.Errorf("%s in %s sees another's hints: %q", who.user, who.root, r.stdout)
		}
	}
	if r := lab("nobody", e.root, "hint", "1"); !strings.Contains(r.stdout, "hint 2/") {
		t.Errorf("nobody's second hint in its own root: %q", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(e.root, "labs", "nobody.json")); err != nil {
		t.Errorf("progress is not kept per attendee in the state root: %v", err)
	}
	// lab start makes what it names, gives it to the attendee, and lab 9
	// says which port is the attendee's.
	r := lab("nobody", e.root, "start", "9")
	port, _ := os.ReadFile(filepath.Join(home, "nobody", "09-published-ports", "port"))
	if r.code != 0 || len(port) == 0 || !strings.Contains(r.stdout, "your host port: "+strings.TrimSpace(string(port))) {
		t.Errorf("lab start 9: exit %d %q, port file %q", r.code, r.stdout, port)
	}
	for _, dir := range []string{filepath.Join(home, "nobody"), filepath.Join(home, "nobody", "09-published-ports")} {
		if fi, err := os.Stat(dir); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(users["nobody"]) {
			t.Errorf("%s is not the attendee's: %v", dir, err)
		}
	}
	for _, hostile := range []string{"../../etc", "no-such-user-here", "root\nx"} {
		if r := lab(hostile, e.root, "list"); r.code == 0 || strings.Count(strings.TrimSpace(r.stdout), "\n") > 0 {
			t.Errorf("SUDO_USER=%q: exit %d %q", hostile, r.code, r.stdout)
		}
	}
	if r := lab("nobody", e.root, "--help"); !strings.Contains(r.stdout, "GLASSBOX_LABS") || !strings.Contains(r.stdout, "SUDO_USER") {
		t.Errorf("lab --help does not list the variables:\n%s", r.stdout)
	}
}
