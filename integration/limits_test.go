package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
)

// These tests check that limits bite, not only that files were written. They
// run with the v1 driver on a hybrid host and with the v2 driver in the VM.

func cgroupMode(t *testing.T) cgroupsv2.Mode {
	mode, err := cgroupsv2.Detect()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("GLASSBOX_VMTEST") == "1" && mode != cgroupsv2.Unified {
		t.Fatalf("the VM's stock kernel must be on cgroup v2, found %s", mode)
	}
	return mode
}

// A memory hog over --memory is OOM-killed: exit 137, one line naming the
// limit, and the trace holds the OOM killer's event and the counter read.
func TestMemoryLimitOOM(t *testing.T) {
	mode := cgroupMode(t)
	e := newEnv(t)
	// dd allocates its 64 MiB block and fills it from /dev/zero.
	r := e.run("", e.runArgs([]string{"-m", "32m"}, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")...)
	if r.code != 137 {
		t.Fatalf("exit %d, want 137 (SIGKILL by the OOM killer)\nstderr: %s", r.code, r.stderr)
	}
	if want := "glassbox: container was killed by the OOM killer (memory limit 32 MiB)"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not say %q", r.stderr, want)
	}
	e.noState()
	f := e.loadTrace()
	root, _ := f.Root()
	if got := root.Attr("glassbox.usage.oom_kills"); got != "1" {
		t.Errorf("glassbox.usage.oom_kills = %q, want 1", got)
	}
	counter := "read memory.oom_control: oom_kill 1"
	if mode == cgroupsv2.Unified {
		counter = "read memory.events: oom_kill 1"
	}
	var victim, read bool
	for _, s := range f.Spans() {
		victim = victim || strings.HasPrefix(s.Attr("glassbox.kernel.call"), "OOM killer: mark_victim pid ")
		read = read || s.Label() == counter
	}
	if !victim {
		t.Error("no OOM killer kernel event (oom/mark_victim) in the trace")
	}
	if !read {
		t.Errorf("no step %q in the trace", counter)
	}
	peak, _ := strconv.ParseInt(root.Attr("glassbox.usage.memory_peak_bytes"), 10, 64)
	if peak < 16<<20 || peak > 33<<20 {
		t.Errorf("peak memory %d bytes: want about the 32 MiB limit", peak)
	}

	// Detached, the run that the shim resumes reads the counter from the
	// container's recorded cgroups: inspect and ps tell it.
	id := e.ok("run", "-d", "--rootfs", rootfs, "-m", "32m", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	if code := e.ok("wait", id); code != "137" {
		t.Errorf("wait: exit %s, want 137", code)
	}
	if got := e.ok("inspect", "-f", "{{.OOMKilled}}", id); got != "true" {
		t.Errorf("inspect: OOMKilled %s, want true", got)
	}
	e.ok("rm", id)
}

// A fork loop stops at --pids-limit: the shell and 19 children make 20.
func TestPidsLimit(t *testing.T) {
	cgroupMode(t)
	e := newEnv(t)
	r := e.run("", e.runArgs([]string{"--pids-limit", "20"}, "sh", "-c",
		`i=0; while [ $i -lt 50 ]; do sleep 30 & i=$((i+1)); echo $i; done`)...)
	lines := strings.Fields(r.stdout)
	if len(lines) == 0 {
		t.Fatalf("no output; exit %d: %s", r.code, r.stderr)
	}
	forks, _ := strconv.Atoi(lines[len(lines)-1])
	if forks != 19 || !strings.Contains(r.stderr, "can't fork") {
		t.Errorf("%d forks before the limit (want 19), exit %d, stderr %q", forks, r.code, r.stderr)
	}
	e.noState()
}

// --cpus 0.5 lets a busy loop have half a CPU: about 1 s of CPU time in 2 s.
func TestCPUQuota(t *testing.T) {
	cgroupMode(t)
	e := newEnv(t)
	r := e.run("", e.runArgs([]string{"--cpus", "0.5"}, "sh", "-c", `while :; do :; done & sleep 2; kill $!`)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	root, _ := e.loadTrace().Root()
	us, _ := strconv.ParseFloat(root.Attr("glassbox.usage.cpu_time_us"), 64)
	if share := us / 2e6; share < 0.35 || share > 0.65 {
		t.Errorf("the busy loop had %.2f of a CPU over 2 s; --cpus 0.5 should hold it near 0.5", share)
	}
	t.Logf("CPU time %.0f ms in 2 s", us/1000)
}

// --cpuset-cpus pins every process of the container.
func TestCpuset(t *testing.T) {
	cgroupMode(t)
	e := newEnv(t)
	out := e.container([]string{"--cpuset-cpus", "0"}, "grep", "Cpus_allowed_list", "/proc/self/status")
	if f := strings.Fields(out); len(f) != 2 || f[1] != "0" {
		t.Errorf("inside the container: %q, want CPU 0 only", out)
	}
}

// The container sees its own limits through its cgroup namespace, in the
// files of the driver in use.
func TestLimitsInsideTheContainer(t *testing.T) {
	mode := cgroupMode(t)
	e := newEnv(t)
	files := "/sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/pids.max"
	want := "67108864 0 150000 100000 39 50" // --memory-swap = --memory: no swap; shares 1024 → weight 39
	if mode != cgroupsv2.Unified {
		files = "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/pids/pids.max"
		want = "67108864 67108864 150000 100000 1024 50"
	}
	out := e.container([]string{"-m", "64m", "--memory-swap", "64m", "--cpus", "1.5", "--cpu-shares", "1024", "--pids-limit", "50"}, "sh", "-c", "cat "+files)
	if got := strings.Join(strings.Fields(out), " "); got != want {
		t.Errorf("limits seen inside: %q, want %q", got, want)
	}
}

// Bad values fail before anything is created, with one line naming the flag.
func TestLimitFlagErrors(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"-m", "12x"}, `--memory "12x": expected a size like 64m`},
		{[]string{"-m", "1m"}, "the minimum memory limit is 6m"},
		{[]string{"--memory-swap", "64m"}, "--memory-swap needs --memory"},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, "smaller than --memory"},
		{[]string{"--cpus", "0"}, "expected a positive number of CPUs"},
		{[]string{"--cpus", "999"}, "this machine has"},
		{[]string{"--cpu-shares", "1"}, "expected 2 to 262144"},
		{[]string{"--cpuset-cpus", "999"}, "CPU 999 is not online"},
		{[]string{"--cpuset-cpus", "1-0"}, "expected CPU numbers and ranges"},
	} {
		r := e.run("", e.runArgs(c.flags, "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want 125 and one line with %q", c.flags, r.code, r.stderr, c.want)
		}
	}
	e.noState()
}

// --cgroup-parent puts the container's cgroup under the given one.
func TestCgroupParent(t *testing.T) {
	cgroupMode(t)
	e := newEnv(t)
	t.Cleanup(func() { // the parent is the user's: glassbox leaves it, like Docker
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/glassbox-test-parent")
		for _, d := range append(dirs, "/sys/fs/cgroup/glassbox-test-parent") {
			os.Remove(d)
		}
	})
	r := e.run("", e.runArgs([]string{"--cgroup-parent", "/glassbox-test-parent"}, "true")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	root, _ := e.loadTrace().Root()
	paths := root.Attr("glassbox.cgroup.paths")
	if !strings.Contains(paths, "/glassbox-test-parent/") {
		t.Errorf("cgroup paths %s are not under --cgroup-parent", paths)
	}
	if cgroupMode(t) != cgroupsv2.Unified {
		return
	}
	// v2: a relative parent is beneath the parent of glassbox's own cgroup,
	// which holds glassbox and so cannot hand controllers down.
	own := "/sys/fs/cgroup/glassbox-test-own"
	if err := os.Mkdir(own, 0o755); err != nil && !errors.Is(err, fs.ErrExist) { // an interrupted run's
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(own); os.Remove("/sys/fs/cgroup/glassbox-test-relative") })
	cmd := exec.Command("sh", append([]string{"-c", `echo $$ > ` + own + `/cgroup.procs && exec "$@"`, "sh", glassbox},
		e.runArgs([]string{"--cgroup-parent", "glassbox-test-relative", "--memory", "64m"}, "true")...)...)
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("a relative --cgroup-parent with a memory limit, from a glassbox in a cgroup of its own: %v %s", err, out)
	}
}

// A bundle's linux.resources takes the flags' path; a limit the kernel
// refuses fails the cgroup stage in one line and leaves nothing behind.
func TestBundleLimits(t *testing.T) {
	mode := cgroupMode(t)
	e := newEnv(t)
	limited := writeBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["resources"] = map[string]any{"pids": map[string]any{"limit": 7}}
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"}
	})
	if r := e.run("", "run", "--rm", "--bundle", limited); r.code != 0 || strings.TrimSpace(r.stdout) != "7" {
		t.Errorf("pids.max inside: exit %d, %q (stderr %q), want 7", r.code, r.stdout, r.stderr)
	}
	refused := writeBundle(t, func(s map[string]any) {
		// cpuset.mems names a memory node this machine does not have.
		s["linux"].(map[string]any)["resources"] = map[string]any{"cpu": map[string]any{"mems": "63"}}
	})
	r := e.run("", "run", "--rm", "--bundle", refused)
	want := `stage cgroup: write(cpuset.mems, "63"): `
	if r.code != 125 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("exit %d, stderr %q; want 125 and one line with %q (%s)", r.code, r.stderr, want, mode)
	}
	e.noState()
}

// Device rules: the Docker-style default denies every device but the ones the
// container is given, and a bundle's own rules come first (the last match
// wins). The kernel answers EPERM at open(2) or mknod(2) — v1 devices lines
// on this host, the BPF program on v2 in the VM.
func TestDeviceRules(t *testing.T) {
	cgroupMode(t)
	e := newEnv(t)
	out := e.container(nil, "sh", "-c", `echo x >/dev/null && head -c1 /dev/zero | wc -c
mknod /tmp/kmsg c 1 11 2>&1; mknod /tmp/null c 1 3 && echo mknod-null-ok`)
	if !strings.Contains(out, "1\n") || !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "mknod-null-ok") {
		t.Errorf("default rules: /dev/null and /dev/zero must work, mknod of 1:11 must be refused, of 1:3 allowed; got %q", out)
	}
	bundle := writeBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["resources"] = map[string]any{"devices": []map[string]any{
			{"allow": false, "access": "rwm"},
			{"allow": true, "type": "c", "major": 1, "minor": 11, "access": "m"}, // create /dev/kmsg, not open it
		}}
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "mknod /tmp/kmsg c 1 11 && echo made; head -c1 /tmp/kmsg 2>&1"}
	})
	r := e.run("", "run", "--rm", "--bundle", bundle)
	if r.code == 0 || !strings.Contains(r.stdout, "made") || !strings.Contains(r.stdout, "Operation not permitted") {
		t.Errorf("allow m only: want mknod to work and open to fail; exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	e.noState()
}

// linux.sysctl: namespaced keys are written in the container's own copy;
// a key that would change the host is refused before anything starts.
func TestSysctl(t *testing.T) {
	e := newEnv(t)
	bundle := writeBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["sysctl"] = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
		s["process"].(map[string]any)["args"] = []string{"sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; echo 0 > /proc/sys/net/ipv4/ip_forward"}
	})
	hostForward, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	r := e.run("", "run", "--rm", "--bundle", bundle)
	if r.code == 0 || !strings.HasPrefix(r.stdout, "1\n1234\n") || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("want the values set and /proc/sys read-only afterwards; exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(hostForward) {
		t.Errorf("the host's ip_forward changed: %q → %q", hostForward, now)
	}
	refused := writeBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["sysctl"] = map[string]string{"kernel.pid_max": "4096"}
	})
	r = e.run("", "run", "--rm", "--bundle", refused)
	if r.code != 125 || !strings.Contains(r.stderr, `linux.sysctl "kernel.pid_max"`) {
		t.Errorf("kernel.pid_max: exit %d, %q; want a refusal naming it", r.code, r.stderr)
	}
	e.noState()
}

// linux.seccomp: the kernel runs the compiled filter on every call of the
// container; the Spec's errno comes back, argument conditions hold, and the
// filter survives execve into children.
func TestSeccomp(t *testing.T) {
	e := newEnv(t)
	bundle := writeBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["seccomp"] = map[string]any{
			"defaultAction": "SCMP_ACT_ALLOW",
			"syscalls": []map[string]any{
				{"names": []string{"mkdir", "mkdirat"}, "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
				// fchmodat(dirfd, path, mode): refuse only mode 0777
				{"names": []string{"fchmodat", "chmod"}, "action": "SCMP_ACT_ERRNO",
					"args": []map[string]any{{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}}},
				{"names": []string{"fchmodat"}, "action": "SCMP_ACT_ERRNO",
					"args": []map[string]any{{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}}},
			},
		}
		s["process"].(map[string]any)["args"] = []string{"sh", "-c",
			"grep ^Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; touch /tmp/f; chmod 0755 /tmp/f && echo chmod-755-ok; chmod 0777 /tmp/f 2>&1; true"}
	})
	r := e.run("", "run", "--rm", "--bundle", bundle)
	for _, want := range []string{"Seccomp:\t2", "mkdir: can't create directory '/tmp/d': Permission denied", "chmod-755-ok", "chmod: /tmp/f: Operation not permitted"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("want %q in %q (stderr %q)", want, r.stdout, r.stderr)
		}
	}
	refused := writeBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["seccomp"] = map[string]any{"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/x.sock"}
	})
	if r := e.run("", "oci", "--root", e.root, "create", "--bundle", refused, "s1"); r.code == 0 || !strings.Contains(r.stderr, "linux.seccomp.listenerPath") {
		t.Errorf("a seccomp listener: exit %d, %q; want a refusal naming linux.seccomp.listenerPath", r.code, r.stderr)
	}
	e.noState()
}

// linux.resources.blockIO: a read throttle on a block device is written to
// the cgroup (blkio.throttle.* on v1, io.max on v2) and holds: 3 MiB read
// with O_DIRECT (no page cache) at 1 MiB/s take two seconds or more. The
// device is a loop device over a file of the test's, given to the container
// (linux.devices, and a cgroup rule that lets it read it), the same on any
// host. A weight this kernel cannot apply (no I/O scheduler with weights)
// is a warning, as in Docker.
func TestBlockIO(t *testing.T) {
	mode := cgroupMode(t)
	e := newEnv(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(data, bytes.Repeat([]byte("x"), 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", "--read-only", data).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	var st unix.Stat_t
	if err := unix.Stat(loop, &st); err != nil {
		t.Fatal(err)
	}
	major, minor := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	dev := fmt.Sprintf("%d:%d", major, minor)
	bundle := writeBundle(t, func(s map[string]any) {
		linux := s["linux"].(map[string]any)
		linux["devices"] = []map[string]any{{"path": "/dev/data", "type": "b", "major": major, "minor": minor, "fileMode": 0o440}}
		rules := linux["resources"].(map[string]any)["devices"].([]any)
		linux["resources"] = map[string]any{
			"devices": append(rules, map[string]any{"allow": true, "type": "b", "major": major, "minor": minor, "access": "r"}),
			"blockIO": map[string]any{
				"weight":                500,
				"throttleReadBpsDevice": []map[string]any{{"major": major, "minor": minor, "rate": 1 << 20}},
			}}
		s["process"].(map[string]any)["args"] = []string{"sh", "-c",
			"cat /sys/fs/cgroup/io.max 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device; " +
				"read t0 _ </proc/uptime; dd if=/dev/data of=/dev/null bs=256k iflag=direct 2>/dev/null; read t1 _ </proc/uptime; echo read 3 MiB from $t0 to $t1"}
	})
	r := e.run("", "run", "--rm", "--bundle", bundle)
	want := dev + " 1048576"
	if mode == cgroupsv2.Unified {
		want = dev + " rbps=1048576"
	}
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("want %q inside; exit %d, %q %q", want, r.code, r.stdout, r.stderr)
	}
	took := regexp.MustCompile(`read 3 MiB from ([0-9.]+) to ([0-9.]+)`).FindStringSubmatch(r.stdout) // /proc/uptime's seconds
	if took == nil {
		t.Errorf("no time for the read:\n%s%s", r.stdout, r.stderr)
	} else if t0, t1 := must(strconv.ParseFloat(took[1], 64)), must(strconv.ParseFloat(took[2], 64)); t1-t0 < 2 {
		t.Errorf("3 MiB read at a throttle of 1 MiB/s in %.2f s: the throttle does not hold", t1-t0)
	}
	if r.stderr != "" && !strings.Contains(r.stderr, "no I/O weights") {
		t.Errorf("stderr: %q", r.stderr)
	}
	e.noState()
}

// linux.personality, process.ioPriority and process.scheduler survive execve
// into the program.
func TestPersonalityAndIOPriority(t *testing.T) {
	e := newEnv(t)
	bundle := writeBundle(t, func(s map[string]any) {
		s["linux"].(map[string]any)["personality"] = map[string]any{"domain": "LINUX32"}
		p := s["process"].(map[string]any)
		p["ioPriority"] = map[string]any{"class": "IOPRIO_CLASS_IDLE", "priority": 0}
		p["scheduler"] = map[string]any{"policy": "SCHED_BATCH", "nice": 7}
		// /proc/self/stat fields 19 and 41: nice and policy (SCHED_BATCH is 3).
		p["args"] = []string{"sh", "-c", "uname -m; ionice -p $$; cut -d' ' -f19,41 /proc/self/stat"}
	})
	r := e.run("", "run", "--rm", "--bundle", bundle)
	machine := map[string]string{"amd64": "i686", "arm64": "armv8l"}[runtime.GOARCH]
	if r.code != 0 || !strings.HasPrefix(r.stdout, machine+"\n") || !strings.Contains(r.stdout, "idle") || !strings.HasSuffix(r.stdout, "\n7 3\n") {
		t.Errorf("want %s, the idle class, nice 7 and SCHED_BATCH; exit %d, %q %q", machine, r.code, r.stdout, r.stderr)
	}
	bad := writeBundle(t, func(s map[string]any) {
		s["process"].(map[string]any)["ioPriority"] = map[string]any{"class": "IOPRIO_CLASS_BE", "priority": 9}
	})
	if r := e.run("", "run", "--rm", "--bundle", bad); r.code != 125 || !strings.Contains(r.stderr, "process.ioPriority.priority 9") {
		t.Errorf("priority 9: exit %d %q", r.code, r.stderr)
	}
	e.noState()
}

// The init is born in its cgroups: on v2 by CLONE_INTO_CGROUP, on v1 because
// the thread that clones it moved itself into them first — and then back.
// A glassbox thread left in a container's cgroup would be counted, frozen and
// signalled with the container (cgroup.procs lists a process with any of its
// threads there), so every cgroup of the container holds the container's
// processes only, and every thread of glassbox is in glassbox's own cgroups.
// The same for an exec'd process.
func TestBornInItsCgroups(t *testing.T) {
	e := newEnv(t)
	cmd, _ := startGlassbox(t, e, e.runArgs(nil, "sh", "-c", "echo ready; sleep 60")...)
	id := filepath.Base(e.onlyContainer())
	defer func() { e.run("", "kill", id); cmd.Wait() }()
	rec := e.record(id)
	if r := e.run("", "exec", "-d", id, "sleep", "61"); r.code != 0 {
		t.Fatalf("exec -d: exit %d %s", r.code, r.stderr)
	}
	own, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
	threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", cmd.Process.Pid))
	for _, task := range threads {
		if cg, _ := os.ReadFile(filepath.Join(task, "cgroup")); string(cg) != string(own) {
			t.Errorf("glassbox's thread %s is not in glassbox's cgroups:\n%s\nwant\n%s", filepath.Base(task), cg, own)
		}
	}
	ours := map[string]bool{} // the container's processes, by host pid
	for _, cmdline := range []string{"sleep 60", "sleep 61"} {
		pids := processesRunning(cmdline)
		if len(pids) != 1 {
			t.Fatalf("%q: pids %v", cmdline, pids)
		}
		ours[pids[0]] = true
	}
	for _, dir := range rec.Cgroups {
		list := "cgroup.procs"
		if _, err := os.Stat(filepath.Join(dir, "tasks")); err == nil {
			list = "tasks" // v1: every thread
		}
		data, err := os.ReadFile(filepath.Join(dir, list))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, id := range strings.Fields(string(data)) {
			seen[id] = true
			comm, _ := os.ReadFile("/proc/" + id + "/comm")
			if !ours[id] && strings.TrimSpace(string(comm)) != "sh" {
				t.Errorf("%s lists %s (%s), not a process of the container", filepath.Join(dir, list), id, strings.TrimSpace(string(comm)))
			}
		}
		for pid := range ours {
			if !seen[pid] {
				t.Errorf("%s lacks the container's process %s", filepath.Join(dir, list), pid)
			}
		}
	}
}
