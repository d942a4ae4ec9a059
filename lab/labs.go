package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/trace"
)

// The labs' directories under Env.Home (Env.Dir names them the same way;
// spelled out here because the labs' own functions cannot refer to All).
const (
	lab3Dir = "03-before-pivot-root"
	lab5Dir = "05-network-yourself"
)

// All the labs, in order.
var All = []*Lab{
	{N: 1, Slug: "first-trace", Title: "Your first traced run, and how to read it",
		Check: checkFirstTrace,
		Hints: []string{
			"Every run is traced unless you say --trace=false; --trace also prints the waterfall when it ends.",
			"glassbox run --rm --trace busybox echo hello — then glassbox trace ls.",
		}},
	{N: 2, Slug: "namespaces", Title: "Namespaces: pid 1, a hostname of its own",
		Check: checkNamespaces,
		Hints: []string{
			"A detached container keeps running: run -d. Its name is --name, its hostname -h.",
			"glassbox run -d --name lab2 -h lab2-host busybox sleep 3600",
		}},
	{N: 3, Slug: "before-pivot-root", Title: "Stop before pivot_root and look at the half-built container",
		Start: func(e *Env) error { return os.MkdirAll(filepath.Join(e.Home, lab3Dir), 0o755) },
		Check: checkBeforePivotRoot,
		Hints: []string{
			"--break-at STAGE pauses a run before that stage; with -d the command returns at the pause.",
			"glassbox run -d --name lab3 --break-at mount busybox true",
			"glassbox debug lab3 -- cat /proc/1/comm: that name goes into the answer file.",
		}},
	{N: 4, Slug: "oom-kill", Title: "A memory limit that bites: the OOM killer in the trace",
		Check: checkOOM,
		Hints: []string{
			"-m sets memory.max (v2) or memory.limit_in_bytes (v1); the program must want more than that.",
			"tail /dev/zero keeps one ever-growing line in memory.",
			"glassbox run --name lab4 -m 16m busybox tail /dev/zero",
		}},
	{N: 5, Slug: "network-yourself", Title: "Write the network stage yourself",
		Start: startNetwork,
		Check: checkNetwork,
		Hints: []string{
			"Your script runs on the host with GLASSBOX_PID and GLASSBOX_NETNS set; the container's namespace has only lo, down.",
			"A veth pair: ip link add lab5host type veth peer name eth0 netns $GLASSBOX_PID",
			"Inside, with nsenter --net=$GLASSBOX_NETNS: lo up, 10.200.5.2/24 on eth0, eth0 up. Outside: 10.200.5.1/24 on lab5host, up.",
		}},
}

// container named name in the state root, if there is one.
func (e *Env) container(name string) *container.Container {
	all, _ := container.List(e.Root)
	for _, c := range all {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func checkFirstTrace(e *Env) []string {
	all, _ := trace.List(filepath.Join(e.Root, "traces"))
	for _, s := range all {
		if s.Name != "glassbox run" || s.Exit != "0" {
			continue
		}
		f, err := trace.Load(s.Path)
		if err != nil {
			continue
		}
		if root, ok := f.Root(); ok && root.Attr("glassbox.observer.events") != "" && root.Attr("glassbox.observer.events") != "0" {
			return nil
		}
	}
	return []string{"no traced run that exited 0 with the kernel's events in it yet (glassbox trace ls lists the traces)"}
}

func checkNamespaces(e *Env) []string {
	c := e.container("lab2")
	if c == nil || c.Status != container.Running || !c.Alive() {
		return []string{"no running container named lab2"}
	}
	var missing []string
	self, _ := os.Readlink("/proc/self/ns/pid")
	theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.Pid))
	if theirs == self {
		missing = append(missing, "lab2 shares the host's pid namespace")
	}
	if out, _ := e.glassbox("exec", "lab2", "hostname"); strings.TrimSpace(out) != "lab2-host" {
		missing = append(missing, fmt.Sprintf("lab2's hostname is %q, not lab2-host", strings.TrimSpace(out)))
	}
	if out, _ := e.glassbox("exec", "lab2", "cat", "/proc/1/comm"); strings.TrimSpace(out) != "sleep" {
		missing = append(missing, fmt.Sprintf("pid 1 in lab2 is %q, not sleep", strings.TrimSpace(out)))
	}
	return missing
}

func checkBeforePivotRoot(e *Env) []string {
	var missing []string
	if c := e.container("lab3"); c == nil || c.Breakpoint != "before mount" {
		missing = append(missing, "no container named lab3 paused before the mount stage")
	}
	answer, err := os.ReadFile(filepath.Join(e.Home, lab3Dir, "answer"))
	host, _ := os.ReadFile("/proc/1/comm")
	switch {
	case err != nil:
		missing = append(missing, "no answer yet: write what pid 1 is called, seen from glassbox debug lab3, into "+filepath.Join(e.Home, lab3Dir, "answer"))
	case strings.TrimSpace(string(answer)) != strings.TrimSpace(string(host)):
		missing = append(missing, fmt.Sprintf("the answer %q is not what /proc/1/comm says inside before pivot_root", strings.TrimSpace(string(answer))))
	}
	return missing
}

func checkOOM(e *Env) []string {
	c := e.container("lab4")
	if c == nil {
		return []string{"no container named lab4 (run it without --rm, so its record stays)"}
	}
	var missing []string
	if r := c.Spec.Linux.Resources; r == nil || r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit <= 0 || *r.Memory.Limit > 64<<20 {
		missing = append(missing, "lab4 has no memory limit of 64 MiB or less")
	}
	if c.Status != container.Exited || !c.OOMKilled {
		missing = append(missing, "the OOM killer has not killed a process of lab4 (ps -a shows OOM when it has)")
	}
	return missing
}

// The network lab's script, as the attendee gets it.
const networkSkeleton = `#!/bin/sh
# Lab 5: the network stage, by hand. glassbox runs this on the host instead of
# its own network stage, with GLASSBOX_PID (the container's init) and
# GLASSBOX_NETNS (/proc/$GLASSBOX_PID/ns/net) set.
#
# Goal: inside, eth0 has 10.200.5.2/24 and is up (and lo too); outside, the
# other end of the pair has 10.200.5.1/24 and is up. Then the container can
# ping 10.200.5.1.
set -e
echo "lab 5: network stage for pid $GLASSBOX_PID" >&2
# TODO
exit 1
`

func startNetwork(e *Env) error {
	dir := filepath.Join(e.Home, lab5Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	script := filepath.Join(dir, "net.sh")
	if _, err := os.Stat(script); err == nil {
		return nil // keep the attendee's work
	}
	return os.WriteFile(script, []byte(networkSkeleton), 0o755)
}

func checkNetwork(e *Env) []string {
	script := filepath.Join(e.Home, lab5Dir, "net.sh")
	if _, err := os.Stat(script); err != nil {
		return []string{"no " + script + " yet: glassbox lab start 5"}
	}
	out, code := e.glassbox("run", "--rm", "--name", "lab5-check", "--replace-stage", "network="+script,
		"busybox", "sh", "-c", "ip -4 -o addr show eth0 | grep -q 10.200.5.2/24 && ping -c 1 -W 2 10.200.5.1 >/dev/null && echo reached")
	if code == 0 && strings.Contains(out, "reached") {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return []string{"the container did not reach 10.200.5.1 through your stage (exit " + strconv.Itoa(code) + "): " + lines[len(lines)-1]}
}
