package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Each lab, as an attendee does it: check fails first, naming what is
// missing; the solution; check passes and lab list ticks it; reset forgets.
func TestLabs(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	home, state := t.TempDir(), t.TempDir()
	lab := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(glassbox, append([]string{"lab"}, args...)...)
		cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root, "GLASSBOX_LABS="+home, "XDG_STATE_HOME="+state)
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
			e.runDetached([]string{"--name", "lab9", "-p", "8089:80"}, "busybox", "sh", "-c", "mkdir /www; echo lab9 > /www/index.html; exec httpd -f -p 80 -h /www")
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
	} {
		t.Run(fmt.Sprint(c.n), func(t *testing.T) {
			if r := lab("show", fmt.Sprint(c.n)); !strings.HasPrefix(r.stdout, fmt.Sprintf("# Lab %d — ", c.n)) {
				t.Errorf("lab show: %.80q", r.stdout)
			}
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
