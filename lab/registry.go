package lab

// Lab 15's registry: go-containerregistry's in-memory registry, served on
// loopback by a glassbox process of its own (glassbox lab registry), which
// lab start 15 leaves running and lab reset 15 stops. The process fills it
// before it listens — the busybox image with one more layer on top — and then
// serves it read-only: nobody else on the machine can push to it or replace
// the image before the attendee pulls it.

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
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
)

// The lab image's repository and tag in the lab's registry, and what its
// own layer adds.
const (
	lab15Repository = "lab15/hello:v1"
	lab15Greeting   = "hello from the layer on top\n"
)

// ServeRegistry fills a registry with the lab's image, built from the
// busybox image in the store at root, and serves it read-only on addr
// (127.0.0.1:PORT), logging each request to stderr, until it is killed.
func ServeRegistry(root, addr string) error {
	if !loopbackAddr(addr) {
		return fmt.Errorf("the lab's registry listens on 127.0.0.1:PORT only, not %q", addr)
	}
	store, base, err := busybox(root)
	if err != nil {
		return err
	}
	img, err := store.Image(base)
	if err == nil {
		img, err = withGreeting(img)
	}
	if err != nil {
		return err
	}
	reg := registry.New(registry.Logger(log.New(os.Stderr, "", log.LstdFlags)))
	ref, err := name.ParseReference(addr + "/" + lab15Repository)
	if err != nil {
		return err
	}
	// Pushed through the handler itself, before anyone can reach it.
	if err := remote.Write(ref, img, remote.WithTransport(inProcess{reg})); err != nil {
		return fmt.Errorf("fill the lab's registry: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return http.Serve(l, readOnly(reg))
}

// inProcess is an http.RoundTripper that hands each request to a handler.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	in := r.Clone(r.Context()) // as a server receives it: a body, maybe empty
	if in.Body == nil {
		in.Body = http.NoBody
	}
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, in)
	resp := w.Result()
	resp.Request = r // a client resolves a Location against it
	return resp, nil
}

// readOnly answers only what a pull asks: GET and HEAD.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "the lab's registry is read-only", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// registryRecord is the root-owned record of an attendee's registry, "PID
// ADDRESS", in the state root beside their progress: what is killed and
// pulled from, whatever the files in the lab's directory say.
func registryRecord(e *Env) string {
	return filepath.Join(e.Root, "labs", e.Attendee.Name+".registry")
}

// runningRegistry is the process and address of the attendee's registry, if
// it runs: the recorded pid is a glassbox serving the recorded address.
func runningRegistry(e *Env) (pid int, addr string, ok bool) {
	data, err := os.ReadFile(registryRecord(e))
	f := strings.Fields(string(data))
	if err != nil || len(f) != 2 || !loopbackAddr(f[1]) {
		return 0, "", false
	}
	pid, err = strconv.Atoi(f[0])
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	exe, xerr := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	self, serr := os.Stat(e.Glassbox)
	if err != nil || pid <= 1 || xerr != nil || serr != nil || !os.SameFile(exe, self) ||
		!bytes.HasSuffix(cmdline, []byte("lab\x00registry\x00"+f[1]+"\x00")) {
		return 0, "", false
	}
	return pid, f[1], true
}

// loopbackAddr: 127.0.0.1:PORT, the only address the lab's registry takes.
func loopbackAddr(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.ParseUint(port, 10, 16)
	return err == nil && perr == nil && n > 0 && host == "127.0.0.1"
}

// startRegistry starts the attendee's registry on a free loopback port, and
// says where it is (also in the lab's file registry, for the attendee).
func startRegistry(e *Env) (string, error) {
	dir := filepath.Join(e.Home, lab15Dir)
	if _, addr, ok := runningRegistry(e); ok {
		return "your registry: " + addr, writeIn(dir, "registry", []byte(addr+"\n"), 0o644)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	logOut, err := createIn(dir, "registry.log", 0o644)
	if err != nil {
		return "", err
	}
	defer logOut.Close()
	cmd := exec.Command(e.Glassbox, "lab", "registry", addr)
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.Root)
	cmd.Stdout, cmd.Stderr = logOut, logOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // it outlives lab start and its terminal
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func(err error) (string, error) {
		cmd.Process.Kill()
		<-exited
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(registryRecord(e)), 0o755); err != nil {
		return stop(err)
	}
	if err := os.WriteFile(registryRecord(e), fmt.Appendf(nil, "%d %s\n", cmd.Process.Pid, addr), 0o644); err != nil {
		return stop(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			os.Remove(registryRecord(e))
			return "", fmt.Errorf("the lab's registry ended before it served (its log: %s)", logOut.Name())
		default:
		}
		if resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			os.Remove(registryRecord(e))
			return stop(fmt.Errorf("the lab's registry did not answer on %s (its log: %s)", addr, logOut.Name()))
		}
	}
	if err := writeIn(dir, "registry", []byte(addr+"\n"), 0o644); err != nil {
		stopRegistry(e)
		return "", err
	}
	return "your registry: " + addr + " (its log: " + logOut.Name() + ")", nil
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

// stopRegistry kills the attendee's registry, if it runs, and forgets it.
func stopRegistry(e *Env) {
	if pid, _, ok := runningRegistry(e); ok {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := os.Remove(registryRecord(e)); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "glassbox: lab 15:", err)
	}
}
