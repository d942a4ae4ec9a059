package integration

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkTCPThroughput sends 1 GiB over TCP from a container on the
// default bridge to the host (veth, bridge, routing, conntrack) and the same
// from a host process over loopback, with one static sender writing 1 MiB at
// a time, five times each, and reports both median rates and their ratio.
func BenchmarkTCPThroughput(b *testing.B) {
	const mib = 1024
	e := newEnv(b)
	bin := b.TempDir()
	src := filepath.Join(bin, "send.go")
	os.WriteFile(src, []byte(senderSource), 0o644)
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "send"), src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the sender: %v %s", err, out)
	}
	// The bridge exists once a container has run on it.
	if out, err := e.cmd(e.runArgs(nil, "true")...).CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	gw := gateway(b)
	// One transfer each varied 2.4-5.0 GiB/s on loopback from one run to
	// the next: five of each, alternating, and their medians.
	var containers, loopbacks []time.Duration
	for range 5 {
		containers = append(containers, receive(b, gw, mib, func(addr string) *exec.Cmd {
			return e.cmd(e.runArgs([]string{"-v", bin + ":/bench:ro"}, "/bench/send", addr, fmt.Sprint(mib))...)
		}))
		loopbacks = append(loopbacks, receive(b, "127.0.0.1", mib, func(addr string) *exec.Cmd {
			return exec.Command(filepath.Join(bin, "send"), addr, fmt.Sprint(mib))
		}))
	}
	slices.Sort(containers)
	slices.Sort(loopbacks)
	container, loopback := containers[len(containers)/2], loopbacks[len(loopbacks)/2]
	b.ReportMetric(float64(mib)/container.Seconds(), "container→host_MiB/s")
	b.ReportMetric(float64(mib)/loopback.Seconds(), "loopback_MiB/s")
	b.ReportMetric(loopback.Seconds()/container.Seconds(), "ratio")
}

// receive listens on ip, starts the sender, and times from the first byte to
// the last of mib MiB.
func receive(b *testing.B, ip string, mib int64, sender func(addr string) *exec.Cmd) time.Duration {
	l, err := net.Listen("tcp4", ip+":0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	cmd := sender(l.Addr().String())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	n, _ := c.Read(buf)
	start := time.Now()
	m, _ := io.CopyBuffer(io.Discard, c, buf)
	elapsed := time.Since(start)
	c.Close()
	if err := cmd.Wait(); err != nil || int64(n)+m != mib<<20 {
		b.Fatalf("%s: %d bytes of %d MiB, the sender: %v", ip, int64(n)+m, mib, err)
	}
	b.Logf("%s: %d bytes in %s", ip, int64(n)+m, elapsed)
	return elapsed
}

func (e *env) cmd(args ...string) *exec.Cmd {
	c := exec.Command(glassbox, args...)
	c.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
	return c
}

// senderSource writes N MiB of zeros to a TCP address, 1 MiB per write.
const senderSource = `package main

import (
	"net"
	"os"
	"strconv"
)

func main() {
	c, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		panic(err)
	}
	n, _ := strconv.Atoi(os.Args[2])
	buf := make([]byte, 1<<20)
	for i := 0; i < n; i++ {
		if _, err := c.Write(buf); err != nil {
			panic(err)
		}
	}
	c.Close()
}
`
