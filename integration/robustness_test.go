package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// gc, ps, rm and starting containers, all at once for a while: no run
// fails, gc takes no healthy container for a leftover, nothing leaks.
func TestGCAlongsideRunsAndRemoves(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	done := make(chan struct{})
	var loops sync.WaitGroup
	var mu sync.Mutex
	var gcSaid []string
	loop := func(args ...string) {
		loops.Add(1)
		go func() {
			defer loops.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				out, err := e.cmd(args...).CombinedOutput()
				mu.Lock()
				if err != nil {
					t.Errorf("%v while containers start and stop: %v %s", args, err, out)
				}
				for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					if args[0] == "gc" && line != "" && !strings.HasSuffix(line, "old trace files") {
						gcSaid = append(gcSaid, line)
					}
				}
				mu.Unlock()
			}
		}()
	}
	loop("gc")
	loop("gc")
	loop("ps", "-a")
	const workers, rounds = 8, 3
	var runs sync.WaitGroup
	for w := range workers {
		runs.Add(1)
		go func() {
			defer runs.Done()
			for i := range rounds {
				name := fmt.Sprintf("stress-%d-%d", w, i)
				for _, args := range [][]string{
					{"run", "-d", "--name", name, "busybox", "sleep", "300"},
					{"run", "--rm", "busybox", "true"},
					{"run", "--name", name + "-kept", "busybox", "true"}, // exited and kept: gc must leave it
					{"rm", "-f", name},
					{"rm", name + "-kept"},
				} {
					if out, err := e.cmd(args...).CombinedOutput(); err != nil {
						t.Errorf("%v alongside gc: %v %s", args, err, out)
					}
				}
			}
		}()
	}
	runs.Wait()
	close(done)
	loops.Wait()
	if len(gcSaid) > 0 {
		t.Errorf("gc found leftovers while nothing was killed:\n%s", strings.Join(gcSaid, "\n"))
	}
	t.Logf("%d runs, %d removals alongside gc and ps loops", workers*rounds*3, workers*rounds*2)
	e.noState()
}

// glassbox run SIGKILLed at random moments, from before its state directory
// exists to after the program started: its container dies with it, and gc leaves the
// host as it was (the leak checks of newEnv: mounts, cgroups, veths, leases,
// NAT rules), with no process and no state left.
func TestKilledRunsLeaveNothingAfterGC(t *testing.T) {
	e := newEnv(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	const kills = 12
	var delays []time.Duration
	for i := range kills {
		window := 600 // ms; a third of the kills land in the first 20, where the state directory is made
		if i%3 == 0 {
			window = 20
		}
		delay := time.Duration(rng.IntN(window)) * time.Millisecond
		delays = append(delays, delay)
		cmd := e.cmd(e.runArgs([]string{"-p", "80"}, "sleep", "31415")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	t.Logf("seed %d: killed at %v", seed, delays)
	r := e.run("", "gc")
	if r.code != 0 {
		t.Errorf("gc: exit %d: %s", r.code, r.stderr)
	}
	t.Logf("gc:\n%s", r.stdout)
	e.noState()
	// The bridge is the host's, like docker0: gc leaves it (another root's
	// containers may be on it).
	if _, err := netlink.LinkByName("glassbox0"); err != nil {
		t.Errorf("gc removed the default bridge: %v", err)
	}
	var left []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if left = processesRunning("sleep 31415"); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("containers outlived their killed glassbox: pids %v", left)
		for _, pid := range left {
			pid, _ := strconv.Atoi(pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// processesRunning lists the pids whose command line is cmdline.
func processesRunning(cmdline string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		if strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") == cmdline {
			pids = append(pids, filepath.Base(d))
		}
	}
	return pids
}

// A thousand mounts: config.json and the mount stage's steps outgrow one
// packet of the sync socket, and still arrive.
func TestThousandMounts(t *testing.T) {
	e := newEnv(t)
	var flags []string
	for i := range 1000 {
		flags = append(flags, "--tmpfs", fmt.Sprintf("/m/%d", i))
	}
	out := e.container(flags, "sh", "-c", "grep -c ' /m/' /proc/self/mountinfo")
	if strings.TrimSpace(out) != "1000" {
		t.Errorf("the container sees %q tmpfs mounts under /m, want 1000", out)
	}
}

// A state root with no room left, or too little for the trace: one line of
// error at most, a run that succeeds or fails cleanly, and after gc no
// temporary file in the traces.
func TestFullStateRoot(t *testing.T) {
	e := newEnv(t)
	if err := unix.Mount("tmpfs", e.root, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(e.root, unix.MNT_DETACH) })
	filler := filepath.Join(e.root, "filler")
	for _, room := range []int64{0, 4 << 10, 16 << 10, 64 << 10, 256 << 10} {
		fill(t, filler, room)
		r := e.run("", e.runArgs(nil, "sh", "-c", "echo hello")...)
		if r.code != 0 && r.code != 125 || strings.Count(r.stderr, "\n") > 1 {
			t.Errorf("%d bytes free: exit %d, stderr %q; want success or one line of error", room, r.code, r.stderr)
		}
		if r.code == 0 && r.stdout != "hello\n" {
			t.Errorf("%d bytes free: stdout %q", room, r.stdout)
		}
		t.Logf("%d bytes free: exit %d %s", room, r.code, strings.TrimSpace(r.stderr))
		e.noState()
	}
	os.Remove(filler)
	if r := e.run("", "gc"); r.code != 0 {
		t.Errorf("gc: exit %d %s", r.code, r.stderr)
	}
	if tmps, _ := filepath.Glob(filepath.Join(e.root, "traces", "*.tmp")); len(tmps) > 0 {
		t.Errorf("gc left temporary trace files: %v", tmps)
	}
}

// fill writes path until the file system has at most room bytes left.
func fill(t *testing.T, path string, room int64) {
	t.Helper()
	os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	if n := int64(st.Bavail)*st.Bsize - room; n > 0 {
		f.Write(make([]byte, n)) // ENOSPC at the end is the point
	}
}

// Hostile numbers, ports and names: one line each, naming what is wrong,
// before anything exists (and before any lookup: no DNS, no pull).
func TestHostileInputsOneLine(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{e.runArgs([]string{"-m", "99999999999g"}, "true"), `--memory "99999999999g": more than the largest size, 8 EiB`},
		{e.runArgs([]string{"-m", "8m", "--memory-swap", "18446744073709551617"}, "true"), "more than the largest size"},
		{e.runArgs([]string{"--cpus", "NaN"}, "true"), "expected a positive number of CPUs"},
		{e.runArgs([]string{"--cpus", "Inf"}, "true"), "expected a positive number of CPUs"},
		{e.runArgs([]string{"--pids-limit", "99999999999999999999"}, "true"), "invalid argument"},
		{e.runArgs([]string{"-p", "18190:80", "-p", "18190:81"}, "true"), "host port 18190/tcp is published twice"},
		{e.runArgs([]string{"--otlp-endpoint", "not a url"}, "true"), `--otlp-endpoint "not a url": expected a collector URL`},
		{[]string{"run", "-d", "--otlp-endpoint", "http://h:99999", "--rootfs", rootfs, "true"}, "port 99999: expected 1-65535"},
		{[]string{"run", "--rm", "../../../etc", "true"}, `image reference "../../../etc"`},
		{[]string{"pull", "../../../etc"}, `image reference "../../../etc"`},
		{[]string{"run", "--rm", "Busybox", "true"}, `image reference "Busybox"`},
		{[]string{"stop", "-t", "-2", "x"}, "-t -2: expected seconds to wait"},
	} {
		r := e.run("", c.args...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 125 and one line with %q", c.args, r.code, r.stderr, c.want)
		}
	}
	e.noState()
}

// The kernel probes are the machine's: trace off, from any state root,
// refuses while a traced run of another root watches them, and says what it
// detached.
func TestTraceOffSpareWatchingRuns(t *testing.T) {
	e, other := newEnv(t), &env{t: t, root: t.TempDir()}
	cmd, _ := startGlassbox(t, e, e.runArgs(nil, "sh", "-c", "echo ready; sleep 60")...)
	defer func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait(); e.run("", "gc") }()
	r := other.run("", "trace", "off")
	if r.code != 125 || !strings.Contains(r.stderr, "1 traced run(s) on this machine, of any state root, watch the kernel probes") {
		t.Errorf("trace off while a run watches: exit %d %q", r.code, r.stderr)
	}
	if !strings.Contains(e.run("", "doctor").stdout, "pinned at /sys/fs/bpf/glassbox") {
		t.Error("trace off detached the probes it refused to")
	}
	r = other.run("", "trace", "off", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "detached the machine's kernel probes (shared by every state root)") {
		t.Errorf("trace off --force: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// Cgroups the container made beneath its own (its cgroup namespace lets it)
// go with it: rmdir of a cgroup with children is EBUSY, and the teardown
// used to give up there, leaving both behind.
func TestNestedCgroupsRemoved(t *testing.T) {
	e := newEnv(t)
	cmd, _ := startGlassbox(t, e, e.runArgs(nil, "sh", "-c", "echo ready; sleep 60")...)
	id := filepath.Base(e.onlyContainer())
	for _, cg := range e.record(id).Cgroups {
		if err := os.MkdirAll(filepath.Join(cg, "nested", "deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.run("", "kill", id); r.code != 0 {
		t.Fatalf("kill: exit %d %s", r.code, r.stderr)
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 137 {
		t.Errorf("exit %d, want 137 (SIGKILL) with a clean teardown; stderr: %s", code, cmd.Stderr)
	}
	e.noState()
}
