package lab

// Lab 15's registry: go-containerregistry's in-memory registry, served on
// loopback by a glassbox process of its own (glassbox lab registry), which
// lab start 15 leaves running and lab reset 15 stops. It holds one image: the
// busybox image with one more layer on top.

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/glassbox-dev/glassbox/image"
)

// The lab image's repository and tag in the lab's registry, and what its
// own layer adds.
const (
	lab15Repository = "lab15/hello:v1"
	lab15Greeting   = "hello from the layer on top\n"
)

// ServeRegistry serves an empty registry on addr, logging each request to
// stderr, until it is killed.
func ServeRegistry(addr string) error {
	if !loopbackAddr(addr) {
		return fmt.Errorf("the lab's registry listens on 127.0.0.1:PORT only, not %q", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return http.Serve(l, registry.New(registry.Logger(log.New(os.Stderr, "", log.LstdFlags))))
}

// registryFiles: the lab's registry address, its process, its log.
func registryFiles(e *Env) (addr, pid, logFile string) {
	dir := filepath.Join(e.Home, lab15Dir)
	return filepath.Join(dir, "registry"), filepath.Join(dir, "registry.pid"), filepath.Join(dir, "registry.log")
}

// runningRegistry is the address of the lab's registry, if it runs.
func runningRegistry(e *Env) (string, bool) {
	addrFile, _, _ := registryFiles(e)
	data, err := os.ReadFile(addrFile)
	addr := strings.TrimSpace(string(data))
	if err != nil || !loopbackAddr(addr) {
		return "", false
	}
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/v2/")
	if err != nil {
		return "", false
	}
	resp.Body.Close()
	return addr, resp.StatusCode == http.StatusOK
}

// loopbackAddr: 127.0.0.1:PORT, the only address the lab's files may name.
func loopbackAddr(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.ParseUint(port, 10, 16)
	return err == nil && perr == nil && n > 0 && host == "127.0.0.1"
}

// startRegistry starts the lab's registry on a free loopback port, fills it
// with the lab's image, and says where it is.
func startRegistry(e *Env) (string, error) {
	if addr, ok := runningRegistry(e); ok {
		return "your registry: " + addr, nil
	}
	store, err := image.Open(e.Root)
	if err != nil {
		return "", err
	}
	base, err := store.Find("busybox")
	if err != nil {
		return "", fmt.Errorf("lab 15 builds on the busybox image: make image builds it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	addrFile, pidFile, logFile := registryFiles(e)
	logOut, err := os.Create(logFile)
	if err != nil {
		return "", err
	}
	defer logOut.Close()
	cmd := exec.Command(e.Glassbox, "lab", "registry", addr)
	cmd.Stdout, cmd.Stderr = logOut, logOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // it outlives lab start and its terminal
	if err := cmd.Start(); err != nil {
		return "", err
	}
	os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	cmd.Process.Release()
	if err := os.WriteFile(addrFile, []byte(addr+"\n"), 0o644); err != nil {
		return "", err
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok := runningRegistry(e); ok {
			break
		}
		if time.Now().After(deadline) {
			stopRegistry(e)
			return "", fmt.Errorf("the lab's registry did not answer on %s (its log: %s)", addr, logFile)
		}
	}
	img, err := store.Image(base)
	if err == nil {
		img, err = withGreeting(img)
	}
	if err == nil {
		err = pushTo(addr, img)
	}
	if err != nil {
		stopRegistry(e)
		return "", fmt.Errorf("fill the lab's registry: %w", err)
	}
	return "your registry: " + addr + " (its log: " + logFile + ")", nil
}

// withGreeting is img with one more layer, holding /greeting, which the
// image's command prints.
func withGreeting(img v1.Image) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "greeting", Mode: 0o644, Size: int64(len(lab15Greeting)), ModTime: time.Unix(0, 0)})
	io.WriteString(tw, lab15Greeting)
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return nil, err
	}
	now := v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{Created: now, CreatedBy: "glassbox lab start 15: ADD greeting /"}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Created = now
	cfg.Config.Cmd = []string{"cat", "/greeting"}
	return mutate.ConfigFile(img, cfg)
}

func pushTo(addr string, img v1.Image) error {
	ref, err := name.ParseReference(addr + "/" + lab15Repository)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return remote.Write(ref, img, remote.WithContext(ctx))
}

// stopRegistry kills the lab's registry, if the process the pid file names
// is still it.
func stopRegistry(e *Env) {
	_, pidFile, _ := registryFiles(e)
	data, err := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || perr != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("lab\x00registry\x00")) {
		return // gone, and the pid maybe another's now
	}
	syscall.Kill(pid, syscall.SIGKILL)
}
