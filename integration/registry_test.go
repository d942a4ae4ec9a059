package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// A real registry — Debian's docker-registry (distribution), which .ci/run
// installs — on a loopback port, with its storage in a temporary directory.
// Everything these tests pull was pushed by them.

type registry struct {
	addr    string // 127.0.0.1:port
	storage string
}

func startRegistry(t *testing.T, htpasswd string) *registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry is not installed: apt-get install docker-registry (.ci/run does)")
	}
	dir := t.TempDir()
	r := &registry{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), storage: filepath.Join(dir, "storage")}
	auth := ""
	if htpasswd != "" {
		os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(htpasswd), 0o600)
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: glassbox-test\n    path: %s\n", filepath.Join(dir, "htpasswd"))
	}
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n%s", r.storage, r.addr, auth)
	os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600)
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Close()
			return r
		}
		if time.Now().After(deadline) {
			t.Fatal("the registry did not start listening")
		}
	}
}

func (r *registry) ref(repo string) string { return r.addr + "/" + repo }

// imageJSON is one record of `glassbox images --format json`.
type imageJSON struct {
	ID, Manifest, Platform string
	Tags                   []string
}

func (e *env) images() []imageJSON {
	e.t.Helper()
	r := e.run("", "images", "--format", "json")
	var out []imageJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		e.t.Fatalf("images --format json: %v: %q", err, r.stdout)
	}
	return out
}

// Push, then pull by tag and by digest, and run what came back.
func TestRegistryPushPull(t *testing.T) {
	reg := startRegistry(t, "")
	e := newEnv(t)
	e.importBusybox()
	ref := reg.ref("demo/busybox:1")
	for _, args := range [][]string{{"tag", "busybox", ref}, {"push", ref}, {"rmi", ref}, {"rmi", "busybox"}} {
		if r := e.run("", args...); r.code != 0 {
			t.Fatalf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}
	if len(e.images()) != 0 {
		t.Fatal("images left after rmi")
	}
	if r := e.run("", "pull", ref); r.code != 0 {
		t.Fatalf("pull by tag: %s", r.stderr)
	}
	imgs := e.images()
	if len(imgs) != 1 {
		t.Fatalf("images after pull: %+v", imgs)
	}
	if out := e.runImage(ref, "echo", "pulled"); out != "pulled\n" {
		t.Errorf("run of the pulled image: %q", out)
	}
	byDigest := reg.ref("demo/busybox@" + imgs[0].Manifest)
	e.run("", "rmi", ref)
	if r := e.run("", "pull", byDigest); r.code != 0 {
		t.Fatalf("pull by digest: %s", r.stderr)
	}
	if imgs := e.images(); len(imgs) != 1 || imgs[0].Manifest != byDigest[strings.Index(byDigest, "@")+1:] {
		t.Errorf("after pull by digest: %+v", imgs)
	}
	e.run("", "rmi", imgs[0].ID)
	// run of an image the store lacks pulls it first, and says so on stderr.
	r := e.run("", "run", "--rm", ref, "echo", "pulled by run")
	if r.code != 0 || r.stdout != "pulled by run\n" || !strings.Contains(r.stderr, ref) {
		t.Errorf("run %s without a pull: exit %d, %q %q", ref, r.code, r.stdout, r.stderr)
	}
	if imgs := e.images(); len(imgs) != 1 || imgs[0].Manifest != byDigest[strings.Index(byDigest, "@")+1:] {
		t.Errorf("after run pulled %s: %+v", ref, imgs)
	}
	if r := e.run("", "run", "--rm", reg.ref("demo/nosuch:1"), "true"); r.code != 125 || !strings.Contains(r.stderr, "demo/nosuch") {
		t.Errorf("run of an image no registry has: exit %d %q", r.code, r.stderr)
	}
}

// What run takes for an image reference it checks itself, before the pull
// it hands to glassbox-full (as a command line: nothing may read as a flag
// there, or as a path).
func TestRunChecksAReferenceBeforeItPulls(t *testing.T) {
	e := newEnv(t)
	for _, ref := range []string{"--root=/etc", "-x", "../../x", "busybox/../../etc", "busybox@sha256:4294967295", strings.Repeat("a", 5000), "BusyBox:1"} {
		r := e.run("", "run", "--rm", "--", ref, "true")
		if r.code != 125 || !strings.Contains(r.stderr, "image reference") || strings.Contains(r.stderr, "pulling") {
			t.Errorf("run %q: exit %d %q, want the reference refused before any pull", ref, r.code, r.stderr)
		}
	}
	e.noState()
}

// From a multi-platform index, pull takes the requested platform's image.
func TestRegistryMultiPlatform(t *testing.T) {
	reg := startRegistry(t, "")
	e := newEnv(t)
	amd, arm := platformImage(t, "amd64"), platformImage(t, "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	tag, _ := name.NewTag(reg.ref("multi:1"))
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	if r := e.run("", "pull", "--platform", "linux/arm64", tag.String()); r.code != 0 {
		t.Fatalf("pull --platform linux/arm64: %s", r.stderr)
	}
	armID, _ := arm.ConfigName()
	if imgs := e.images(); len(imgs) != 1 || imgs[0].ID != armID.String() || imgs[0].Platform != "linux/arm64" {
		t.Errorf("want the arm64 image %s, have %+v", armID, imgs)
	}
	if r := e.run("", "pull", "--platform", "linux/s390x", tag.String()); r.code != 125 {
		t.Errorf("a platform the index lacks: exit %d %q", r.code, r.stderr)
	}
	e.run("", "rmi", tag.String())
}

func platformImage(t *testing.T, arch string) v1.Image {
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	img, _ = mutate.ConfigFile(img, cfg)
	return img
}

// With htpasswd auth: refused without credentials and with wrong ones;
// `login` stores good ones, and push and pull use them.
func TestRegistryLogin(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	reg := startRegistry(t, "tester:"+string(hash)+"\n")
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // where login writes config.json
	e := newEnv(t)
	e.importBusybox()
	ref := reg.ref("private/busybox:1")
	e.run("", "tag", "busybox", ref)
	if r := e.run("", "push", ref); r.code != 125 || !strings.Contains(r.stderr, "401 Unauthorized") {
		t.Errorf("push without login: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("wrong\n", "login", "-u", "tester", "--password-stdin", reg.addr); r.code != 125 || !strings.Contains(r.stderr, "401") {
		t.Errorf("login with a wrong password: exit %d %q", r.code, r.stderr)
	}
	if r := e.run("s3cret\n", "login", "-u", "tester", "--password-stdin", reg.addr); r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("login: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json")); !strings.Contains(string(data), reg.addr) {
		t.Errorf("config.json has no entry for %s: %s", reg.addr, data)
	}
	for _, args := range [][]string{{"push", ref}, {"rmi", ref}, {"rmi", "busybox"}, {"pull", ref}} {
		if r := e.run("", args...); r.code != 0 {
			t.Fatalf("%v after login: exit %d %s", args, r.code, r.stderr)
		}
	}
	e.run("", "rmi", ref)
}

// A blob whose content does not match its digest is refused, and nothing of
// it is stored.
func TestRegistryCorruptBlob(t *testing.T) {
	reg := startRegistry(t, "")
	e := newEnv(t)
	img, _ := random.Image(64<<10, 1)
	tag, _ := name.NewTag(reg.ref("corrupt:1"))
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	data := filepath.Join(reg.storage, "docker/registry/v2/blobs/sha256", d.Hex[:2], d.Hex, "data")
	blob, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	blob[len(blob)/2] ^= 0xff
	os.WriteFile(data, blob, 0o644)
	r := e.run("", "pull", tag.String())
	if r.code != 125 || !strings.Contains(r.stderr, d.String()) {
		t.Errorf("pull of a corrupted layer: exit %d %q", r.code, r.stderr)
	}
	for _, dir := range []string{"blobs/sha256", "layers"} {
		entries, _ := os.ReadDir(filepath.Join(e.root, "images", dir))
		for _, entry := range entries {
			if entry.Name() == d.Hex || strings.HasPrefix(entry.Name(), ".tmp-") {
				t.Errorf("%s/%s stored from a corrupted blob", dir, entry.Name())
			}
		}
	}
	if len(e.images()) != 0 {
		t.Error("an image record was made")
	}
}

// A pull killed half-way leaves only temporary files, which the next pull
// removes; the next pull succeeds.
func TestRegistryKilledPull(t *testing.T) {
	reg := startRegistry(t, "")
	e := newEnv(t)
	img, _ := random.Image(48<<20, 1) // random bytes: no compression makes it small
	tag, _ := name.NewTag(reg.ref("big:1"))
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(glassbox, "pull", tag.String())
	cmd.Env = append(os.Environ(), "GLASSBOX_ROOT="+e.root)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the layer download has begun, then kill.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if tmp, _ := filepath.Glob(filepath.Join(e.root, "images", "blobs", "sha256", ".tmp-*")); len(tmp) > 0 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if r := e.run("", "pull", tag.String()); r.code != 0 {
		t.Fatalf("pull after a killed pull: exit %d %s", r.code, r.stderr)
	}
	for _, dir := range []string{"blobs/sha256", "layers"} {
		if tmp, _ := filepath.Glob(filepath.Join(e.root, "images", dir, ".tmp-*")); len(tmp) > 0 {
			t.Errorf("orphans left in %s: %v", dir, tmp)
		}
	}
	e.run("", "rmi", tag.String())
}
