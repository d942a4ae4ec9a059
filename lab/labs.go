package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/trace"
)

// The labs' directories under Env.Home (Env.Dir names them the same way;
// spelled out here because the labs' own functions cannot refer to All).
const (
	lab3Dir  = "03-before-pivot-root"
	lab5Dir  = "05-network-yourself"
	lab9Dir  = "09-published-ports"
	lab11Dir = "11-observer-modes"
	lab12Dir = "12-broken-config"
	lab13Dir = "13-seccomp"
	lab15Dir = "15-images"
	lab18Dir = "18-podman"
)

// lab12Program is lab 12's container program: it passes only if /dev/shm is
// mounted as the config asks.
const lab12Program = "grep -q ' /dev/shm tmpfs ' /proc/mounts && echo lab 12 runs"

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
	{N: 6, Slug: "overlay-whiteouts", Title: "The writable layer: copy-up and whiteouts",
		Check: checkOverlay,
		Hints: []string{
			"Keep the container's record (no --rm): its writable layer stays in the state directory, upper/.",
			"glassbox run --name lab6 busybox sh -c 'echo written > /lab6.txt; rm /etc/group'",
		}},
	{N: 7, Slug: "pids-limit", Title: "A pids limit against a fork bomb",
		Check: checkPids,
		Hints: []string{
			"--pids-limit writes pids.max; the forks beyond it fail with EAGAIN, the container goes on.",
			"glassbox run --name lab7 --pids-limit 20 busybox sh -c 'for i in $(seq 40); do sleep 2 & done; wait'",
		}},
	{N: 8, Slug: "cpu-quota", Title: "A CPU quota: half a CPU, whatever the program wants",
		Check: checkCPU,
		Hints: []string{
			"--cpus 0.5 writes cpu.max = 50000 100000: 50 ms of CPU time per 100 ms period.",
			`glassbox run --name lab8 --cpus 0.5 busybox sh -c "timeout 2 sh -c 'while :; do :; done'; echo stopped"`,
		}},
	{N: 9, Slug: "published-ports", Title: "Published ports: DNAT in nftables",
		Start: startPorts,
		Check: checkPorts,
		Hints: []string{
			"-p HOST:CONTAINER adds a DNAT rule to the table ip glassbox (nft list table ip glassbox). Your host port is the one glassbox lab start 9 gave you, kept in the lab's file port.",
			"glassbox run -d --name lab9 -p PORT:80 busybox sh -c 'mkdir /www; echo lab9 > /www/index.html; httpd -f -p 80 -h /www'",
		}},
	{N: 10, Slug: "exec-setns", Title: "exec: setns into a running container",
		Check: checkExec,
		Hints: []string{
			"glassbox exec joins the namespaces and the cgroup of a running container; a process it leaves behind stays in there.",
			"glassbox run -d --name lab10 busybox sleep 3600; glassbox exec lab10 sh -c 'sleep 3600 &'",
		}},
	{N: 11, Slug: "observer-modes", Title: "How the kernel is watched: kprobe, fentry or tracepoint",
		Check: checkObserverMode,
		Hints: []string{
			"glassbox doctor tells what this kernel allows; a trace's header says what a run used.",
			"glassbox trace show ID: the line 'kernel: MODE mode, …'; write MODE into the answer file.",
		}},
	{N: 12, Slug: "broken-config", Title: "Debug a broken config.json from its failure report",
		Start: startBrokenConfig,
		Check: checkBrokenConfig,
		Hints: []string{
			"Run it at a terminal: glassbox run --rm --bundle DIR. The report names the stage, the call, its errno and a hint.",
			"EINVAL from mount(2) says one argument is wrong, not which: the report shows them all. Which of the tmpfs options would tmpfs(5) refuse?",
			"tmpfs takes uid= as a number. Change the /dev/shm mount's uid=nobody to uid=65534 (or drop it), keep the mount, and run the bundle again.",
		}},
	{N: 13, Slug: "seccomp", Title: "Seccomp: a profile that refuses one system call, seen in the trace",
		Start: startSeccomp,
		Check: checkSeccomp,
		Hints: []string{
			"A rule names system calls and an action: {\"names\": [...], \"action\": \"SCMP_ACT_ERRNO\"} refuses them with EPERM. busybox mkdir calls mkdir(2) — or mkdirat(2): name both.",
			"glassbox run --name lab13 --security-opt seccomp=PROFILE busybox mkdir /lab13 — it must fail; glassbox trace show lab13 --full shows the refused call.",
		}},
	{N: 14, Slug: "capabilities", Title: "Capabilities: drop one, and watch the kernel say EPERM",
		Check: checkCapabilities,
		Hints: []string{
			"chroot(2) needs CAP_SYS_CHROOT, which Docker's default set (and glassbox's) keeps. --cap-drop takes it away.",
			"glassbox run --name lab14 --cap-drop SYS_CHROOT busybox chroot / true — it must fail; glassbox trace show lab14 --full shows chroot = -1 EPERM.",
		}},
	{N: 15, Slug: "images", Title: "Image layers: a pull from a registry, and each layer on disk",
		Start: startRegistry,
		Check: checkImages,
		Clean: stopRegistry,
		Hints: []string{
			"glassbox lab start 15 printed your registry's address (it is in the lab's file registry too): glassbox pull ADDRESS/lab15/hello:v1",
			"glassbox image inspect ADDRESS/lab15/hello:v1 lists the layers' diff ids, bottom first; each is a directory under GLASSBOX_ROOT's images/layers/. Which one holds greeting?",
			"glassbox run --name lab15 ADDRESS/lab15/hello:v1 runs the image's own command, which prints /greeting.",
		}},
	{N: 16, Slug: "pid-1-signals", Title: "pid 1 and signals: why a stop can take ten seconds",
		Check: checkPid1Signals,
		Hints: []string{
			"glassbox run -d --name lab16-naive busybox sleep 3600; time glassbox stop -t 3 lab16-naive — then glassbox trace show lab16-naive: the stop's steps.",
			"The kernel delivers a signal to a namespace's pid 1 only if pid 1 handles it (SIGKILL aside). sh's trap installs a handler.",
			`glassbox run -d --name lab16 busybox sh -c 'trap "echo bye; exit 0" TERM; sleep 3600 & wait'; glassbox stop lab16`,
		}},
	{N: 17, Slug: "daemon", Title: "The Docker daemon: one docker run, from the CLI's request to the kernel",
		Check: checkDaemon,
		Hints: []string{
			"In a second terminal: glassbox daemon -H unix://$HOME/glassbox-labs/17-daemon/docker.sock — its log shows each request.",
			"export DOCKER_HOST=unix://$HOME/glassbox-labs/17-daemon/docker.sock; docker run --name lab17 busybox echo hello",
			"glassbox trace show lab17: the start's root span carries the request's method and route; the stages and the kernel's events are beneath it.",
		}},
	{N: 18, Slug: "podman", Title: "An OCI runtime under podman: podman → conmon → glassbox-runc",
		Start: startPodman,
		Check: checkPodman,
		Hints: []string{
			"podman has no busybox on an offline machine: podman load -i ~/glassbox-labs/18-podman/busybox.tar (glassbox save wrote it).",
			"podman --runtime $(command -v glassbox-runc) --cgroup-manager cgroupfs run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 busybox echo lab18",
			"glassbox-runc keeps its containers and traces in /run/glassbox-runc: GLASSBOX_ROOT=/run/glassbox-runc glassbox trace ls",
		}},
	{N: 19, Slug: "runtime-binary", Title: "The runtime's own binary: CVE-2019-5736, against a copy and against glassbox",
		Start: startRuntimeBinary,
		Check: checkRuntimeBinary,
		Hints: []string{
			"glassbox run -d --name lab19 --cap-add SYS_PTRACE -v ~/glassbox-labs/19-runtime-binary/attack.sh:/attack.sh:ro busybox sh /attack.sh",
			"cd ~/glassbox-labs/19-runtime-binary; ./runtime exec.py $(glassbox inspect -f '{{.Pid}}' lab19) echo hi — then glassbox logs lab19, and head -2 runtime.",
			"glassbox exec lab19 true: the attacker catches glassbox-init too. Run it until glassbox logs lab19 says what the kernel answered.",
		}},
	{N: 20, Slug: "chroot", Title: "chroot is not a container: /proc/PID/root, and what pivot_root leaves",
		Start: startChroot,
		Check: checkChroot,
		Hints: []string{
			"~/glassbox-labs/20-chroot/chroot-run starts a shell chrooted into rootfs/. Inside: ls /proc/$PPID/root/ — whose root is that?",
			"Inside chroot-run: cat /proc/$PPID/root/etc/hostname > /escaped (it lands in rootfs/escaped).",
			"glassbox run --name lab20 busybox sh -c 'cat /proc/[0-9]*/root/etc/hostname | sort -u'",
		}},
	{N: 21, Slug: "user-namespaces", Title: "User namespaces: root inside, nobody outside",
		Start: startUserns,
		Check: checkUserns,
		Hints: []string{
			"A user namespace is one more entry in linux.namespaces, {\"type\": \"user\"}, and needs linux.uidMappings and linux.gidMappings: [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}].",
			"glassbox run --name lab21 --bundle ~/glassbox-labs/21-user-namespaces — the program prints id, the uid map, and /bin's owner as the container sees it.",
			"ls -lnd /bin inside shows the owner of a file whose owner (the host's root) has no uid in the map: the kernel's overflow uid.",
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

func startNetwork(e *Env) (string, error) {
	dir := filepath.Join(e.Home, lab5Dir)
	script := filepath.Join(dir, "net.sh")
	if _, err := os.Stat(script); err == nil {
		return "", nil // keep the attendee's work
	}
	return "", writeIn(dir, "net.sh", []byte(networkSkeleton), 0o755)
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

// runTrace is the newest trace of container c's run, if there is one.
func (e *Env) runTrace(c *container.Container) *trace.File {
	all, _ := trace.List(filepath.Join(e.Root, "traces"))
	for _, s := range all {
		if s.Container == c.ID && s.Name == "glassbox run" {
			if f, err := trace.Load(s.Path); err == nil {
				return f
			}
		}
	}
	return nil
}

// traceOf is the root span of the newest trace of container c's run.
func (e *Env) traceOf(c *container.Container) (trace.Span, bool) {
	if f := e.runTrace(c); f != nil {
		return f.Root()
	}
	return trace.Span{}, false
}

func checkOverlay(e *Env) []string {
	c := e.container("lab6")
	if c == nil {
		return []string{"no container named lab6 (run it without --rm, so its writable layer stays)"}
	}
	var missing []string
	if data, err := os.ReadFile(filepath.Join(c.Dir, "upper", "lab6.txt")); err != nil || strings.TrimSpace(string(data)) != "written" {
		missing = append(missing, "lab6's writable layer has no /lab6.txt saying written")
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(c.Dir, "upper", "etc", "group"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		missing = append(missing, "lab6's writable layer has no whiteout for /etc/group (delete it in the container)")
	}
	if _, err := os.Stat(filepath.Join(c.Spec.Root.Path, "etc", "group")); err != nil {
		missing = append(missing, "the image's own /etc/group is gone: the image must never change")
	}
	return missing
}

func checkPids(e *Env) []string {
	c := e.container("lab7")
	if c == nil {
		return []string{"no container named lab7 (without --rm)"}
	}
	r := c.Spec.Linux.Resources
	if r == nil || r.Pids == nil || r.Pids.Limit == nil || *r.Pids.Limit <= 0 || *r.Pids.Limit > 32 {
		return []string{"lab7 has no pids limit of 32 or less"}
	}
	root, ok := e.traceOf(c)
	if peak, _ := strconv.ParseInt(root.Attr("glassbox.usage.pids_peak"), 10, 64); !ok || peak < *r.Pids.Limit {
		return []string{fmt.Sprintf("lab7 never reached its limit of %d processes (peak %s): fork more", *r.Pids.Limit, root.Attr("glassbox.usage.pids_peak"))}
	}
	return nil
}

func checkCPU(e *Env) []string {
	c := e.container("lab8")
	if c == nil {
		return []string{"no container named lab8 (without --rm)"}
	}
	r := c.Spec.Linux.Resources
	if r == nil || r.CPU == nil || r.CPU.Quota == nil || r.CPU.Period == nil || *r.CPU.Quota*2 != int64(*r.CPU.Period) {
		return []string{"lab8 has no CPU quota of half a CPU (--cpus 0.5)"}
	}
	root, ok := e.traceOf(c)
	cpu, _ := strconv.ParseFloat(root.Attr("glassbox.usage.cpu_time_us"), 64)
	wall := c.Finished.Sub(c.Started).Microseconds()
	if !ok || wall < 1e6 || cpu < 0.3*float64(wall) {
		return []string{fmt.Sprintf("lab8 did not keep a CPU busy for a second or more (CPU %.0f ms in %d ms)", cpu/1e3, wall/1000)}
	}
	if cpu > 0.65*float64(wall) {
		return []string{fmt.Sprintf("lab8 used %.0f ms of CPU in %d ms: more than half a CPU?", cpu/1e3, wall/1000)}
	}
	return nil
}

// startPorts picks lab 9's host port: one free now, so that attendees sharing
// a machine do not all ask for the same.
func startPorts(e *Env) (string, error) {
	file := filepath.Join(e.Home, lab9Dir, "port")
	if data, err := os.ReadFile(file); err == nil {
		return "your host port: " + strings.TrimSpace(string(data)), nil // keep the attendee's
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	if err := writeIn(filepath.Dir(file), "port", []byte(port+"\n"), 0o644); err != nil {
		return "", err
	}
	return "your host port: " + port + " (publish it: -p " + port + ":80)", nil
}

func checkPorts(e *Env) []string {
	data, err := os.ReadFile(filepath.Join(e.Home, lab9Dir, "port"))
	port := strings.TrimSpace(string(data))
	if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil {
		return []string{"no host port picked for you yet: glassbox lab start 9"}
	}
	c := e.container("lab9")
	if c == nil || c.Status != container.Running {
		return []string{"no running container named lab9"}
	}
	if !strings.Contains(c.Ports, ":"+port+":80/tcp") && !strings.HasPrefix(c.Ports, port+":80/tcp") {
		return []string{fmt.Sprintf("lab9 publishes %q, not host port %s to its port 80", c.Ports, port)}
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		return []string{"nothing answers on 127.0.0.1:" + port + ": " + err.Error()}
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "lab9" {
		return []string{fmt.Sprintf("127.0.0.1:%s answers %q (HTTP %d), not lab9", port, strings.TrimSpace(string(body)), resp.StatusCode)}
	}
	return nil
}

func checkExec(e *Env) []string {
	c := e.container("lab10")
	if c == nil || c.Status != container.Running || !c.Alive() {
		return []string{"no running container named lab10"}
	}
	pids, _ := (&cgroupsv2.Cgroup{Dirs: c.Cgroups}).Procs()
	for _, pid := range pids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.Pid))
		if pid != c.Pid && strings.TrimSpace(string(comm)) == "sleep" && ns == theirs {
			return nil
		}
	}
	return []string{"lab10's cgroup holds no sleep besides its pid 1: start one with glassbox exec"}
}

func checkObserverMode(e *Env) []string {
	all, _ := trace.List(filepath.Join(e.Root, "traces"))
	mode := ""
	for _, s := range all {
		if f, err := trace.Load(s.Path); err == nil {
			if root, ok := f.Root(); ok && root.Attr("glassbox.observer.mode") != "" {
				mode = root.Attr("glassbox.observer.mode")
				break
			}
		}
	}
	if mode == "" {
		return []string{"no traced run with the kernel observer yet"}
	}
	answer, err := os.ReadFile(filepath.Join(e.Home, lab11Dir, "answer"))
	if err != nil {
		return []string{"no answer yet: the observer's mode of your last traced run, into " + filepath.Join(e.Home, lab11Dir, "answer")}
	}
	if strings.TrimSpace(string(answer)) != mode {
		return []string{fmt.Sprintf("the answer %q is not the mode the trace records", strings.TrimSpace(string(answer)))}
	}
	return nil
}

// writeBundle writes config.json into a lab's directory, unless the attendee
// has one there already: glassbox spec's, over the busybox image, running
// program with sh -c, as edit changes it.
func writeBundle(e *Env, dir, program string, edit func(cfg map[string]any)) error {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return nil // keep the attendee's work
	}
	store, img, err := busybox(e.Root)
	if err != nil {
		return err
	}
	out, code := e.glassbox("spec")
	if code != 0 {
		return fmt.Errorf("glassbox spec: %s", out)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		return err
	}
	cfg["root"] = map[string]any{"path": store.LayerDir(img.Layers[len(img.Layers)-1].DiffID)}
	cfg["process"].(map[string]any)["args"] = []string{"sh", "-c", program}
	edit(cfg)
	data, _ := json.MarshalIndent(cfg, "", "  ")
	return writeIn(dir, "config.json", data, 0o644)
}

// startBrokenConfig writes a bundle whose config.json gives /dev/shm's tmpfs
// an option the kernel refuses (uid= takes a number), and whose program
// checks that /dev/shm is a tmpfs.
func startBrokenConfig(e *Env) (string, error) {
	return "", writeBundle(e, filepath.Join(e.Home, lab12Dir), lab12Program, func(cfg map[string]any) {
		for _, m := range cfg["mounts"].([]any) {
			if m := m.(map[string]any); m["destination"] == "/dev/shm" {
				m["options"] = append(m["options"].([]any), "uid=nobody")
			}
		}
	})
}

func checkBrokenConfig(e *Env) []string {
	dir := filepath.Join(e.Home, lab12Dir)
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return []string{"no bundle yet: glassbox lab start 12"}
	}
	var cfg struct {
		Process struct{ Args []string }
		Mounts  []struct{ Destination, Type string }
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return []string{"config.json is no longer valid JSON: " + err.Error()}
	}
	if len(cfg.Process.Args) != 3 || cfg.Process.Args[2] != lab12Program {
		return []string{"the bundle's process.args changed: fix the config, keep the program"}
	}
	if !slices.ContainsFunc(cfg.Mounts, func(m struct{ Destination, Type string }) bool {
		return m.Destination == "/dev/shm" && m.Type == "tmpfs"
	}) {
		return []string{"the tmpfs on /dev/shm is gone: fix its options, keep the mount"}
	}
	out, code := e.glassbox("run", "--rm", "--bundle", dir)
	if code != 0 || strings.TrimSpace(out) != "lab 12 runs" {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return []string{"the bundle does not run yet: " + lines[0]}
	}
	return nil
}

// A refused system call, as the kernel observer saw it in the newest trace
// of a run of the container named name: the call's line ("mkdir(\"/x\",
// 0777) = -1 EPERM"), if one of the calls named failed with EPERM.
func refusedCall(e *Env, name string, calls ...string) (string, bool) {
	all, _ := trace.List(filepath.Join(e.Root, "traces"))
	for _, s := range all { // newest first
		if s.ContainerName != name || s.Name != "glassbox run" {
			continue
		}
		f, err := trace.Load(s.Path)
		if err != nil {
			return "", false
		}
		for _, sp := range f.Spans() {
			call := sp.Attr("glassbox.kernel.call")
			if slices.Contains(calls, sp.Attr("glassbox.kernel.event")) && strings.HasSuffix(call, "= -1 EPERM") {
				return call, true
			}
		}
		return "", false
	}
	return "", false
}

// The seccomp lab's profile, as the attendee gets it: everything allowed.
const seccompSkeleton = `{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": []
}
`

func startSeccomp(e *Env) (string, error) {
	profile := filepath.Join(e.Home, lab13Dir, "profile.json")
	if _, err := os.Stat(profile); err == nil {
		return "", nil // keep the attendee's work
	}
	return "your profile: " + profile, writeIn(filepath.Dir(profile), "profile.json", []byte(seccompSkeleton), 0o644)
}

func checkSeccomp(e *Env) []string {
	c := e.container("lab13")
	if c == nil {
		return []string{"no container named lab13 (keep its record: no --rm)"}
	}
	var missing []string
	refuses := false
	if sc := c.Spec.Linux.Seccomp; sc != nil {
		for _, rule := range sc.Syscalls {
			if rule.Action == "SCMP_ACT_ERRNO" && (slices.Contains(rule.Names, "mkdir") || slices.Contains(rule.Names, "mkdirat")) {
				refuses = true
			}
		}
	}
	if !refuses {
		missing = append(missing, "lab13's seccomp profile has no SCMP_ACT_ERRNO rule for mkdir or mkdirat")
	}
	if c.ExitCode == 0 {
		missing = append(missing, "lab13's program succeeded: its mkdir was not refused")
	}
	if _, ok := refusedCall(e, "lab13", "mkdir", "mkdirat"); !ok {
		missing = append(missing, "the trace of lab13 shows no mkdir refused with EPERM (glassbox trace show lab13 --full)")
	}
	return missing
}

func checkImages(e *Env) []string {
	_, addr, ok := runningRegistry(e)
	if !ok {
		return []string{"the lab's registry is not running: glassbox lab start 15"}
	}
	ref := addr + "/" + lab15Repository
	store, err := image.Open(e.Root)
	if err != nil {
		return []string{err.Error()}
	}
	img, err := store.Find(ref)
	if err != nil || len(img.Layers) == 0 { // a tag of another image's, put there by hand, may have none
		return []string{"no image " + ref + " in glassbox's store yet: pull it"}
	}
	var missing []string
	top := img.Layers[len(img.Layers)-1].DiffID
	answerFile := filepath.Join(e.Home, lab15Dir, "answer")
	answer, err := os.ReadFile(answerFile)
	hex := strings.TrimPrefix(strings.TrimSpace(string(answer)), "sha256:")
	switch {
	case err != nil:
		missing = append(missing, "no answer yet: the diff id of the layer that holds /greeting, into "+answerFile)
	case len(hex) < 12 || !strings.HasPrefix(strings.TrimPrefix(top, "sha256:"), hex):
		missing = append(missing, fmt.Sprintf("the answer %q is not the diff id of the layer that holds /greeting", strings.TrimSpace(string(answer))))
	}
	if c := e.container("lab15"); c == nil || c.Spec.Annotations[spec.ImageAnnotation] != img.ID || c.Status != container.Exited || c.ExitCode != 0 {
		missing = append(missing, "no container named lab15 that ran the pulled image and exited 0 (no --rm)")
	}
	return missing
}

// stopOf reads the newest trace of a glassbox stop of the container named
// name: whether its init exited on the first signal, and its exit code.
func stopOf(e *Env, name string) (exitedOnSignal bool, code string, ok bool) {
	all, _ := trace.List(filepath.Join(e.Root, "traces"))
	for _, s := range all { // newest first
		if s.ContainerName != name || s.Name != "glassbox stop" {
			continue
		}
		f, err := trace.Load(s.Path)
		if err != nil {
			return false, "", false
		}
		for _, sp := range f.Spans() {
			if exited := sp.Attr("glassbox.exited"); exited != "" { // the wait after the first signal
				root, _ := f.Root()
				return exited == "true", root.Attr("process.exit.code"), true
			}
		}
		return false, "", false
	}
	return false, "", false
}

func checkPid1Signals(e *Env) []string {
	var missing []string
	if exited, code, ok := stopOf(e, "lab16-naive"); !ok || exited || code != "137" {
		missing = append(missing, "no glassbox stop of lab16-naive, whose pid 1 ignored SIGTERM and was killed (137)")
	}
	if exited, code, ok := stopOf(e, "lab16"); !ok || !exited || code != "0" {
		missing = append(missing, "no glassbox stop of lab16, whose pid 1 exited 0 on SIGTERM")
	}
	return missing
}

func checkDaemon(e *Env) []string {
	c := e.container("lab17")
	if c == nil {
		return []string{"no container named lab17 (made by docker run through glassbox's daemon, without --rm)"}
	}
	if c.Status != container.Exited || c.ExitCode != 0 {
		return []string{"lab17 has not run to its end with exit code 0"}
	}
	all, _ := trace.List(filepath.Join(e.Root, "traces"))
	for _, s := range all {
		if s.Container != c.ID || s.Name != "glassbox start" {
			continue
		}
		if f, err := trace.Load(s.Path); err == nil {
			if root, ok := f.Root(); ok && root.Attr("http.route") == "/containers/{id}/start" && root.Attr("glassbox.observer.events") != "0" && root.Attr("glassbox.observer.events") != "" {
				return nil
			}
		}
	}
	return []string{"no trace of lab17 started by an Engine API request (POST /containers/{id}/start) with the kernel's events: was it run with the docker CLI, through glassbox daemon?"}
}

// startPodman saves the busybox image as a tar that podman loads: a machine
// without internet has no other way to give podman an image.
func startPodman(e *Env) (string, error) {
	tar := filepath.Join(e.Home, lab18Dir, "busybox.tar")
	if _, err := os.Stat(tar); err == nil {
		return "", nil
	}
	if out, code := e.glassbox("save", "-o", tar, "busybox"); code != 0 {
		return "", fmt.Errorf("glassbox save busybox (make image builds it): %s", strings.TrimSpace(out))
	}
	return "for podman: podman load -i " + tar, nil
}

func checkPodman(e *Env) []string {
	// glassbox-runc's root is the machine's: only what came after lab start.
	started, err := os.Stat(filepath.Join(e.Home, lab18Dir, "busybox.tar"))
	if err != nil {
		return []string{"the lab is not started: glassbox lab start 18"}
	}
	all, _ := trace.List(filepath.Join(container.OCIRoot, "traces"))
	for _, s := range all {
		if s.Name != "glassbox create" || s.Start.Before(started.ModTime()) {
			continue
		}
		f, err := trace.Load(s.Path)
		if err != nil {
			continue
		}
		root, _ := f.Root()
		if strings.Contains(root.Attr("process.command_args"), "lab18") && root.Attr("glassbox.observer.events") != "" && root.Attr("glassbox.observer.events") != "0" {
			return nil
		}
	}
	return []string{"no trace in " + container.OCIRoot + " of a container created through glassbox-runc whose command says lab18 (podman --runtime glassbox-runc run … busybox echo lab18)"}
}

func checkCapabilities(e *Env) []string {
	c := e.container("lab14")
	if c == nil {
		return []string{"no container named lab14 (keep its record: no --rm)"}
	}
	var missing []string
	if caps := c.Spec.Process.Capabilities; caps == nil || slices.Contains(caps.Bounding, "CAP_SYS_CHROOT") || slices.Contains(caps.Effective, "CAP_SYS_CHROOT") {
		missing = append(missing, "lab14 still has CAP_SYS_CHROOT")
	}
	if _, ok := refusedCall(e, "lab14", "chroot"); !ok {
		missing = append(missing, "the trace of lab14 shows no chroot refused with EPERM (glassbox trace show lab14 --full)")
	}
	return missing
}
