package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestPid1AndOnlyOwnProcesses(t *testing.T) {
	e := newEnv(t)
	out := e.container(nil, "sh", "-c", "echo $$; ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "1" {
		t.Errorf("the container's process is pid %q, want 1", lines[0])
	}
	// sh (1), the pipeline's ls, grep, sort, tr: nothing of the host's.
	for _, pid := range strings.Fields(lines[1]) {
		if len(pid) > 2 {
			t.Errorf("the container sees pid %s: host processes are visible (%s)", pid, lines[1])
		}
	}
}

func TestHostnameIsolated(t *testing.T) {
	e := newEnv(t)
	hostBefore, _ := os.Hostname()
	out := strings.TrimSpace(e.container(nil, "hostname"))
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(out) {
		t.Errorf("default hostname %q, want the 12-digit short container id", out)
	}
	if got := strings.TrimSpace(e.container([]string{"-h", "box1"}, "sh", "-c", "hostname; echo $HOSTNAME")); got != "box1\nbox1" {
		t.Errorf("-h box1: hostname and $HOSTNAME are %q", got)
	}
	if hostAfter, _ := os.Hostname(); hostAfter != hostBefore {
		t.Errorf("host hostname changed from %q to %q", hostBefore, hostAfter)
	}
}

func TestMountTable(t *testing.T) {
	e := newEnv(t)
	out := e.container(nil, "cat", "/proc/self/mountinfo")
	mounts := map[string]string{} // mount point -> fstype
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" {
				mounts[f[4]] = f[i+1]
			}
		}
	}
	want := map[string]string{
		"/": "overlay", "/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts",
		"/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/sys": "sysfs",
	}
	for mp, fstype := range want {
		if mounts[mp] != fstype {
			t.Errorf("mount %s: fstype %q, want %q", mp, mounts[mp], fstype)
		}
	}
	for mp := range mounts {
		if strings.HasPrefix(mp, "/work") || strings.HasPrefix(mp, e.root) || strings.HasPrefix(mp, "/mnt") {
			t.Errorf("host mount %s is visible in the container", mp)
		}
	}
}

func TestDevAndProc(t *testing.T) {
	e := newEnv(t)
	out := e.container(nil, "sh", "-c", `
		for d in null zero full random urandom tty; do stat -c "%n %F %t:%T" /dev/$d; done
		for l in ptmx fd stdin stdout stderr; do echo "/dev/$l -> $(readlink /dev/$l)"; done
		echo "timer_list: $(stat -c %t:%T /proc/timer_list)"
		echo x > /proc/sys/kernel/domainname 2>/dev/null && echo "proc/sys writable" || echo "proc/sys read-only"
		touch /sys/x 2>/dev/null && echo "sys writable" || echo "sys read-only"
		head -c 4 /dev/zero | od -An -tx1
	`)
	for _, want := range []string{
		"/dev/null character special file 1:3", "/dev/zero character special file 1:5",
		"/dev/full character special file 1:7", "/dev/random character special file 1:8",
		"/dev/urandom character special file 1:9", "/dev/tty character special file 5:0",
		"/dev/ptmx -> pts/ptmx", "/dev/fd -> /proc/self/fd", "/dev/stdin -> /proc/self/fd/0",
		"/dev/stdout -> /proc/self/fd/1", "/dev/stderr -> /proc/self/fd/2",
		"timer_list: 1:3", // masked: /dev/null is bound over it
		"proc/sys read-only", "sys read-only", "00 00 00 00",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestRootfsSourceUnchanged(t *testing.T) {
	e := newEnv(t)
	before := treeHash(t, rootfs)
	e.container(nil, "sh", "-c", "echo new > /newfile; rm /etc/motd; echo x >> /etc/passwd; mkdir -p /var/data")
	if after := treeHash(t, rootfs); after != before {
		t.Error("the rootfs source directory changed after the container wrote to its /")
	}
}

// treeHash hashes names, modes, link targets and contents of a directory tree.
func treeHash(t *testing.T, dir string) string {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		io.WriteString(h, p+fi.Mode().String())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			io.WriteString(h, target)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			io.Copy(h, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestEnvWorkdirUser(t *testing.T) {
	e := newEnv(t)
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=1\nOVERRIDE=file\n"), 0o644)
	t.Setenv("FROM_HOST", "host-value")
	out := e.container([]string{"-e", "A=1", "-e", "FROM_HOST", "-e", "OVERRIDE=flag", "--env-file", envFile, "-w", "/work/dir", "-u", "glassbox"},
		"sh", "-c", `echo "A=$A FROM_HOST=$FROM_HOST FROM_FILE=$FROM_FILE OVERRIDE=$OVERRIDE HOME=$HOME"; pwd; id`)
	for _, want := range []string{
		"A=1 FROM_HOST=host-value FROM_FILE=1 OVERRIDE=flag HOME=/home/glassbox",
		"/work/dir",
		"uid=1000(glassbox) gid=1000(glassbox) groups=50(staff)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Supplementary groups come from /etc/group membership only; busybox's id
	// prints no groups= when there are none.
	if got := strings.TrimSpace(e.container([]string{"-u", "1234:50"}, "id")); got != "uid=1234 gid=50(staff)" {
		t.Errorf("-u 1234:50: id says %q", got)
	}
	if got := strings.TrimSpace(e.container([]string{"-u", "nobody:staff"}, "id")); got != "uid=65534(nobody) gid=50(staff)" {
		t.Errorf("-u nobody:staff: id says %q", got)
	}
}

func TestCapabilitiesAndNoNewPrivs(t *testing.T) {
	e := newEnv(t)
	out := e.container(nil, "grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status")
	// Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
	// SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
	for _, want := range []string{"CapBnd:\t00000000a80425fb", "CapEff:\t00000000a80425fb", "CapPrm:\t00000000a80425fb", "NoNewPrivs:\t1"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out = e.container([]string{"-u", "1000"}, "grep", "-E", "^Cap(Eff|Prm|Bnd)", "/proc/self/status")
	for _, want := range []string{"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "CapBnd:\t00000000a80425fb"} {
		if !strings.Contains(out, want) {
			t.Errorf("non-root user: missing %q in:\n%s", want, out)
		}
	}
}

func TestNoDescriptorLeaks(t *testing.T) {
	e := newEnv(t)
	// ls runs as a child of pid 1 (the trailing `true` stops busybox sh from
	// exec'ing ls in its place); pid 1's descriptors are what glassbox handed over.
	out := strings.Fields(e.container(nil, "sh", "-c", "ls /proc/1/fd; true"))
	if strings.Join(out, " ") != "0 1 2" {
		t.Errorf("the container's pid 1 has descriptors %v, want only 0 1 2", out)
	}
}

func TestStdinPipedThrough(t *testing.T) {
	e := newEnv(t)
	input := strings.Repeat("line of input\n", 2000)
	r := e.run(input, e.runArgs([]string{"-i"}, "sha256sum")...)
	sum := sha256.Sum256([]byte(input))
	if r.code != 0 || !strings.HasPrefix(r.stdout, hex.EncodeToString(sum[:])) {
		t.Errorf("stdin did not arrive whole with -i: exit %d, %q (stderr %q)", r.code, r.stdout, r.stderr)
	}
	// Without -i, as in Docker, the container's stdin is /dev/null.
	if r := e.run(input, e.runArgs(nil, "wc", "-c")...); strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("without -i the container read %q bytes of stdin", r.stdout)
	}
	r = e.run("", e.runArgs(nil, "sh", "-c", "echo out; echo err >&2")...)
	if r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("stdout %q stderr %q, want out/err kept apart", r.stdout, r.stderr)
	}
}

// --network none: a network namespace with only lo, up.
func TestNetworkNone(t *testing.T) {
	e := newEnv(t)
	out := e.container([]string{"--network", "none"}, "sh", "-c", "ls /sys/class/net; ip addr show lo; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok")
	if !strings.HasPrefix(out, "lo\n") {
		t.Errorf("network interfaces: want only lo, got:\n%s", out)
	}
	for _, want := range []string{"inet 127.0.0.1/8", "UP", "ping-ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestCgroupNamespace(t *testing.T) {
	e := newEnv(t)
	out := e.container(nil, "sh", "-c", "readlink /proc/self/ns/cgroup; cat /proc/self/cgroup")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if self, _ := os.Readlink("/proc/self/ns/cgroup"); lines[0] == self || !strings.HasPrefix(lines[0], "cgroup:[") {
		t.Errorf("the container's cgroup namespace is %q, the host's %s: want one of its own", lines[0], self)
	}
	if len(lines) < 2 {
		t.Fatalf("the container's /proc/self/cgroup is empty:\n%s", out)
	}
	for _, line := range lines[1:] {
		if parts := strings.SplitN(line, ":", 3); len(parts) != 3 || parts[2] != "/" {
			t.Errorf("inside its cgroup namespace the container's cgroup should be /, got %q", line)
		}
	}
}
