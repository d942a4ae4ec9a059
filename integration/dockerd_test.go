package integration

// glassbox's daemon beside the real one: Debian's dockerd (docker.io), on a
// socket and state of the test's own, with no bridge and no iptables. The
// same requests go to both, and the answers must agree: status codes, the
// shape of every JSON answer (each key both give has one JSON type, and
// every top-level key dockerd gives, glassbox gives), and the bytes of the
// multiplexed log stream.
//
// Left out, where dockerd 20.10 is the one that is off: a create without an
// image (it makes one; 400 here) and an unpause of a running container (500
// there; 409 here, as newer dockerd answers).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerdRef is a running dockerd, the reference.
type dockerdRef struct {
	socket string
	cmd    *exec.Cmd
	log    bytes.Buffer
}

// startDockerd starts Debian's dockerd, or skips when it is not installed or
// cannot run here. Its containers go under the test's own cgroup on a v1
// host (where processes must not leave it), under its own on v2.
func startDockerd(t *testing.T) *dockerdRef {
	t.Helper()
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		t.Skip("dockerd is not installed (.ci/run installs Debian's docker.io)")
	}
	dir := t.TempDir()
	d := &dockerdRef{socket: filepath.Join(dir, "docker.sock")}
	args := []string{"--iptables=false", "--ip6tables=false", "--bridge=none", "--userland-proxy=false",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "pid"),
		"-H", "unix://" + d.socket}
	parent := ownMemoryCgroup() + "/dockerd-ref"
	removeCgroups := cgroupsMadeFor(parent)
	args = append(args, "--cgroup-parent", parent)
	// The runc shim of the containerd dockerd starts keeps its sockets in
	// /run/containerd/s whatever dockerd's roots are (TestMain removes it if
	// the tests made it).
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Its containers first, then itself and the containerd it started.
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- d.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		exec.Command("umount", "-R", filepath.Join(dir, "data")).Run()
		exec.Command("umount", "-R", filepath.Join(dir, "exec")).Run()
		removeCgroups()
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("unix", d.socket); err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) || d.cmd.ProcessState != nil {
			t.Skipf("dockerd did not start here:\n%s", d.log.String())
		}
	}
}

// cgroupsMadeFor notes which directories of path (a cgroup path, the same in
// every hierarchy) are missing now, and gives what removes path's subtree and
// them again: runc makes the whole path in every hierarchy.
func cgroupsMadeFor(path string) (remove func()) {
	hierarchies := []string{"/sys/fs/cgroup"} // v2 alone
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		hierarchies = nil
		entries, _ := os.ReadDir("/sys/fs/cgroup")
		for _, e := range entries {
			if e.IsDir() {
				hierarchies = append(hierarchies, filepath.Join("/sys/fs/cgroup", e.Name()))
			}
		}
	}
	var made []string // deepest last
	for _, h := range hierarchies {
		for p := filepath.Join(h, path); p != h; p = filepath.Dir(p) {
			if _, err := os.Stat(p); err != nil {
				made = append([]string{p}, made...)
			}
		}
	}
	return func() {
		for _, h := range hierarchies {
			removeCgroupTree(filepath.Join(h, path))
		}
		for i := len(made) - 1; i >= 0; i-- {
			os.Remove(made[i])
		}
	}
}

// removeCgroupTree rmdirs a cgroup and those below it, deepest first.
func removeCgroupTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(dir)
}

// ownMemoryCgroup is this process's memory cgroup on a v1 host, or "".
func ownMemoryCgroup() string {
	data, _ := os.ReadFile("/proc/self/cgroup")
	for _, line := range strings.Split(string(data), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "memory" && parts[2] != "/" {
			return parts[2]
		}
	}
	return ""
}

// apiCall is one request both daemons get; {id} is each one's container.
type apiCall struct {
	method, path, body string
}

// answer is a daemon's: its status and body.
type answer struct {
	status int
	body   []byte
}

func call(t *testing.T, socket string, c apiCall, id string) answer {
	t.Helper()
	hc := http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	req, _ := http.NewRequest(c.method, "http://d/v1.41"+strings.ReplaceAll(c.path, "{id}", id), strings.NewReader(c.body))
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return answer{resp.StatusCode, b.Bytes()}
}

// shapeDiff lists where two JSON documents differ in shape: a key both have
// whose values are of different JSON types (null matches anything: an empty
// slice or map is null in one and [] in the other). Array elements are
// compared to the other's first.
func shapeDiff(path string, ours, theirs any) []string {
	if ours == nil || theirs == nil {
		return nil
	}
	kind := func(v any) string { return fmt.Sprintf("%T", v) }
	if kind(ours) != kind(theirs) {
		return []string{fmt.Sprintf("%s: glassbox gives %s, dockerd %s", path, kind(ours), kind(theirs))}
	}
	var out []string
	switch o := ours.(type) {
	case map[string]any:
		th := theirs.(map[string]any)
		for k, v := range o {
			if tv, ok := th[k]; ok {
				out = append(out, shapeDiff(path+"."+k, v, tv)...)
			}
		}
	case []any:
		if th := theirs.([]any); len(o) > 0 && len(th) > 0 {
			out = append(out, shapeDiff(path+"[0]", o[0], th[0])...)
		}
	}
	slices.Sort(out)
	return out
}

// missingKeys lists the keys of theirs (an object) that ours lacks.
func missingKeys(ours, theirs any) []string {
	o, ok1 := ours.(map[string]any)
	th, ok2 := theirs.(map[string]any)
	if !ok1 || !ok2 {
		return nil
	}
	var out []string
	for k := range th {
		if _, ok := o[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// notInAPI150 are keys dockerd 20.10 (API 1.41) gives that the API glassbox
// speaks (1.50, moby's types) no longer has, or omits when empty.
var notInAPI150 = map[string]bool{
	"Container": true, "ContainerConfig": true, "DockerVersion": true, "Parent": true, "VirtualSize": true, // image inspect: gone since 1.44/1.45
	"Author": true, "Comment": true, // image inspect: omitted when empty
	"Error":     true, // wait: omitted when the wait did not fail
	"BuildTime": true, // version: omitted when the build recorded no commit time (-buildvcs=false)
}

func TestDaemonAgreesWithDockerd(t *testing.T) {
	needDocker(t)
	ref := startDockerd(t)
	e, d := newDockerEnv(t)
	// The same image in both: glassbox's save, loaded by dockerd.
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	d.dockerOK("save", "-o", archive, "busybox")
	load := exec.Command("docker", "load", "-i", archive)
	load.Env = append(os.Environ(), "DOCKER_HOST=unix://"+ref.socket, "DOCKER_CONFIG="+d.config)
	if r := runCommand(t, load); r.code != 0 {
		t.Fatalf("dockerd: docker load: %s", r.stderr)
	}

	create := `{"Image": "busybox", "Cmd": ["sh", "-c", "echo out; sleep 0.1; echo err >&2; exec sleep 300"], "Labels": {"a": "b"}, "HostConfig": {"NetworkMode": "none"}}`
	ids := map[string]string{}
	for name, socket := range map[string]string{"glassbox": d.socket, "dockerd": ref.socket} {
		a := call(t, socket, apiCall{"POST", "/containers/create?name=ref", create}, "")
		var made struct{ Id string }
		if a.status != 201 || json.Unmarshal(a.body, &made) != nil {
			t.Fatalf("%s: create: %d %s", name, a.status, a.body)
		}
		ids[name] = made.Id
	}
	calls := []apiCall{
		{"GET", "/_ping", ""},
		{"GET", "/version", ""},
		{"GET", "/containers/{id}/json", ""},
		{"POST", "/containers/{id}/start", ""},
		{"POST", "/containers/{id}/start", ""}, // 304: running already
		{"GET", "/containers/json?filters={\"label\":[\"a=b\"]}", ""},
		{"GET", "/containers/{id}/json", ""},
		{"GET", "/containers/{id}/logs?stdout=1&stderr=1", ""},
		{"GET", "/containers/{id}/top", ""},
		{"POST", "/containers/{id}/exec", `{"Cmd": ["true"], "AttachStdout": true}`},
		{"GET", "/images/json", ""},
		{"GET", "/images/busybox/json", ""},
		{"GET", "/containers/nosuch/json", ""},
		{"GET", "/images/nosuch/json", ""},
		{"POST", "/containers/{id}/kill?signal=NOPE", ""},
		{"POST", "/containers/create", `{"Image": "nosuch:1", "Cmd": ["true"]}`},
		{"DELETE", "/containers/{id}", ""}, // 409: running
		{"POST", "/containers/{id}/pause", ""},
		{"GET", "/containers/{id}/json", ""},
		{"POST", "/containers/{id}/unpause", ""},
		{"HEAD", "/containers/{id}/archive?path=/etc/hostname", ""},
		{"GET", "/containers/{id}/archive?path=/nosuch", ""},
		{"POST", "/containers/{id}/kill", ""},
		{"POST", "/containers/{id}/wait", ""},
		{"GET", "/containers/{id}/json", ""},
		{"DELETE", "/containers/{id}", ""},
		{"GET", "/containers/{id}/json", ""},
	}
	for _, c := range calls {
		ours, theirs := call(t, d.socket, c, ids["glassbox"]), call(t, ref.socket, c, ids["dockerd"])
		for deadline := time.Now().Add(5 * time.Second); strings.Contains(c.path, "/logs") && time.Now().Before(deadline) &&
			!(bytes.Contains(ours.body, []byte("err")) && bytes.Contains(theirs.body, []byte("err"))); time.Sleep(50 * time.Millisecond) {
			ours, theirs = call(t, d.socket, c, ids["glassbox"]), call(t, ref.socket, c, ids["dockerd"]) // both lines written
		}
		what := c.method + " " + c.path
		if ours.status != theirs.status {
			t.Errorf("%s: glassbox answers %d (%.200s), dockerd %d (%.200s)", what, ours.status, ours.body, theirs.status, theirs.body)
			continue
		}
		if strings.Contains(c.path, "/logs") {
			// The multiplexed stream, frame for frame.
			if !bytes.Equal(ours.body, theirs.body) {
				t.Errorf("%s: glassbox streams %q, dockerd %q", what, ours.body, theirs.body)
			}
			continue
		}
		var o, th any
		if json.Unmarshal(ours.body, &o) != nil || json.Unmarshal(theirs.body, &th) != nil {
			continue // not JSON (ping's OK, an empty 204)
		}
		if diff := shapeDiff("", o, th); len(diff) > 0 {
			t.Errorf("%s: the answers differ in shape:\n%s", what, strings.Join(diff, "\n"))
		}
		missing := slices.DeleteFunc(missingKeys(o, th), func(k string) bool { return notInAPI150[k] })
		if len(missing) > 0 {
			t.Errorf("%s: keys dockerd gives and glassbox does not: %v", what, missing)
		}
	}
	e.noState()
}
