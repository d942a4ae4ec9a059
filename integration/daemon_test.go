package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/glassbox-dev/glassbox/trace"
)

// daemon is a `glassbox daemon` on a socket of the test's, over its state root.
type daemon struct {
	e      *env
	socket string
	config string // DOCKER_CONFIG: the CLI's own, not the machine's ~/.docker
	cmd    *exec.Cmd
	log    bytes.Buffer
}

func (e *env) startDaemon() *daemon {
	e.t.Helper()
	dir := e.t.TempDir()
	d := &daemon{e: e, socket: filepath.Join(dir, "docker.sock"), config: filepath.Join(dir, "config")}
	d.cmd = e.cmd("daemon", "-H", "unix://"+d.socket)
	d.cmd.Stderr = &d.log
	if err := d.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(d.stop)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", d.socket); err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the daemon did not listen within 10 s: %s", d.log.String())
		}
	}
}

// stop sends SIGTERM, as an init system would, and expects a clean exit
// that leaves no socket behind.
func (d *daemon) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		d.e.t.Errorf("the daemon's exit after SIGTERM: %v\n%s", err, d.log.String())
	}
	if _, err := os.Stat(d.socket); !errors.Is(err, os.ErrNotExist) {
		d.e.t.Errorf("the daemon left its socket %s: %v", d.socket, err)
	}
}

// docker runs the real docker CLI against the daemon; one that hangs is
// killed after two minutes (a failure, not a suite that never ends).
func (d *daemon) docker(args ...string) result {
	d.e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+d.config, "DOCKER_CLI_HINTS=false")
	return runCommand(d.e.t, cmd)
}

func (d *daemon) dockerOK(args ...string) string {
	d.e.t.Helper()
	r := d.docker(args...)
	if r.code != 0 {
		d.e.t.Fatalf("docker %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// request sends one request to the daemon, as an HTTP client of its own
// would: its status and body.
func (d *daemon) request(req *http.Request) (int, string) {
	d.e.t.Helper()
	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.socket)
	}}}
	resp, err := hc.Do(req)
	if err != nil {
		d.e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// newDockerEnv is a test's state root with busybox in it, and a daemon over
// it for the docker CLI to talk to.
func newDockerEnv(t *testing.T) (*env, *daemon) {
	needDocker(t)
	e := newEnv(t)
	e.importBusybox()
	return e, e.startDaemon()
}

func needDocker(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed (.ci/run installs Debian's docker.io where it is missing)")
	}
}

// The real docker CLI sees and drives the containers glassbox's CLI made:
// one state root, two front ends.
func TestDockerCLIAgainstTheDaemon(t *testing.T) {
	e, d := newDockerEnv(t)

	if v := d.dockerOK("version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}"); v != "1.50 1.50" {
		t.Errorf("docker version: API versions %q", v)
	}
	if v := d.dockerOK("info", "--format", "{{.Containers}} {{.DockerRootDir}} {{.Images}}"); v != "0 "+e.root+" 1" {
		t.Errorf("docker info: %q, want no containers, root %s and the busybox image", v, e.root)
	}

	if out := d.dockerOK("image", "inspect", "-f", "{{.RepoTags}} {{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}", "busybox"); out != "[busybox:latest] linux/amd64 1" {
		t.Errorf("docker image inspect busybox: %q", out)
	}
	d.dockerOK("tag", "busybox", "mybox:1")
	if out := d.dockerOK("images", "--format", "{{.Repository}}:{{.Tag}}"); out != "busybox:latest\nmybox:1" && out != "mybox:1\nbusybox:latest" {
		t.Errorf("docker images after docker tag: %q", out)
	}
	if out := d.dockerOK("rmi", "mybox:1"); out != "Untagged: mybox:1" {
		t.Errorf("docker rmi mybox:1: %q", out)
	}
	if r := d.docker("rmi", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, "No such image: nosuch") {
		t.Errorf("docker rmi nosuch: exit %d %q", r.code, r.stderr)
	}
	id := e.runDetached([]string{"--name", "web"}, "busybox", "sleep", "300")
	if r := d.docker("rmi", "busybox"); r.code == 0 || !strings.Contains(r.stderr, "is used by a container") {
		t.Errorf("docker rmi of an image a container uses: exit %d %q", r.code, r.stderr)
	}
	if out := d.dockerOK("ps", "--format", "{{.ID}} {{.Names}} {{.State}} {{.Image}} {{.Command}}"); out != id[:12]+` web running busybox "sleep 300"` {
		t.Errorf("docker ps: %q", out)
	}
	pid := e.record(id).Pid
	if out := d.dockerOK("inspect", "-f", "{{.State.Status}} {{.State.Pid}} {{.Name}}", "web"); out != "running "+strconv.Itoa(pid)+" /web" {
		t.Errorf("docker inspect: %q, want the init's pid %d", out, pid)
	}
	if out := d.dockerOK("top", "web"); !strings.Contains(out, "UID") || !regexp.MustCompile(`(?m)^0\s+`+strconv.Itoa(pid)+`\s.*sleep 300$`).MatchString(out) {
		t.Errorf("docker top web: want the init, pid %d, running sleep 300:\n%s", pid, out)
	}
	if out := d.dockerOK("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "web"); !regexp.MustCompile(`^web 1 [0-9.]+[KM]iB / `).MatchString(out) {
		t.Errorf("docker stats --no-stream web: %q, want its one process and its memory", out)
	}
	if out := d.dockerOK("ps", "-q", "--filter", "name=we", "--filter", "status=running"); out != id[:12] {
		t.Errorf("docker ps -q --filter name=we: %q", out)
	}
	// sleep, pid 1 of its namespace, ignores SIGTERM: stop SIGKILLs it after -t.
	d.dockerOK("stop", "-t", "1", "web")
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("the init (pid %d) outlived docker stop", pid)
	}
	if out := d.dockerOK("ps", "-a", "--format", "{{.State}} {{.Status}}"); !strings.HasPrefix(out, "exited Exited (137)") {
		t.Errorf("docker ps -a after stop: %q", out)
	}
	if out := d.dockerOK("wait", "web"); out != "137" {
		t.Errorf("docker wait: %q, want 137", out)
	}
	d.dockerOK("stop", "web") // stopped already: 304, not an error
	if r := d.docker("kill", "web"); r.code == 0 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("docker kill of a stopped container: exit %d %q", r.code, r.stderr)
	}
	d.dockerOK("rm", "web")
	if r := e.run("", "ps", "-a", "-q"); r.stdout != "" {
		t.Errorf("glassbox ps -a after docker rm: %q", r.stdout)
	}
	if r := d.docker("inspect", "web"); r.code == 0 || !strings.Contains(r.stderr, "No such object: web") {
		t.Errorf("docker inspect of a removed container: exit %d %q", r.code, r.stderr)
	}

	// rm -f of a running container: killed, torn down by its monitor, removed.
	id = e.runDetached(nil, "busybox", "sleep", "300")
	pid = e.record(id).Pid
	d.dockerOK("rm", "-f", id[:12])
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("the init (pid %d) outlived docker rm -f", pid)
	}
	e.noState()
}

// The daemon answers as dockerd does, to the official Go client: the API
// version negotiated at /_ping, errors as {"message"} with dockerd's status
// codes, and hostile parameters refused.
func TestDaemonAPI(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	d := e.startDaemon()
	cli, err := client.New(client.WithHost("unix://"+d.socket), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	ping, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil || ping.APIVersion != "1.50" || ping.OSType != "linux" {
		t.Errorf("ping: %+v %v", ping, err)
	}
	if _, err := cli.ContainerInspect(ctx, "nosuch", client.ContainerInspectOptions{}); err == nil || !strings.Contains(err.Error(), "no such container: nosuch") {
		t.Errorf("inspect nosuch: %v", err)
	}

	rawBody := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://glassbox"+path, strings.NewReader(body))
		return d.request(req)
	}
	raw := func(method, path string) (int, string) { return rawBody(method, path, "") }
	for body, want := range map[string]string{
		"null":                           "Config.Image: no image named",
		`{"Image": "busybox", "Cmd": 7}`: "the create request's body",
		`{"Image": "busybox", "HostConfig": {"Sysctls": {"net.ipv4.ip_forward": "1"}}}`: "HostConfig.Sysctls: not supported",
		`{"Image": "nosuch:1"}`:                                                     "No such image: nosuch:1",
		`{"Image": "busybox", "User": "4294967295"}`:                                "uid 4294967295 is (uid_t)-1",
		`{"Image": "busybox", "HostConfig": {"PidsLimit": -5, "CapAdd": ["NOPE"]}}`: "--cap-add NOPE: no such capability",
		`{"Image": "` + strings.Repeat("a", 2<<20) + `"}`:                           "larger than 1 MiB",
		`{"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 4294967295}}}`: "a count from 0 to 1000000",
		`{"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}}`:              "takes no count",
		`{"Image": "busybox", "StopTimeout": -5}`:                                                                                       "--stop-timeout -5",
		`{"Image": "busybox", "StopSignal": "SIGNOPE"}`:                                                                                 "no such signal",
		`{"Image": "busybox", "HostConfig": {"ExtraHosts": ["a\n6.6.6.6 bank:1.2.3.4"]}}`:                                               "NAME:IP",
		`{"Image": "busybox", "HostConfig": {"Dns": ["1.2.3.4"], "DnsSearch": ["a b"]}}`:                                                "one word",
		`{"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "bind", "Source": "rel", "Target": "/x"}]}}`:                           "must be an absolute host path",
		`{"Image": "busybox", "HostConfig": {"Binds": ["../../x:/x"]}}`:                                                                 "must be absolute",
		`{"Image": "busybox", "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Retries": 4294967295}}`:                                   "health check retries 4294967295",
		`{"Image": "busybox", "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": -1}}`:                                          "from 1ms to 24h",
		`{"Image": "busybox", "Healthcheck": {"Test": ["CMD"]}}`:                                                                        "CMD-SHELL",
		`{"Image": "busybox", "Healthcheck": {"Test": null, "Timeout": 5}}`:                                                             "need a check",
		`{"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "-1"}}}}`:                        "a size above 0",
		`{"Image": "busybox", "OpenStdin": true, "Tty": true, "HostConfig": {"AutoRemove": true, "RestartPolicy": {"Name": "always"}}}`: "nothing to restart",
	} {
		if status, got := rawBody("POST", "/v1.50/containers/create", body); status/100 != 4 || !strings.Contains(got, want) {
			t.Errorf("create with %.60s: %d %q, want a 4xx and %q", body, status, got, want)
		}
	}
	id := e.runDetached(nil, "busybox", "sleep", "300")
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/_ping", 200, "OK"},
		{"GET", "/v1.99/version", 400, `{"message":"client version 1.99 is too new. Maximum supported API version is 1.50"}`},
		{"GET", "/v1.12/version", 400, "too old"},
		{"GET", "/v1.50/containers/nosuch/json", 404, `{"message":"no such container: nosuch"}`},
		{"GET", "/containers/json?filters=" + `{"ancestor":{"a":true}}`, 400, `is not a filter glassbox knows here (id, name, status, label, health)`},
		{"GET", "/containers/json?filters=null", 200, id},
		{"GET", "/containers/json?filters=[", 400, "filters:"},
		{"POST", "/containers/" + id + "/kill?signal=NOPE", 400, "no such signal"},
		{"POST", "/containers/" + id + "/kill?signal=4294967295", 400, "no such signal"},
		{"POST", "/containers/" + id + "/stop?t=-2", 400, "expected seconds"},
		{"POST", "/containers/" + id + "/stop?t=99999999999999999999", 400, "expected a number of seconds"},
		{"POST", "/containers/" + id + "/wait?condition=sometime", 400, "not-running, next-exit or removed"},
		{"DELETE", "/containers/" + id, 409, "is running; stop it first, or rm -f"},
		{"POST", "/containers/create", 400, "the create request's body"},
		{"POST", "/containers/create?name=../x", 400, `a name is letters, digits, _ . - (not first), at most 64`},
		{"POST", "/containers/" + id + "/exec", 400, "the exec request's body"},
		{"POST", "/exec/nosuch/start", 404, "No such exec instance: nosuch"},
		{"GET", "/exec/nosuch/json", 404, "No such exec instance: nosuch"},
		{"POST", "/exec/nosuch/resize?h=1&w=1", 404, "No such exec instance: nosuch"},
		{"POST", "/containers/" + id + "/resize?h=70000&w=80", 400, `a terminal's size, 0 to 65535`},
		{"POST", "/containers/" + id + "/resize?h=24&w=-1", 400, `a terminal's size`},
		{"POST", "/containers/" + id + "/resize?h=24&w=80", 400, "has no terminal (-t) to resize"},
		{"POST", "/containers/" + id + "/attach?stream=1&stdin=1&detachKeys=ctrl-xy", 400, `is not a key`},
		{"POST", "/containers/" + id + "/update", 501, "does not serve POST /containers/" + id + "/update yet"},
		{"GET", "/containers/" + id + "/logs", 400, "you must choose at least one stream"},
		{"GET", "/containers/" + id + "/logs?stdout=1&tail=-1", 400, `tail`},
		{"GET", "/containers/..%2f..%2fetc/json", 404, "no such container"},
		{"GET", "/networks/..%2f..%2fetc%2fpasswd", 404, "not found"},
		{"DELETE", "/networks/..%2f..%2fetc", 404, "not found"},
		{"POST", "/networks/create", 400, "the network request's body"},
	} {
		status, body := raw(c.method, c.path)
		if status != c.status || !strings.Contains(body, c.body) {
			t.Errorf("%s %s: %d %q, want %d and %q", c.method, c.path, status, body, c.status, c.body)
		}
	}
	// Clients that go away mid-stream (attach, logs -f, stats) leave a
	// daemon that answers the next one.
	for _, req := range []string{
		"POST /v1.50/containers/" + id + "/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
		"GET /v1.50/containers/" + id + "/logs?stdout=1&follow=1 HTTP/1.1\r\nHost: d\r\n\r\n",
		"GET /v1.50/containers/" + id + "/stats HTTP/1.1\r\nHost: d\r\n\r\n",
	} {
		conn, err := net.Dial("unix", d.socket)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(req))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := conn.Read(make([]byte, 64)); n == 0 {
			t.Errorf("%.40s…: no answer before the client went: %v", req, err)
		}
		conn.Close()
		if status, _ := raw("GET", "/_ping"); status != 200 {
			t.Errorf("after a client left mid-stream (%.40s…), ping: %d", req, status)
		}
	}

	// The client's trace context: the daemon's command continues its trace.
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("POST", "http://glassbox/v1.50/containers/"+id[:12]+"/kill?signal=TERM", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	if status, body := d.request(req); status != 204 {
		t.Fatalf("kill with a traceparent: %d %s", status, body)
	}
	f, err := trace.Load(filepath.Join(e.root, "traces", traceID+".json"))
	if err != nil {
		t.Fatalf("no trace continues the client's: %v", err)
	}
	root, _ := f.Root()
	if root.ParentSpanID != parentID || root.Name != "glassbox kill" || root.Attr("http.route") != "/containers/{id}/kill" || root.Attr("http.request.method") != "POST" {
		t.Errorf("the kill's span: %s, parent %s, route %q %q; want the client's span as its parent", root.Name, root.ParentSpanID, root.Attr("http.request.method"), root.Attr("http.route"))
	}
	// A start request's trace: the client's span, then the start, then
	// every stage's span, from the monitor the daemon started.
	const startTraceID = "5bf92f3577b34da6a3ce929d0e0e4737"
	created := d.dockerOK("create", "busybox", "sleep", "300")
	req, _ = http.NewRequest("POST", "http://glassbox/v1.50/containers/"+created+"/start", nil)
	req.Header.Set("traceparent", "00-"+startTraceID+"-"+parentID+"-01")
	if status, body := d.request(req); status != 204 {
		t.Fatalf("start with a traceparent: %d %s", status, body)
	}
	var started *trace.File
	for deadline := time.Now().Add(10 * time.Second); started == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		started, _ = trace.Load(filepath.Join(e.root, "traces", startTraceID+".json"))
	}
	if started == nil {
		t.Fatal("no trace continues the start request's")
	}
	root, _ = started.Root()
	if root.ParentSpanID != parentID || root.Name != "glassbox start" || root.Attr("http.route") != "/containers/{id}/start" {
		t.Errorf("the start's span: %s, parent %s, route %q", root.Name, root.ParentSpanID, root.Attr("http.route"))
	}
	names := map[string]bool{}
	for _, s := range started.Spans() {
		names[s.Name] = true
	}
	for _, stage := range []string{"rootfs", "cgroup", "unshare", "network", "mount", "exec"} {
		if !names[stage] {
			t.Errorf("the start request's trace has no %s stage span: %v", stage, names)
		}
	}
	for _, c := range []string{id, created} {
		if _, err := cli.ContainerRemove(ctx, c, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("remove -f: %v", err)
		}
	}
	e.noState()
}

// A daemon goes, its containers stay: they belong to their monitors. A
// daemon started again sees them.
func TestContainersOutliveTheDaemon(t *testing.T) {
	e, d := newDockerEnv(t)
	id := e.runDetached([]string{"--name", "survivor"}, "busybox", "sleep", "300")
	d.cmd.Process.Kill() // SIGKILL: no shutdown at all
	d.cmd.Wait()
	if r := e.run("", "ps", "-q"); strings.TrimSpace(r.stdout) != id[:12] {
		t.Errorf("after the daemon was killed, glassbox ps: %q", r.stdout)
	}
	d = e.startDaemon() // over the dead one's socket
	if out := d.dockerOK("ps", "--format", "{{.Names}} {{.State}}"); out != "survivor running" {
		t.Errorf("a new daemon's docker ps: %q", out)
	}
	d.dockerOK("rm", "-f", "survivor")
	e.noState()
}

// The socket is root's and one group's (0660); a plain TCP listener, which
// would give anyone who reaches the port root on the host, is refused.
func TestDaemonSocket(t *testing.T) {
	e := newEnv(t)
	d := e.startDaemon()
	if fi, err := os.Stat(d.socket); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %s: %v %v, want mode 0660", d.socket, fi.Mode(), err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-H", "tcp://127.0.0.1:2375"}, "unix socket only (TCP needs TLS client certificates"},
		{[]string{"-H", "unix://relative.sock"}, "must be absolute"},
		{[]string{"-H", "unix://" + d.socket}, "another daemon is listening there"},
		{[]string{"-H", "unix://" + filepath.Join(t.TempDir(), "s"), "-G", "no-such-group"}, "-G no-such-group"},
	} {
		r := e.run("", append([]string{"daemon"}, c.args...)...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("daemon %v: exit %d %q, want 125 and one line with %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// docker run -d, docker create and docker start: the daemon makes containers
// that glassbox's CLI sees, with what the request asked (environment,
// published port), and refuses what it cannot honour by name.
func TestDockerRunDetached(t *testing.T) {
	e, d := newDockerEnv(t)

	id := d.dockerOK("run", "-d", "--name", "web", "-e", "GREETING=hi", "-p", "18191:80", "busybox", "sh", "-c", "echo $GREETING; exec sleep 300")
	if r := e.run("", "ps", "--format", "json"); !strings.Contains(r.stdout, id) {
		t.Errorf("glassbox ps does not list the daemon's container %s:\n%s", id[:12], r.stdout)
	}
	rec := e.record(id)
	if environ, _ := os.ReadFile("/proc/" + strconv.Itoa(rec.Pid) + "/environ"); !bytes.Contains(environ, []byte("GREETING=hi\x00")) {
		t.Errorf("the init's environment lacks GREETING=hi: %q", environ)
	}
	if rec.Ports != "18191:80/tcp" {
		t.Errorf("published ports %q, want 18191:80/tcp", rec.Ports)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r := e.run("", "logs", "web"); r.stdout == "hi\n" || time.Now().After(deadline) {
			if r.stdout != "hi\n" {
				t.Errorf("glassbox logs web: %q", r.stdout)
			}
			break
		}
	}

	// docker restart: stopped, then every stage again; the log goes on.
	d.dockerOK("restart", "-t", "1", "web")
	if again := e.record(id); again.Pid == rec.Pid || d.dockerOK("inspect", "-f", "{{.State.Status}}", "web") != "running" {
		t.Errorf("docker restart: pid %d (was %d), not running again", again.Pid, rec.Pid)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r := e.run("", "logs", "web"); r.stdout == "hi\nhi\n" || time.Now().After(deadline) {
			if r.stdout != "hi\nhi\n" {
				t.Errorf("glassbox logs web after a restart: %q", r.stdout)
			}
			break
		}
	}

	// docker exec: the container's namespaces (its hostname), the caller's
	// -e, -w, -u, and the exit code; -d; refused when it cannot be honoured.
	r := d.docker("exec", "-e", "X=1", "-w", "/tmp", "-u", "1000", "web", "sh", "-c", "echo $X $(pwd) $(id -u) $(hostname); echo err >&2; exit 7")
	if r.code != 7 || r.stdout != "1 /tmp 1000 "+id[:12]+"\n" || r.stderr != "err\n" {
		t.Errorf("docker exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	d.dockerOK("exec", "-d", "web", "touch", "/tmp/detached")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if d.docker("exec", "web", "test", "-e", "/tmp/detached").code == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Errorf("docker exec -d: the command did not run")
			break
		}
	}
	if r := d.docker("exec", "web", "nosuchcmd"); r.code != 127 || !strings.Contains(r.stderr, `"nosuchcmd": executable file not found`) {
		t.Errorf("docker exec of a command that is not there: exit %d %q", r.code, r.stderr)
	}

	d.dockerOK("create", "--name", "later", "busybox", "echo", "made")
	if out := d.dockerOK("ps", "-a", "--filter", "name=later", "--format", "{{.State}} {{.Status}}"); out != "created Created" {
		t.Errorf("docker ps -a of a created container: %q", out)
	}
	// (gc also sweeps the host's network store, which every test shares: a
	// record another test's killed run left half-written may go with it.)
	if r := e.run("", "gc"); strings.Contains(r.stdout, "removed leftover container") || strings.Contains(r.stdout, "removed unfinished state directory") {
		t.Errorf("gc took a created container for a leftover: %q", r.stdout)
	}
	if r := d.docker("exec", "later", "true"); r.code == 0 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("docker exec in a created container: exit %d %q", r.code, r.stderr)
	}
	d.dockerOK("start", "later")
	if out := d.dockerOK("wait", "later"); out != "0" {
		t.Errorf("docker wait later: %q", out)
	}
	if r := e.run("", "logs", "later"); r.stdout != "made\n" {
		t.Errorf("glassbox logs later: %q", r.stdout)
	}

	gone := d.dockerOK("run", "-d", "--rm", "busybox", "true")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(e.root, "containers", gone)); errors.Is(err, os.ErrNotExist) {
			break
		} else if time.Now().After(deadline) {
			t.Errorf("docker run -d --rm: the container is still there after it exited")
			break
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-d", "--name", "web", "busybox", "true"}, `the name "web" is already in use by container ` + id[:12]},
		{[]string{"run", "-d", "-v", "bad@name:/x", "busybox", "true"}, `volume name "bad@name": letters, digits`},
		{[]string{"run", "-d", "--link", "web:db", "busybox", "true"}, "HostConfig.Links: not supported by glassbox's daemon yet"},
		{[]string{"run", "-d", "--pid", "host", "busybox", "true"}, "HostConfig.PidMode: not supported"},
		{[]string{"run", "-d", "-m", "1k", "busybox", "true"}, "the minimum memory limit is 6m"},
	} {
		if r := d.docker(c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("docker %s: exit %d %q, want %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
	d.dockerOK("rm", "-f", "web", "later")
	e.noState()
}

// docker run in the foreground: create, attach (the connection taken over),
// wait, start; stdout and stderr apart, the exit code, --rm; then logs and
// attach to detached containers.
func TestDockerRunForeground(t *testing.T) {
	e, d := newDockerEnv(t)

	r := d.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("docker run --rm …: exit %d, stdout %q, stderr %q; want 3, out, err", r.code, r.stdout, r.stderr)
	}
	// A container that is gone before the attach first looks: its output
	// is kept all the same (the attach opened the log at create).
	for i := range 5 {
		if out := d.dockerOK("run", "--rm", "busybox", "echo", strconv.Itoa(i)); out != strconv.Itoa(i) {
			t.Errorf("docker run --rm busybox echo %d: %q", i, out)
		}
	}
	e.noState()

	if out := d.dockerOK("run", "--name", "kept", "busybox", "echo", "kept"); out != "kept" {
		t.Errorf("docker run --name kept: %q", out)
	}
	if out := d.dockerOK("logs", "kept"); out != "kept" {
		t.Errorf("docker logs kept: %q", out)
	}
	if out := d.dockerOK("logs", "--tail", "0", "kept"); out != "" {
		t.Errorf("docker logs --tail 0: %q", out)
	}
	d.dockerOK("rm", "kept")

	d.dockerOK("run", "-d", "--name", "counter", "busybox", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done")
	if out := d.dockerOK("logs", "-f", "counter"); out != "1\n2\n3" {
		t.Errorf("docker logs -f: %q, want 1 2 3 and an end when the container exits", out)
	}
	d.dockerOK("rm", "counter")

	d.dockerOK("run", "-d", "--name", "late", "busybox", "sh", "-c", "sleep 0.5; echo late; exit 4")
	if r := d.docker("attach", "--sig-proxy=false", "late"); r.code != 4 || r.stdout != "late\n" {
		t.Errorf("docker attach: exit %d, stdout %q; want 4 and what it wrote after the attach", r.code, r.stdout)
	}
	d.dockerOK("rm", "late")
	// Input that reaches the daemon with the attach itself (typed while the
	// CLI started): the answer to it is output from after the attach.
	for i := range 5 {
		name := "answers" + strconv.Itoa(i)
		d.dockerOK("run", "-di", "--name", name, "busybox", "sh", "-c", "read l; echo got-$l")
		cmd := exec.Command("docker", "attach", name)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+d.config)
		cmd.Stdin = strings.NewReader(name + "\n")
		if r := runCommand(t, cmd); r.code != 0 || r.stdout != "got-"+name+"\n" {
			t.Errorf("echo %s | docker attach %s: exit %d, stdout %q; want the answer to the input", name, name, r.code, r.stdout)
		}
		d.dockerOK("rm", name)
	}
	e.noState()
}

// A person at a terminal: docker run -it, docker attach and its detach keys,
// docker exec -it, each typed into tmux; and input piped to docker run -i.
func TestDockerTerminals(t *testing.T) {
	e, d := newDockerEnv(t)

	// Input, all of it written before the container starts, and its end.
	cmd := exec.Command("docker", "run", "-i", "--rm", "busybox", "sh", "-c", "wc -l; tty || true")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+d.config)
	cmd.Stdin = strings.NewReader("one\ntwo\nthree\n")
	if r := runCommand(t, cmd); r.code != 0 || r.stdout != "3\nnot a tty\n" {
		t.Errorf("printf … | docker run -i busybox wc -l: exit %d, %q %q; want 3 and no terminal", r.code, r.stdout, r.stderr)
	}

	docker, _ := exec.LookPath("docker")
	term := newTerminal(t, 80, 24)
	term.keys("export DOCKER_HOST=unix://"+d.socket+" DOCKER_CONFIG="+d.config+" DOCKER_CLI_HINTS=false TERM=xterm PATH="+filepath.Dir(docker)+":$PATH", "Enter")
	term.keys("docker run -it --rm --name shell busybox sh", "Enter")
	term.waitFor("/ # ")
	term.keys("echo $((6*7)) $$; tty; stty size", "Enter")
	term.waitFor("42 1\n/dev/pts/0\n24 80")
	// The kernel's view: the init's stdin is the container's terminal.
	if fd0, _ := os.Readlink("/proc/" + d.dockerOK("inspect", "-f", "{{.State.Pid}}", "shell") + "/fd/0"); fd0 != "/dev/pts/0" {
		t.Errorf("the container's init has %q as stdin, want its /dev/pts/0", fd0)
	}
	term.tmux("resize-window", "-t", term.session, "-x", "100", "-y", "30")
	if size := strings.TrimSpace(term.tmux("display-message", "-p", "-t", term.session, "#{pane_width}x#{pane_height}")); size != "100x30" {
		t.Errorf("tmux resized its pane to %s, not 100x30: the resize below cannot be seen", size)
	}
	// The CLI's SIGWINCH → POST /resize → TIOCSWINSZ runs beside the keys
	// typed: stty may read the size before the resize lands, so it asks again.
	term.waitUntil("the container's terminal never became 30 rows by 100", func(screen string) bool {
		if strings.Contains(screen, "\n30 100") {
			return true
		}
		term.keys("stty size", "Enter")
		time.Sleep(200 * time.Millisecond)
		return false
	})
	term.keys("exit 3", "Enter")
	term.exitedWith(3)

	d.dockerOK("run", "-dit", "--name", "sh1", "busybox", "sh")
	// Typed at once, as a person does: while the CLI starts, and before the
	// daemon has the attach, the keys wait in the terminal for it.
	term.keys("clear; docker attach sh1", "Enter")
	term.keys("echo attached-$$", "Enter")
	term.waitFor("attached-1")
	term.keys("C-p", "C-q")
	term.waitFor("read escape sequence")
	if st := d.dockerOK("inspect", "-f", "{{.State.Status}} {{.Config.OpenStdin}} {{.Config.Tty}}", "sh1"); st != "running true true" {
		t.Errorf("after detaching: %q, want the container running on", st)
	}

	term.keys("clear; docker exec -it sh1 sh", "Enter")
	term.waitFor("/ # ")
	term.keys("tty", "Enter")
	term.waitFor("/dev/pts/1") // its own terminal, beside the attached shell's
	term.keys("exit 4", "Enter")
	term.exitedWith(4)

	// A terminal the container swapped for something else is not resized:
	// the daemon opens the init's stdin only if it is a pseudo-terminal.
	d.dockerOK("run", "-dt", "--name", "swapped", "busybox", "sh", "-c", "mkfifo /f; exec 0<>/f; exec sleep 300")
	time.Sleep(300 * time.Millisecond)
	req, _ := http.NewRequest("POST", "http://glassbox/containers/swapped/resize?h=10&w=10", nil)
	status, body := d.request(req)
	if status != 500 || !strings.Contains(body, "its init's stdin is no longer its terminal") {
		t.Errorf("resize of a container whose stdin is a FIFO: %d %q", status, body)
	}
	d.dockerOK("rm", "-f", "sh1", "swapped")
	e.noState()
}

// docker cp both ways and docker export, into and out of a running container
// and a created one; and the container's attempts to make the copy reach the
// host's files: symlinks out of its root, "../" in a tar, a FIFO to block on.
func TestDockerCp(t *testing.T) {
	e, d := newDockerEnv(t)
	dir := t.TempDir()
	local := func(name string) string { return filepath.Join(dir, name) }

	id := d.dockerOK("run", "-d", "--name", "w", "--hostname", "inside", "busybox", "sh", "-c",
		"mkdir -p /data/sub && echo deep > /data/sub/f && ln -s ../../../../../../etc /hostetc && ln -s /../../../../tmp /out && mkfifo /data/fifo && exec sleep 300")
	time.Sleep(300 * time.Millisecond)
	d.dockerOK("cp", "w:/etc/hostname", local("hostname"))
	if b, _ := os.ReadFile(local("hostname")); string(b) != "inside\n" {
		t.Errorf("docker cp w:/etc/hostname: %q", b)
	}
	d.dockerOK("cp", "w:/data", local("data")) // a directory, with a FIFO in it: copied as a FIFO, never read
	if b, _ := os.ReadFile(local("data/sub/f")); string(b) != "deep\n" {
		t.Errorf("docker cp w:/data: sub/f %q", b)
	}
	if fi, err := os.Lstat(local("data/fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("docker cp w:/data: the FIFO came as %v %v", fi, err)
	}
	// A symlink out of the root resolves inside it: the container's /etc.
	d.dockerOK("cp", "w:/hostetc/hostname", local("through-link"))
	if b, _ := os.ReadFile(local("through-link")); string(b) != "inside\n" {
		t.Errorf("docker cp w:/hostetc/hostname (a link to ../../etc): %q, want the container's own hostname", b)
	}
	if r := d.docker("cp", "w:/nosuch", dir); r.code == 0 || !strings.Contains(r.stderr, "no such file or directory in the container") {
		t.Errorf("docker cp w:/nosuch: exit %d %q", r.code, r.stderr)
	}

	os.WriteFile(local("in.txt"), []byte("hello\n"), 0o600)
	os.Chown(local("in.txt"), 4242, 4242)
	d.dockerOK("cp", local("in.txt"), "w:/tmp/")
	d.dockerOK("cp", "-a", local("in.txt"), "w:/tmp/kept.txt")
	if out := d.dockerOK("exec", "w", "sh", "-c", "cat /tmp/in.txt; stat -c '%u %a' /tmp/in.txt /tmp/kept.txt"); out != "hello\n0 600\n4242 600" {
		t.Errorf("docker cp into w: %q, want the content, root as owner, and -a keeping 4242", out)
	}
	// Into a link that leads "out": the container's /tmp, not the host's.
	marker := "glassbox-cp-" + strconv.Itoa(os.Getpid())
	os.WriteFile(local(marker), []byte("x"), 0o600)
	d.dockerOK("cp", local(marker), "w:/out/")
	if _, err := os.Stat("/tmp/" + marker); err == nil {
		os.Remove("/tmp/" + marker)
		t.Errorf("docker cp into a link to /../../tmp wrote the host's /tmp")
	}
	if out := d.dockerOK("exec", "w", "ls", "/tmp/"+marker); out != "/tmp/"+marker {
		t.Errorf("docker cp into /out/: %q", out)
	}
	// A tar whose names climb out is refused, and writes nothing.
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	tw.WriteHeader(&tar.Header{Name: "../../../../../../tmp/" + marker + "-tar", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	req, _ := http.NewRequest("PUT", "http://glassbox/containers/w/archive?path=/tmp", &evil)
	if status, body := d.request(req); status != 500 || !strings.Contains(body, "path traversal") {
		t.Errorf("PUT archive with ../ names: %d %q", status, body)
	}
	if _, err := os.Stat("/tmp/" + marker + "-tar"); err == nil {
		os.Remove("/tmp/" + marker + "-tar")
		t.Errorf("a tar's ../ name wrote the host's /tmp")
	}
	for path, want := range map[string]string{"": "path: which file", "/etc/passwd": "not a directory"} {
		req, _ := http.NewRequest("PUT", "http://glassbox/containers/w/archive?path="+path, strings.NewReader(""))
		if status, body := d.request(req); status != 400 || !strings.Contains(body, want) {
			t.Errorf("PUT archive?path=%s: %d %q", path, status, body)
		}
	}

	// docker export: the whole filesystem, not what is mounted on it.
	cmd := exec.Command("sh", "-c", "docker export w | tar t")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+d.config)
	names := runCommand(t, cmd).stdout
	for _, want := range []string{"bin/busybox\n", "etc/passwd\n", "data/sub/f\n", "proc/\n"} {
		if !strings.Contains(names, want) {
			t.Errorf("docker export lacks %q", want)
		}
	}
	if strings.Contains(names, "proc/1/") || strings.Contains(names, "sys/kernel") {
		t.Errorf("docker export walked into /proc or /sys")
	}

	// Into a created container, before its start: its overlay, mounted for
	// the copy and unmounted after.
	d.dockerOK("create", "--name", "later", "busybox", "cat", "/in.txt")
	d.dockerOK("cp", local("in.txt"), "later:/in.txt")
	if out := d.dockerOK("start", "-a", "later"); out != "hello" {
		t.Errorf("docker cp into a created container, then start -a: %q", out)
	}
	d.dockerOK("cp", "later:/in.txt", local("back.txt")) // out of an exited one
	if b, _ := os.ReadFile(local("back.txt")); string(b) != "hello\n" {
		t.Errorf("docker cp out of an exited container: %q", b)
	}
	d.dockerOK("rm", "-f", id, "later")
	e.noState()
}

// docker events: what the daemon and the CLI did to the state root, bounded
// by --since and --until, and followed as it happens.
func TestDockerEvents(t *testing.T) {
	e, d := newDockerEnv(t)
	since := strconv.FormatInt(time.Now().Unix(), 10)
	// Followed: from before the run until a moment after.
	follow := exec.Command("docker", "events", "--filter", "container=late", "--format", "{{.Action}}", "--until", strconv.FormatInt(time.Now().Add(8*time.Second).Unix(), 10))
	follow.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+d.config)
	var followed bytes.Buffer
	follow.Stdout = &followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	d.docker("run", "--rm", "--name", "late", "busybox", "sh", "-c", "exit 3")
	d.docker("run", "-d", "--name", "viadaemon", "busybox", "sleep", "300")
	d.dockerOK("stop", "-t", "1", "viadaemon")
	d.dockerOK("rm", "viadaemon")
	e.run("", "run", "--rm", "--name", "viacli", "busybox", "true")
	d.dockerOK("network", "create", "evnet")
	d.dockerOK("network", "rm", "evnet")
	until := strconv.FormatInt(time.Now().Unix()+1, 10)
	time.Sleep(1100 * time.Millisecond) // until is in whole seconds
	out := d.docker("events", "--since", since, "--until", until, "--format", `{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "exitCode"}}{{index .Actor.Attributes "signal"}}`).stdout
	for _, want := range []string{
		"container create late \ncontainer start late \ncontainer die late 3\ncontainer destroy late \n",
		// sleep, as pid 1, ignores SIGTERM: SIGKILL after the second.
		"container create viadaemon \ncontainer start viadaemon \ncontainer kill viadaemon 15\ncontainer kill viadaemon 9\ncontainer die viadaemon 137\ncontainer stop viadaemon \ncontainer destroy viadaemon \n",
		"container create viacli \ncontainer start viacli \ncontainer die viacli 0\ncontainer destroy viacli \n",
		"network create evnet \nnetwork destroy evnet \n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("docker events --since --until lacks\n%s\nin\n%s", want, out)
		}
	}
	if err := follow.Wait(); err != nil || followed.String() != "create\nstart\ndie\ndestroy\n" {
		t.Errorf("docker events --filter container=late, followed: %v %q", err, followed.String())
	}
	for _, c := range []struct{ path, want string }{
		{"/events?since=yesterday", `yesterday`},
		{"/events?until=99999999999999999999", `seconds since 1970`},
		{"/events?since=1.-5", `seconds since 1970`},
		{"/events?filters={\"volume\":[\"x\"]}", `is not a filter glassbox knows here (type, event, container, image, network)`},
	} {
		req, _ := http.NewRequest("GET", "http://glassbox"+c.path, nil)
		if status, body := d.request(req); status != 400 || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %q", c.path, status, body)
		}
	}
	e.noState()
}

// docker pause freezes every process of the container (the kernel's
// freezer: a counter it writes stands still, read from the host), exec into
// it is refused rather than frozen too, stop still works; docker rename.
func TestDockerPauseRename(t *testing.T) {
	e, d := newDockerEnv(t)
	// The count is replaced whole (mv), so that a freeze between a write's
	// truncation and its number cannot leave the file empty.
	d.dockerOK("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.02; done")
	pid := d.dockerOK("inspect", "-f", "{{.State.Pid}}", "ticker")
	count := func() string {
		b, err := os.ReadFile("/proc/" + pid + "/root/tmp/n")
		if err != nil {
			return err.Error() // said in the failure, and never a count
		}
		return strings.TrimSpace(string(b))
	}
	// The counter runs before it is paused (in the VM, under TCG, a shell
	// can take a while to write its first number).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := strconv.Atoi(count()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the counter did not start: %q", count())
		}
	}
	d.dockerOK("pause", "ticker")
	if st := d.dockerOK("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "ticker"); st != "paused true" {
		t.Errorf("after docker pause: %q", st)
	}
	before := count()
	time.Sleep(300 * time.Millisecond)
	if _, err := strconv.Atoi(before); err != nil || count() != before {
		t.Errorf("paused, the counter went on: %q then %q", before, count())
	}
	if r := d.docker("exec", "ticker", "true"); r.code == 0 || !strings.Contains(r.stderr, "is paused: unpause it first") {
		t.Errorf("docker exec into a paused container: exit %d %q", r.code, r.stderr)
	}
	if r := d.docker("pause", "ticker"); r.code == 0 || !strings.Contains(r.stderr, "is paused already") {
		t.Errorf("docker pause twice: exit %d %q", r.code, r.stderr)
	}
	d.dockerOK("unpause", "ticker")
	for deadline := time.Now().Add(5 * time.Second); count() == before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("unpaused, the counter stood still at %q for 5 s", before)
			break
		}
	}
	if r := d.docker("unpause", "ticker"); r.code == 0 || !strings.Contains(r.stderr, "is not paused") {
		t.Errorf("docker unpause of a running container: exit %d %q", r.code, r.stderr)
	}

	d.dockerOK("rename", "ticker", "counter")
	d.dockerOK("create", "--name", "other", "busybox", "true")
	for name, want := range map[string]string{"other": `the name "other" is already in use`, "../x": "a name is letters"} {
		if r := d.docker("rename", "counter", name); r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("docker rename counter %s: exit %d %q", name, r.code, r.stderr)
		}
	}
	if out := d.dockerOK("ps", "--format", "{{.Names}} {{.State}}"); out != "counter running" {
		t.Errorf("docker ps after rename: %q", out)
	}
	d.dockerOK("pause", "counter")
	d.dockerOK("stop", "-t", "1", "counter") // SIGTERM, thawed to take it, SIGKILL after 1 s
	if st := d.dockerOK("inspect", "-f", "{{.State.Status}}", "counter"); st != "exited" {
		t.Errorf("docker stop of a paused container: %q", st)
	}
	d.dockerOK("rm", "counter", "other")
	e.noState()
}

// docker container, network and image prune take what nothing runs or uses,
// and leave what something does.
func TestDockerPrune(t *testing.T) {
	e, d := newDockerEnv(t)
	// Networks are the host's: prune only on a host with none but the test's.
	othersNetworks := strings.TrimSpace(strings.ReplaceAll(d.dockerOK("network", "ls", "--format", "{{.Name}}"), "bridge", "")) != ""
	d.dockerOK("network", "create", "used")
	d.dockerOK("network", "create", "unused")
	running := d.dockerOK("run", "-d", "--network", "used", "busybox", "sleep", "300")
	exited := d.dockerOK("run", "-d", "busybox", "true")
	created := d.dockerOK("create", "busybox", "true")
	d.dockerOK("wait", exited)
	out := d.dockerOK("container", "prune", "-f")
	if !strings.Contains(out, exited) || !strings.Contains(out, created) || strings.Contains(out, running) {
		t.Errorf("docker container prune: %q, want %s and %s gone, %s kept", out, exited[:12], created[:12], running[:12])
	}
	if othersNetworks {
		t.Log("this host has networks of its own: docker network prune is not tried")
		d.dockerOK("network", "rm", "unused")
	} else if out := d.dockerOK("network", "prune", "-f"); !strings.Contains(out, "unused") || strings.Contains(out, "used\n") {
		t.Errorf("docker network prune: %q", out)
	}
	d.dockerOK("tag", "busybox", "spare:1")
	if out := d.dockerOK("image", "prune", "-f"); strings.Contains(out, "spare") {
		t.Errorf("docker image prune (dangling only) took a named image: %q", out)
	}
	// busybox is the running container's: it stays, under both names.
	if out := d.dockerOK("image", "prune", "-a", "-f"); strings.Contains(out, "deleted") {
		t.Errorf("docker image prune -a removed an image a container uses: %q", out)
	}
	d.dockerOK("rm", "-f", running)
	if out := d.dockerOK("image", "prune", "-a", "-f"); !strings.Contains(out, "untagged: spare:1") || !strings.Contains(out, "deleted: sha256:") {
		t.Errorf("docker image prune -a with nothing using busybox: %q", out)
	}
	if out := d.dockerOK("images", "-q"); out != "" {
		t.Errorf("after image prune -a: %q", out)
	}
	d.dockerOK("network", "rm", "used")
	e.noState()
}

// docker volume create, ls, inspect, rm, and a named volume through docker run.
func TestDockerVolumes(t *testing.T) {
	e, d := newDockerEnv(t)
	d.dockerOK("volume", "create", "--label", "team=a", "shared")
	if out := d.dockerOK("volume", "inspect", "-f", "{{.Driver}} {{.Labels.team}} {{.Mountpoint}}", "shared"); out != "local a "+filepath.Join(e.root, "volumes", "shared", "_data") {
		t.Errorf("docker volume inspect: %q", out)
	}
	d.dockerOK("run", "--rm", "-v", "shared:/data", "busybox", "sh", "-c", "echo via-docker > /data/f")
	if out := d.dockerOK("run", "--rm", "-v", "shared:/data", "busybox", "cat", "/data/f"); out != "via-docker" {
		t.Errorf("docker run with a named volume: %q", out)
	}
	id := d.dockerOK("run", "-d", "-v", "shared:/data:ro", "busybox", "sleep", "300")
	if out := d.dockerOK("inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{end}}", id); out != "volume shared /data false" {
		t.Errorf("docker inspect's Mounts: %q", out)
	}
	if r := d.docker("volume", "rm", "shared"); r.code == 0 || !strings.Contains(r.stderr, "is in use") {
		t.Errorf("docker volume rm of a volume in use: exit %d %q", r.code, r.stderr)
	}
	if r := d.docker("volume", "create", "-d", "nfs", "x"); r.code == 0 || !strings.Contains(r.stderr, "local directories only") {
		t.Errorf("docker volume create -d nfs: exit %d %q", r.code, r.stderr)
	}
	for body, want := range map[string]string{
		`{"Name": "../../etc"}`:                       `letters, digits, _ . - (not first)`,
		`{"Name": "` + strings.Repeat("v", 65) + `"}`: "at most 64",
		`{"Name": 7}`:                                 "the volume request's body",
	} {
		req, _ := http.NewRequest("POST", "http://glassbox/volumes/create", strings.NewReader(body))
		if status, got := d.request(req); status != 400 || !strings.Contains(got, want) {
			t.Errorf("POST /volumes/create %s: %d %q, want 400 and %q", body, status, got, want)
		}
	}
	for _, method := range []string{"GET", "DELETE"} {
		req, _ := http.NewRequest(method, "http://glassbox/volumes/..%2F..%2Fetc", nil)
		if status, body := d.request(req); status != 404 || !strings.Contains(body, "no such volume") {
			t.Errorf("%s /volumes/..%%2F..%%2Fetc: %d %q", method, status, body)
		}
	}
	d.dockerOK("rm", "-f", id)
	if out := d.dockerOK("volume", "ls", "-q"); out != "shared" {
		t.Errorf("docker volume ls -q: %q", out)
	}
	d.dockerOK("volume", "rm", "shared")
	e.noState()
}

// A record cut short — a state.json with an id and nothing else, as a full
// disk or a hand may leave — is listed, inspected and removed by both front
// ends without a panic.
func TestCutShortRecord(t *testing.T) {
	e, d := newDockerEnv(t)
	var ids []string
	for range 2 {
		id := d.dockerOK("create", "busybox", "true")
		os.WriteFile(filepath.Join(e.root, "containers", id, "state.json"), []byte(`{"id": "`+id+`"}`), 0o600)
		ids = append(ids, id)
	}
	for _, args := range [][]string{{"ps", "-a"}, {"inspect", ids[0]}, {"rm", "-f", ids[0]}} {
		if r := d.docker(args...); strings.Contains(r.stderr, "panic") || strings.Contains(d.log.String(), "panic") {
			t.Errorf("docker %v on a cut-short record: %q\n%s", args, r.stderr, d.log.String())
		}
	}
	for _, args := range [][]string{{"ps", "-a"}, {"inspect", ids[1]}, {"rm", "-f", ids[1]}} {
		if r := e.run("", args...); strings.Contains(r.stderr, "goroutine") {
			t.Errorf("glassbox %v on a cut-short record: %q", args, r.stderr)
		}
	}
	e.run("", "gc")
	e.noState()
}

// docker network create, ls, inspect, rm; two containers the daemon runs on
// a user network talk by name.
func TestDockerNetworks(t *testing.T) {
	e, d := newDockerEnv(t)
	d.dockerOK("network", "create", "--subnet", "10.123.9.0/24", "dnet")
	defer d.docker("network", "rm", "dnet")
	if out := d.dockerOK("network", "ls", "--filter", "name=dnet", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); out != "dnet bridge local" {
		t.Errorf("docker network ls: %q", out)
	}
	d.dockerOK("run", "-d", "--network", "dnet", "--name", "srv", "busybox", "sh", "-c",
		"mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www")
	var out string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r := d.docker("run", "--rm", "--network", "dnet", "busybox", "wget", "-qO-", "http://srv/")
		if out = r.stdout; r.code == 0 || time.Now().After(deadline) {
			break
		}
	}
	if out != "hello-from-web\n" {
		t.Errorf("a container on dnet fetching http://srv/: %q", out)
	}
	if out := d.dockerOK("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "dnet"); !strings.HasPrefix(out, "srv 10.123.9.") {
		t.Errorf("docker network inspect: %q", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "rm", "dnet"}, "is in use"},
		{[]string{"network", "create", "dnet"}, "already exists"},
		{[]string{"network", "create", "../x"}, `network name "../x"`},
		{[]string{"network", "create", "--subnet", "10.123.9.0/25", "overlap"}, "overlaps the subnet of another glassbox network"},
		{[]string{"network", "create", "--internal", "inner"}, "Internal: not supported"},
		{[]string{"network", "rm", "nosuch"}, `network "nosuch" not found`},
		{[]string{"network", "inspect", "nosuch"}, `network "nosuch" not found`},
	} {
		if r := d.docker(c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("docker %s: exit %d %q, want %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}

	// docker network connect: a container of another network joins dnet
	// (eth1, no default route), is known there by its alias, and leaves.
	d.dockerOK("network", "create", "--subnet", "10.123.10.0/24", "other")
	defer d.docker("network", "rm", "other")
	id := d.dockerOK("run", "-d", "--network", "other", "--name", "visitor", "busybox", "sleep", "300")
	d.dockerOK("network", "connect", "--alias", "guest", "dnet", "visitor")
	if out := d.dockerOK("exec", "visitor", "sh", "-c", "ip -4 -o addr show eth1 | awk '{print $4}'; ip route | grep -c default; wget -qO- http://srv/"); !strings.HasPrefix(out, "10.123.9.") || !strings.HasSuffix(out, "\n1\nhello-from-web") {
		t.Errorf("a connected container: eth1, one default route, srv by name: %q", out)
	}
	if out := d.dockerOK("exec", "srv", "ping", "-c1", "-W2", "guest"); !strings.Contains(out, "1 packets received") {
		t.Errorf("srv pinging the connected container by its alias: %q", out)
	}
	if out := d.dockerOK("inspect", "-f", "{{range $n, $_ := .NetworkSettings.Networks}}{{$n}} {{end}}", "visitor"); out != "dnet other" {
		t.Errorf("docker inspect of a connected container: networks %q", out)
	}
	veth := "gb" + id[:12] + "1" // the kernel's view: the further veth, on dnet's bridge
	if _, err := os.Stat("/sys/class/net/" + veth + "/master"); err != nil {
		t.Errorf("no %s on a bridge after connect: %v", veth, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "connect", "dnet", "visitor"}, "is on network dnet already"},
		{[]string{"network", "connect", "nosuch", "visitor"}, `network "nosuch" not found`},
		{[]string{"network", "connect", "--ip", "10.123.9.99", "other", "srv"}, "only Aliases are supported"},
		{[]string{"network", "disconnect", "other", "visitor"}, "is container " + id[:12] + "'s first"},
	} {
		if r := d.docker(c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("docker %s: exit %d %q, want %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
	// An alias with a newline would write a line into every /etc/hosts on
	// the network (the docker CLI cuts it; the API gets it whole).
	req, _ := http.NewRequest("POST", "http://glassbox/networks/other/connect", strings.NewReader(`{"Container": "srv", "EndpointConfig": {"Aliases": ["a\n6.6.6.6 evil"]}}`))
	if status, body := d.request(req); status != 400 || !strings.Contains(body, "cannot go into /etc/hosts") {
		t.Errorf("connect with an alias holding a newline: %d %q", status, body)
	}
	d.dockerOK("network", "disconnect", "dnet", "visitor")
	if r := d.docker("exec", "srv", "ping", "-c1", "-W1", "guest"); r.code == 0 {
		t.Errorf("srv still reaches the disconnected container: %s", r.stdout)
	}
	if _, err := os.Stat("/sys/class/net/" + veth); err == nil {
		t.Errorf("%s outlived docker network disconnect", veth)
	}
	// Connected again, then removed: its further network goes with it.
	d.dockerOK("network", "connect", "dnet", "visitor")
	d.dockerOK("rm", "-f", "srv", "visitor")
	if out := d.dockerOK("network", "inspect", "-f", "{{len .Containers}}", "dnet"); out != "0" {
		t.Errorf("dnet after its containers went: %s containers", out)
	}
	d.dockerOK("network", "rm", "dnet", "other")
	if out := d.dockerOK("network", "ls", "--filter", "name=dnet", "-q"); out != "" {
		t.Errorf("docker network ls after rm: %q", out)
	}
	e.noState()
}

// docker pull from a registry on loopback, and docker run of an image the
// store did not have (the CLI pulls on the create's 404); an image no
// registry has fails in the progress stream, with nothing left behind.
func TestDockerPull(t *testing.T) {
	needDocker(t)
	reg := startRegistry(t, "")
	e := newEnv(t)
	e.importBusybox()
	d := e.startDaemon()
	ref := reg.ref("demo/busybox:1")
	d.dockerOK("tag", "busybox", ref)
	if out := d.dockerOK("push", ref); !strings.Contains(out, "The push refers to repository ["+reg.ref("demo/busybox")+"]") || !strings.Contains(out, "1: digest: sha256:") {
		t.Errorf("docker push %s:\n%s", ref, out)
	}
	d.dockerOK("rmi", ref)
	r := d.docker("pull", ref)
	out := r.stdout + r.stderr
	if !strings.Contains(out, "1: Pulling from demo/busybox") || !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Errorf("docker pull %s:\n%s", ref, out)
	}
	d.dockerOK("rmi", ref)
	// A client that goes mid-pull: the daemon answers the next, whose pull
	// goes through, and nothing of the first is left in the store.
	conn, err := net.Dial("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1.50/images/create?fromImage=%s HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n", ref)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	conn.Read(make([]byte, 64)) // the status line: the pull is under way
	conn.Close()
	if out := d.dockerOK("run", "--rm", ref, "echo", "pulled"); !strings.HasSuffix(out, "pulled") {
		t.Errorf("docker run of an image to pull first: %q", out)
	}
	if r := d.docker("pull", reg.ref("demo/nosuch:1")); r.code == 0 || !strings.Contains(r.stderr, "demo/nosuch") {
		t.Errorf("docker pull of an image the registry lacks: exit %d %q", r.code, r.stderr)
	}
	if r := d.docker("push", reg.ref("demo/notstored:1")); r.code == 0 || !strings.Contains(r.stderr, "No such image") {
		t.Errorf("docker push of an image the store lacks: exit %d %q", r.code, r.stderr)
	}
	d.dockerOK("rmi", ref)
	time.Sleep(200 * time.Millisecond)
	if leftovers, _ := filepath.Glob(filepath.Join(e.root, "images", ".tmp-*")); len(leftovers) > 0 {
		t.Errorf("a pull whose client went left %v", leftovers)
	}

	// docker save | docker load: the image goes, and comes back whole.
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	d.dockerOK("save", "-o", archive, "busybox")
	id := d.dockerOK("image", "inspect", "-f", "{{.ID}}", "busybox")
	d.dockerOK("rmi", "busybox")
	if out := d.dockerOK("load", "-i", archive); out != "Loaded image: busybox:latest" {
		t.Errorf("docker load: %q", out)
	}
	if again := d.dockerOK("image", "inspect", "-f", "{{.ID}}", "busybox"); again != id {
		t.Errorf("after save and load, busybox is %s, was %s", again, id)
	}
	if out := d.dockerOK("run", "--rm", "busybox", "echo", "loaded"); out != "loaded" {
		t.Errorf("docker run of the loaded image: %q", out)
	}
	if r := d.docker("save", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, "No such image: nosuch") {
		t.Errorf("docker save nosuch: exit %d %q", r.code, r.stderr)
	}
	cmd := exec.Command("docker", "load")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+d.config)
	cmd.Stdin = strings.NewReader("not an archive")
	if r := runCommand(t, cmd); r.code == 0 || !strings.Contains(r.stderr, "docker load:") {
		t.Errorf("docker load of garbage: exit %d %q", r.code, r.stderr)
	}
	e.noState()
}

// Debian's docker-compose (1.29, Python) brings up a web service and a
// client that reaches it by its service name on the project's network, and
// takes all of it down; Python's docker SDK runs a container and reads its
// output. Real clients, through the daemon, with nothing left behind.
func TestComposeAndPythonSDK(t *testing.T) {
	needDocker(t)
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skip("docker-compose is not installed: apt-get install docker-compose (.ci/run does)")
	}
	if exec.Command("/usr/bin/python3", "-c", "import docker").Run() != nil {
		t.Skip("Python's docker SDK is not installed: apt-get install python3-docker (.ci/run does)")
	}
	e := newEnv(t)
	e.importBusybox()
	d := e.startDaemon()
	project := t.TempDir()
	os.WriteFile(filepath.Join(project, "docker-compose.yml"), []byte(`version: "3"
services:
  web:
    image: busybox
    command: sh -c "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"
  client:
    image: busybox
    command: sh -c "for i in $$(seq 50); do wget -qO- http://web/ && break; sleep 0.2; done; exec sleep 300"
    depends_on: [web]
`), 0o644)
	compose := func(args ...string) result {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-p", "gbtest"}, args...)...)
		cmd.Dir = project
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+d.config)
		return runCommand(t, cmd)
	}
	defer compose("down", "-t", "1")
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("docker-compose up -d: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var logs string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if logs = compose("logs", "client").stdout; strings.Contains(logs, "hello-from-web") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(logs, "hello-from-web") {
		t.Errorf("the client did not reach web by its service name:\n%s", logs)
	}
	if out := d.dockerOK("ps", "--filter", "label=com.docker.compose.project=gbtest", "--format", "{{.Names}}"); out != "gbtest_web_1\ngbtest_client_1" && out != "gbtest_client_1\ngbtest_web_1" {
		t.Errorf("docker ps --filter label=…project=gbtest: %q", out)
	}
	if r := compose("down", "-t", "1"); r.code != 0 { // pid 1 ignores SIGTERM: SIGKILL after 1 s
		t.Errorf("docker-compose down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out := d.dockerOK("ps", "-aq"); out != "" {
		t.Errorf("containers left after docker-compose down: %q", out)
	}
	if out := d.dockerOK("network", "ls", "--filter", "name=gbtest", "-q"); out != "" {
		t.Errorf("networks left after docker-compose down: %q", out)
	}

	sdk := exec.Command("/usr/bin/python3", "-c", `
import docker
c = docker.DockerClient(base_url="unix://`+d.socket+`", version="auto")
print(c.containers.run("busybox", ["sh", "-c", "echo hi-from-sdk"], remove=True).decode(), end="")
print(c.containers.run("busybox", entrypoint=["sh", "-c"], command=["echo ep-$((1+1))"], remove=True).decode(), end="")
print(len(c.containers.list(all=True)))`)
	if r := runCommand(t, sdk); r.code != 0 || r.stdout != "hi-from-sdk\nep-2\n0\n" {
		t.Errorf("Python's docker SDK: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	e.noState()
}
