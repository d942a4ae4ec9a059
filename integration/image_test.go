package integration

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// importBusybox puts the busybox image into the test's image store.
func (e *env) importBusybox() {
	e.t.Helper()
	if r := e.run("", "import", busyboxLayout); r.code != 0 {
		e.t.Fatalf("import busybox: exit %d: %s", r.code, r.stderr)
	}
}

// busyboxImage is the busybox layout's image, to build others on.
func busyboxImage(t *testing.T) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(busyboxLayout)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := idx.IndexManifest()
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tarLayer is a layer made of entries: name → content ("" with a trailing
// slash in the name: a directory).
func tarLayer(t *testing.T, entries ...[2]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e[1]))}
		if strings.HasSuffix(e[0], "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		tw.WriteHeader(hdr)
		tw.Write([]byte(e[1]))
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// dockerArchive writes images as a `docker save` archive.
func dockerArchive(t *testing.T, images map[string]v1.Image) string {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for ref, img := range images {
		tag, err := name.NewTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		refs[tag] = img
	}
	path := filepath.Join(t.TempDir(), "archive.tar")
	if err := tarball.MultiRefWriteToFile(path, refs); err != nil {
		t.Fatal(err)
	}
	return path
}

// Each archive format imports, and the image runs.
func TestImportFormats(t *testing.T) {
	e := newEnv(t)
	saved := filepath.Join(t.TempDir(), "saved.tar")
	e.importBusybox()
	if r := e.run("", "save", "-o", saved, "busybox"); r.code != 0 {
		t.Fatalf("save: %s", r.stderr)
	}
	plain := filepath.Join(t.TempDir(), "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", plain, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	for _, c := range []struct{ what, src string }{
		{"OCI layout directory", busyboxLayout},
		{"OCI layout tar (glassbox save)", saved},
		{"docker save archive", dockerArchive(t, map[string]v1.Image{"busybox:latest": busyboxImage(t)})},
		{"rootfs tarball", plain},
	} {
		e2 := newEnv(t)
		if r := e2.run("", "import", c.src, "imported:1"); r.code != 0 {
			t.Errorf("%s: import: exit %d %s", c.what, r.code, r.stderr)
			continue
		}
		if out := e2.runImage("imported:1", "cat", "/etc/passwd"); !strings.Contains(out, "root:x:0:0") {
			t.Errorf("%s: /etc/passwd in the container: %q", c.what, out)
		}
	}
}

// runImage runs an image and returns its output; it must exit 0.
func (e *env) runImage(img string, cmd ...string) string {
	e.t.Helper()
	r := e.run("", append([]string{"run", "--rm", "--network", "none", img}, cmd...)...)
	if r.code != 0 {
		e.t.Fatalf("run %s %v: exit %d\nstdout: %s\nstderr: %s", img, cmd, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// A whiteout in an upper layer hides a lower file; an opaque directory hides
// all of a lower directory.
func TestWhiteoutAndOpaque(t *testing.T) {
	e := newEnv(t)
	base := busyboxImage(t)
	img, err := mutate.AppendLayers(base,
		tarLayer(t, [2]string{"a/", ""}, [2]string{"a/gone", "1"}, [2]string{"a/kept", "2"}, [2]string{"d/", ""}, [2]string{"d/old", "3"}),
		tarLayer(t, [2]string{"a/.wh.gone", ""}),
		tarLayer(t, [2]string{"d/", ""}, [2]string{"d/.wh..wh..opq", ""}, [2]string{"d/new", "4"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.run("", "import", dockerArchive(t, map[string]v1.Image{"layered:1": img})); r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	out := e.runImage("layered:1", "sh", "-c", "ls /a /d")
	if !strings.Contains(out, "kept") || strings.Contains(out, "gone") || !strings.Contains(out, "new") || strings.Contains(out, "old") {
		t.Errorf("want /a/kept, /d/new only; ls says:\n%s", out)
	}
}

// A layer whose entry climbs out with ../ is refused, and leaves nothing.
func TestPathTraversalRefused(t *testing.T) {
	e := newEnv(t)
	img, err := mutate.AppendLayers(busyboxImage(t), tarLayer(t, [2]string{"../../../../tmp/glassbox-evil", "x"}))
	if err != nil {
		t.Fatal(err)
	}
	r := e.run("", "import", dockerArchive(t, map[string]v1.Image{"evil:1": img}))
	if r.code != 125 || !strings.Contains(r.stderr, "path traversal") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("exit %d, stderr %q: want 125 and one line naming the path traversal", r.code, r.stderr)
	}
	if _, err := os.Stat("/tmp/glassbox-evil"); err == nil {
		os.Remove("/tmp/glassbox-evil")
		t.Error("the layer wrote /tmp/glassbox-evil")
	}
	if r := e.run("", "images"); strings.Contains(r.stdout, "evil") {
		t.Errorf("the refused image is listed:\n%s", r.stdout)
	}
	if tmp, _ := filepath.Glob(filepath.Join(e.root, "images", "layers", ".tmp-*")); len(tmp) > 0 {
		t.Errorf("half-unpacked layers left: %v", tmp)
	}
}

// Two images on one base store it once; rmi frees only what is unshared.
func TestSharedLayers(t *testing.T) {
	e := newEnv(t)
	base := busyboxImage(t)
	one, _ := mutate.AppendLayers(base, tarLayer(t, [2]string{"one", "1"}))
	two, _ := mutate.AppendLayers(base, tarLayer(t, [2]string{"two", "2"}))
	if r := e.run("", "import", dockerArchive(t, map[string]v1.Image{"one:1": one, "two:1": two})); r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	layers := func() int {
		entries, _ := os.ReadDir(filepath.Join(e.root, "images", "layers"))
		return len(entries)
	}
	if n := layers(); n != 3 {
		t.Errorf("%d layer directories for a shared base and two own layers, want 3", n)
	}
	if r := e.run("", "rmi", "one:1"); r.code != 0 {
		t.Fatalf("rmi: %s", r.stderr)
	}
	if n := layers(); n != 2 {
		t.Errorf("after rmi one: %d layer directories, want 2 (the base stays for two)", n)
	}
	if out := e.runImage("two:1", "cat", "/two"); out != "2" {
		t.Errorf("two still runs: %q", out)
	}
	e.run("", "rmi", "two:1")
	if n := layers(); n != 0 {
		t.Errorf("after rmi two: %d layer directories, want 0", n)
	}
}

// The image's config applies with Docker's precedence.
func TestImageConfig(t *testing.T) {
	e := newEnv(t)
	img, _ := mutate.AppendLayers(busyboxImage(t), tarLayer(t, [2]string{"work/", ""}))
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.Config.Entrypoint = []string{"echo", "ep"}
	cfg.Config.Cmd = []string{"default-arg"}
	cfg.Config.Env = append(cfg.Config.Env, "FROM_IMAGE=yes")
	cfg.Config.WorkingDir = "/work"
	cfg.Config.User = "1000"
	img, _ = mutate.ConfigFile(img, cfg)
	if r := e.run("", "import", dockerArchive(t, map[string]v1.Image{"conf:1": img})); r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"conf:1"}, "ep default-arg\n"},
		{[]string{"conf:1", "given"}, "ep given\n"},
		{[]string{"--entrypoint", "sh", "conf:1", "-c", "echo $FROM_IMAGE $(pwd) $(id -u)"}, "yes /work 1000\n"},
		{[]string{"--entrypoint", "", "-w", "/", "-u", "0", "-e", "FROM_IMAGE=flag", "conf:1", "sh", "-c", "echo $FROM_IMAGE $(pwd) $(id -u)"}, "flag / 0\n"},
	} {
		r := e.run("", append([]string{"run", "--rm", "--network", "none"}, c.args...)...)
		if r.code != 0 || r.stdout != c.want {
			t.Errorf("run %v: exit %d, %q (stderr %q), want %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

// rmi refuses an image a container uses, until the container is gone.
func TestRmiInUse(t *testing.T) {
	e := newEnv(t)
	e.importBusybox()
	if r := e.run("", "run", "--network", "none", "busybox", "true"); r.code != 0 { // kept: no --rm
		t.Fatalf("run: %s", r.stderr)
	}
	if r := e.run("", "rmi", "busybox"); r.code != 125 || !strings.Contains(r.stderr, "used by a container") {
		t.Errorf("rmi of an image in use: exit %d %q", r.code, r.stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(e.root, "containers", "*"))
	for _, d := range dirs {
		e.run("", "rm", filepath.Base(d))
	}
	if r := e.run("", "rmi", "busybox"); r.code != 0 {
		t.Errorf("rmi after rm: exit %d %q", r.code, r.stderr)
	}
}

// -P publishes the ports the image exposes, each on an ephemeral host port.
func TestPublishAll(t *testing.T) {
	e := newEnv(t)
	img, _ := mutate.AppendLayers(busyboxImage(t), tarLayer(t, [2]string{"www/", ""}, [2]string{"www/index.html", "exposed\n"}))
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}}
	img, _ = mutate.ConfigFile(img, cfg)
	if r := e.run("", "import", dockerArchive(t, map[string]v1.Image{"web:1": img})); r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	cmd, _ := startGlassbox(t, e, "run", "--rm", "-P", "web:1", "sh", "-c", `trap "exit 0" TERM; httpd -p 80 -h /www; echo ready; sleep 1000 & wait $!`)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); exitOf(t, cmd) }()
	published := leasedPorts(e.root)
	host, _, ok := strings.Cut(published, ":80/tcp")
	if !ok {
		t.Fatalf("-P published %q, want an ephemeral port for 80/tcp", published)
	}
	if body := httpGet(t, "http://127.0.0.1:"+host+"/"); body != "exposed\n" {
		t.Errorf("127.0.0.1:%s answered %q", host, body)
	}
}
