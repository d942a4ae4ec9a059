package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	gbnet "github.com/glassbox-dev/glassbox/netns"
)

// Traffic in these tests goes only to loopback, to the containers they start,
// and to a network namespace the test makes to play an external host.

// server starts a container that runs setup, says ready, and waits for
// SIGTERM (pid 1 gets a signal only if it handles it: the trap does).
func server(t *testing.T, e *env, flags []string, setup string) (stop func()) {
	t.Helper()
	cmd, _ := startGlassbox(t, e, e.runArgs(flags, "sh", "-c", `trap "exit 0" TERM; `+setup+`; echo ready; sleep 1000 & wait $!`)...)
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if code := exitOf(t, cmd); code != 0 {
			t.Errorf("server container exited %d", code)
		}
	}
}

const webSetup = `mkdir -p /www && echo hello-from-web > /www/index.html && httpd -p 80 -h /www`

// Two containers on the default bridge: addresses on one subnet, ping, TCP
// both ways, and names through /etc/hosts.
func TestBridgeNetwork(t *testing.T) {
	e := newEnv(t)
	stop := server(t, e, []string{"--name", "web"}, webSetup)
	defer stop()
	out := e.runOK(nil, "sh", "-c", `ip -4 addr show eth0 | grep -o 'inet [0-9./]*'; ip route | grep default; `+
		`ping -c1 -W2 web >/dev/null && echo ping-ok; wget -qO- http://web/; echo data | nc -w1 web 80 >/dev/null && echo tcp-ok`)
	for _, want := range []string{"inet 172.", "/16", "default via 172.", "ping-ok", "hello-from-web", "tcp-ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// Containers on a user network find each other by name, in both directions:
// the first one's /etc/hosts learns of the second.
// --network-alias: another name others on the network resolve.
func TestNetworkAlias(t *testing.T) {
	e := newEnv(t)
	stop := server(t, e, []string{"--name", "web", "--network-alias", "svc"}, webSetup)
	defer stop()
	if out := e.runOK(nil, "wget", "-qO-", "http://svc/"); out != "hello-from-web\n" {
		t.Errorf("wget http://svc/: %q", out)
	}
}

func TestUserNetwork(t *testing.T) {
	e := newEnv(t)
	if r := e.run("", "network", "create", "--subnet", "10.123.7.0/24", "gbtest"); r.code != 0 {
		t.Fatalf("network create: exit %d: %s", r.code, r.stderr)
	}
	defer func() {
		if r := e.run("", "network", "rm", "gbtest"); r.code != 0 {
			t.Errorf("network rm: %s", r.stderr)
		}
	}()
	if r := e.run("", "network", "create", "gbtest"); r.code != 125 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("a second create: exit %d %q", r.code, r.stderr)
	}
	stop := server(t, e, []string{"--network", "gbtest", "--name", "first"}, webSetup)
	out := e.runOK([]string{"--network", "gbtest", "--name", "second"}, "sh", "-c",
		`ip -4 addr show eth0 | grep -o 'inet [0-9.]*'; wget -qO- http://first/; grep first /etc/hosts`)
	if !strings.Contains(out, "inet 10.123.7.") || !strings.Contains(out, "hello-from-web") {
		t.Errorf("on gbtest, second sees:\n%s", out)
	}
	if r := e.run("", "network", "rm", "gbtest"); r.code != 125 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("rm of a network in use: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("", "network", "ls"); !strings.Contains(r.stdout, "10.123.7.0/24") {
		t.Errorf("network ls: %s", r.stdout)
	}
	stop()
	// The other direction: a server started second is resolved by the first.
	stop = server(t, e, []string{"--network", "gbtest", "--name", "b"}, webSetup)
	defer stop()
	out = e.runOK([]string{"--network", "gbtest", "--name", "a"}, "sh", "-c", `wget -qO- http://b/`)
	if !strings.Contains(out, "hello-from-web") {
		t.Errorf("a could not reach b by name: %q", out)
	}
}

// The hosts file of a running container is updated as others join.
func TestHostsFileFollowsTheNetwork(t *testing.T) {
	e := newEnv(t)
	cmd, rest := startGlassbox(t, e, e.runArgs([]string{"--name", "early"}, "sh", "-c",
		`echo ready; for i in $(seq 100); do grep -q late /etc/hosts && break; sleep 0.05; done; grep late /etc/hosts`)...)
	e.runOK([]string{"--name", "late"}, "sleep", "0.3")
	if code := exitOf(t, cmd); code != 0 {
		t.Errorf("early never saw late in its /etc/hosts (exit %d)", code)
	}
	if out := rest(); !strings.Contains(out, "late") {
		t.Errorf("early's /etc/hosts: %q", out)
	}
}

func TestNetworkHost(t *testing.T) {
	e := newEnv(t)
	out := e.container([]string{"--network", "host"}, "sh", "-c", "readlink /proc/self/ns/net; ls -1 /sys/class/net")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if self, _ := os.Readlink("/proc/self/ns/net"); lines[0] != self {
		t.Errorf("--network host: the container is in %s, the host in %s", lines[0], self)
	}
	var host []string
	links, _ := netlink.LinkList()
	for _, l := range links {
		host = append(host, l.Attrs().Name)
	}
	slices.Sort(host)
	if inside := lines[1:]; !slices.Equal(inside, host) {
		t.Errorf("--network host: the container sees the interfaces %v, the host has %v", inside, host)
	}
}

// container:<name> shares the other container's network namespace: same
// eth0, same address, its localhost.
func TestNetworkContainer(t *testing.T) {
	e := newEnv(t)
	stop := server(t, e, []string{"--name", "pod"}, webSetup)
	defer stop()
	out := e.runOK([]string{"--network", "container:pod"}, "sh", "-c", `ip -4 addr show eth0 | grep -o 'inet [0-9.]*'; wget -qO- http://127.0.0.1/`)
	if !strings.Contains(out, "hello-from-web") || !strings.Contains(out, "inet 172.") {
		t.Errorf("container:pod sees:\n%s", out)
	}
	if r := e.run("", e.runArgs([]string{"--network", "container:nosuch"}, "true")...); r.code != 125 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("container:nosuch: exit %d %q", r.code, r.stderr)
	}
}

// A published port answers on 127.0.0.1 and on the bridge's address, from
// the host; a second container cannot publish it again.
func TestPublish(t *testing.T) {
	e := newEnv(t)
	port := freePort(t)
	stop := server(t, e, []string{"-p", fmt.Sprintf("%d:80", port)}, webSetup)
	defer stop()
	for _, host := range []string{"127.0.0.1", gateway(t)} {
		if body := httpGet(t, fmt.Sprintf("http://%s:%d/", host, port)); body != "hello-from-web\n" {
			t.Errorf("%s:%d answered %q", host, port, body)
		}
	}
	r := e.run("", e.runArgs([]string{"-p", fmt.Sprintf("%d:80", port)}, "true")...)
	if r.code != 125 || !strings.Contains(r.stderr, "already published by container") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("a second -p %d: exit %d %q", port, r.code, r.stderr)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bound := l.Addr().(*net.TCPAddr).Port
	r = e.run("", e.runArgs([]string{"-p", fmt.Sprintf("127.0.0.1:%d:80", bound)}, "true")...)
	if r.code != 125 || !strings.Contains(r.stderr, "in use on the host") {
		t.Errorf("-p on a bound port: exit %d %q", r.code, r.stderr)
	}
	// -p 80: the kernel picks the host port; the trace says which.
	cmd, _ := startGlassbox(t, e, e.runArgs([]string{"-p", "127.0.0.1::80"}, "sh", "-c",
		`trap "exit 0" TERM; `+webSetup+`; echo ready; sleep 1000 & wait $!`)...)
	var published string
	for deadline := time.Now().Add(5 * time.Second); published == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, p := range strings.Split(leasedPorts(e.root), ",") {
			if strings.HasPrefix(p, "127.0.0.1:") {
				published = p
			}
		}
	}
	if host, _, ok := strings.Cut(published, ":80/tcp"); !ok || !strings.HasPrefix(host, "127.0.0.1:") {
		t.Errorf("ephemeral port: leases say %q", published)
	} else if body := httpGet(t, "http://"+host+"/"); body != "hello-from-web\n" {
		t.Errorf("%s answered %q", host, body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	exitOf(t, cmd)
	for _, bad := range []string{"0:80", "80:70000", "1-3:80-81", "80/sctp", "x:1:2"} {
		if r := e.run("", e.runArgs([]string{"-p", bad}, "true")...); r.code != 125 || !strings.Contains(r.stderr, "-p ") {
			t.Errorf("-p %s: exit %d %q", bad, r.code, r.stderr)
		}
	}
}

// udpEcho answers each datagram to :$GLASSBOX_TEST_PORT with "echo: " and
// the datagram (busybox's nc here has no -u).
func udpEcho() int {
	conn, err := net.ListenPacket("udp4", ":"+os.Getenv("GLASSBOX_TEST_PORT"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("ready")
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return 1
		}
		conn.WriteTo(append([]byte("echo: "), buf[:n]...), from)
	}
}

// Every way to a published port: a TCP port range, from another container,
// from the container itself through a host address (hairpin), from another
// network namespace through the host's address on it (the prerouting path a
// remote client takes), and UDP.
func TestPublishedPortsFromEverywhere(t *testing.T) {
	e := newEnv(t)
	tcp, udp := freePort(t), freePort(t)
	ports := fmt.Sprintf("%d-%d:80-81", tcp, tcp+1)
	stop := server(t, e, []string{"--name", "web", "-p", ports, "-p", fmt.Sprintf("%d:5353/udp", udp),
		"-v", testProgram(t) + ":/echo:ro", "-e", "GLASSBOX_TEST_ROLE=udp-echo", "-e", "GLASSBOX_TEST_PORT=5353"},
		webSetup+` && httpd -p 81 -h /www && { /echo >/dev/null & }`)
	defer stop()
	gw := gateway(t)
	for _, port := range []int{tcp, tcp + 1} {
		if body := httpGet(t, fmt.Sprintf("http://%s:%d/", gw, port)); body != "hello-from-web\n" {
			t.Errorf("host → %s:%d (of %s): %q", gw, port, ports, body)
		}
	}
	url := fmt.Sprintf("http://%s:%d/", gw, tcp)
	// (busybox's wget -T crashes on a refused connection: timeout(1) instead)
	if out := e.runOK(nil, "timeout", "5", "wget", "-qO-", url); out != "hello-from-web\n" {
		t.Errorf("another container → %s: %q", url, out)
	}
	if r := e.run("", "exec", "web", "timeout", "5", "wget", "-qO-", url); r.stdout != "hello-from-web\n" {
		t.Errorf("the container itself → %s (hairpin): exit %d %q %s", url, r.code, r.stdout, r.stderr)
	}
	ext, cleanup := externalHost(t, "198.51.100.1/24", "198.51.100.2/24")
	defer cleanup()
	if body := inNetns(t, ext, func() (string, error) {
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("198.51.100.1:%d", tcp), 3*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		reply, err := io.ReadAll(c)
		return string(reply), err
	}); !strings.HasSuffix(body, "hello-from-web\n") {
		t.Errorf("another network namespace → 198.51.100.1:%d: %q", tcp, body)
	}
	var answer string
	for range 20 { // the echo takes a moment to listen; a datagram before that is lost
		if answer = udpAsk(t, fmt.Sprintf("%s:%d", gw, udp), "ping"); answer != "" {
			break
		}
	}
	if answer != "echo: ping" {
		t.Errorf("host → %s:%d/udp: %q", gw, udp, answer)
	}
}

// inNetns runs f on a thread in network namespace ns: the sockets it makes
// are that namespace's, and stay in it.
func inNetns[T any](t *testing.T, ns netns.NsHandle, f func() (T, error)) T {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, _ := netns.Get()
	defer orig.Close()
	must0(t, netns.Set(ns))
	defer netns.Set(orig)
	out, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// udpAsk sends one datagram and returns the answer that comes within 250 ms.
func udpAsk(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(msg))
	c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
	buf := make([]byte, 1500)
	n, _ := c.Read(buf)
	return string(buf[:n])
}

// Outbound NAT: a network namespace made here plays an external host behind
// a veth; a container's connection reaches it from the host's address.
func TestOutboundMasquerade(t *testing.T) {
	e := newEnv(t)
	ext, cleanup := externalHost(t, "198.51.100.1/24", "198.51.100.2/24")
	defer cleanup()
	l := listenIn(t, ext, "198.51.100.2:7000")
	defer l.Close()
	from := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			from <- err.Error()
			return
		}
		from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	e.container(nil, "sh", "-c", "echo hi | nc -w2 198.51.100.2 7000")
	select {
	case ip := <-from:
		if ip != "198.51.100.1" {
			t.Errorf("the external host saw the connection from %s, want the host's 198.51.100.1 (masqueraded)", ip)
		}
	case <-time.After(5 * time.Second):
		t.Error("the external host saw no connection")
	}
}

// The MTU (netns/mtu.go): a connection from a container to its host uses
// segments larger than any Ethernet frame, as over loopback; one to another
// machine (a namespace behind a veth that would take any size plays it) is
// sized for the host's own way out, the interface of its default route.
func TestNetworkMTU(t *testing.T) {
	e := newEnv(t)
	e.runOK(nil, "true") // the bridge exists once a container has run on it
	// Its MTU stays once its containers are gone (a bridge whose MTU was
	// never set falls back to 1500 when its last port goes). A veth goes
	// with its namespace, in a kernel workqueue: wait for the bridge to have
	// no ports, unless other tests' containers keep some.
	br := must(netlink.LinkByName("glassbox0"))
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		links, _ := netlink.LinkList()
		if !slices.ContainsFunc(links, func(l netlink.Link) bool { return l.Attrs().MasterIndex == br.Attrs().Index }) {
			break
		}
	}
	if br = must(netlink.LinkByName("glassbox0")); br.Attrs().MTU != 65535 {
		t.Errorf("glassbox0's MTU after its container is gone: %d, want 65535", br.Attrs().MTU)
	}
	ext, cleanup := externalHost(t, "198.51.100.1/24", "198.51.100.2/24")
	defer cleanup()
	uplink := 1500
	out, err := exec.Command("ip", "-4", "route", "show", "default").Output()
	if err != nil {
		t.Fatalf("ip route show default: %v", err)
	}
	if f := strings.Fields(string(out)); slices.Contains(f, "dev") {
		mtu, err := os.ReadFile("/sys/class/net/" + f[slices.Index(f, "dev")+1] + "/mtu")
		if err != nil {
			t.Fatal(err)
		}
		uplink = must(strconv.Atoi(strings.TrimSpace(string(mtu))))
	}
	host := must(net.Listen("tcp4", gateway(t)+":0"))
	defer host.Close()
	away := listenIn(t, ext, "198.51.100.2:0")
	defer away.Close()
	for _, c := range []struct {
		where    string
		listener net.Listener
		ok       func(mss int) bool
		want     string
	}{
		{"the host", host, func(mss int) bool { return mss > 1500 }, "> 1500"},
		{"another machine", away, func(mss int) bool { return mss > 500 && mss <= uplink-40 }, fmt.Sprintf("<= %d (the host's uplink MTU %d less headers)", uplink-40, uplink)},
	} {
		mss := make(chan int, 1)
		go func() {
			conn, err := c.listener.Accept()
			if err != nil {
				mss <- 0
				return
			}
			defer conn.Close()
			raw, _ := conn.(*net.TCPConn).SyscallConn()
			var info *unix.TCPInfo
			raw.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
			if err != nil {
				mss <- 0
				return
			}
			// What this end sends: the smaller of its own route's MSS and
			// the one the container advertised, which its route set.
			mss <- int(info.Snd_mss)
		}()
		addr := c.listener.Addr().(*net.TCPAddr)
		e.container(nil, "sh", "-c", fmt.Sprintf("echo hi | nc -w2 %s %d", addr.IP, addr.Port))
		select {
		case got := <-mss:
			if !c.ok(got) {
				t.Errorf("a connection from a container to %s: segments of %d bytes, want %s", c.where, got, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s saw no connection", c.where)
		}
	}
}

// 20 containers alive at once get 20 distinct addresses: each writes its
// address to a shared volume and waits until all 20 have.
func TestConcurrentAddresses(t *testing.T) {
	e := newEnv(t)
	const n = 20
	shared := t.TempDir()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(glassbox, e.runArgs([]string{"-v", shared + ":/shared"}, "sh", "-c",
				`ip=$(ip -4 addr show eth0 | grep -o 'inet [0-9.]*' | cut -d' ' -f2); touch /shared/$ip.$HOSTNAME; `+
					`for i in $(seq 200); do [ $(ls /shared | wc -l) -ge 20 ] && exit 0; sleep 0.05; done; exit 1`)...)
			cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("run %d: %v %s", i, err, out)
			}
		}()
	}
	wg.Wait()
	entries, _ := os.ReadDir(shared)
	ips := map[string]bool{}
	for _, d := range entries {
		ips[d.Name()[:strings.LastIndexByte(d.Name(), '.')]] = true // <address>.<hostname>
	}
	if len(entries) != n || len(ips) != n {
		var names []string
		for _, d := range entries {
			names = append(names, d.Name())
		}
		t.Errorf("%d containers, %d distinct addresses: %v", len(entries), len(ips), names)
	}
}

// leasedPorts lists the ports published by the containers of a state root.
func leasedPorts(root string) string {
	var out []string
	for _, l := range leasesUnder(root) {
		out = append(out, gbnet.FormatPorts(l.Ports))
	}
	return strings.Join(out, ",")
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// gateway is the default bridge's address.
func gateway(t testing.TB) string {
	br, err := netlink.LinkByName("glassbox0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := netlink.AddrList(br, netlink.FAMILY_V4)
	if len(addrs) == 0 {
		t.Fatal("glassbox0 has no address")
	}
	return addrs[0].IP.String()
}

// httpGet fetches a URL from a container's server, retrying for a moment
// while the server comes up.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	for deadline := time.Now().Add(3 * time.Second); errors.Is(err, syscall.ECONNREFUSED) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		resp, err = c.Get(url)
	}
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// runOK runs a container that must exit 0 while others (servers) run, and
// returns its output.
func (e *env) runOK(flags []string, cmd ...string) string {
	e.t.Helper()
	r := e.run("", e.runArgs(flags, cmd...)...)
	if r.code != 0 {
		e.t.Fatalf("glassbox run %v %v: exit %d\nstdout: %s\nstderr: %s", flags, cmd, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// externalHost makes a network namespace joined to the host by a veth:
// hostAddr on the host end, extAddr inside, with a route back to the host.
func externalHost(t *testing.T, hostAddr, extAddr string) (netns.NsHandle, func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, _ := netns.Get()
	defer orig.Close()
	ext, err := netns.New() // also switches this thread into it
	if err != nil {
		t.Fatal(err)
	}
	netns.Set(orig)
	// Both ends take any size a veth can carry: what limits a container's
	// packets to it is the container's route (TestNetworkMTU).
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tstext0", MTU: 65535}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ext)), PeerMTU: 65535}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	cleanup := func() {
		netlink.LinkDel(veth)
		ext.Close()
	}
	host, _ := netlink.ParseAddr(hostAddr)
	must0(t, netlink.AddrAdd(veth, host))
	must0(t, netlink.LinkSetUp(veth))
	h, err := netlink.NewHandleAt(ext, unix.NETLINK_ROUTE) // only rtnetlink: stock kernels may lack XFRM
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	in, _ := h.LinkByName("eth0")
	addr, _ := netlink.ParseAddr(extAddr)
	must0(t, h.AddrAdd(in, addr))
	must0(t, h.LinkSetUp(in))
	return ext, cleanup
}

// listenIn opens a TCP listener inside a network namespace.
func listenIn(t *testing.T, ns netns.NsHandle, addr string) net.Listener {
	t.Helper()
	return inNetns(t, ns, func() (net.Listener, error) { return net.Listen("tcp4", addr) })
}

func must0(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
