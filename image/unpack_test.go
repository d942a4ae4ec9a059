package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

type entry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
	pax        map[string]string
}

func layerTar(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body)), PAXRecords: e.pax, Format: tar.FormatPAX}
		if e.typ == tar.TypeChar {
			hdr.Devmajor, hdr.Devminor = 1, 3
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return &buf
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: owners, device nodes and trusted.* xattrs")
	}
}

// Whiteouts and opaque markers become what overlayfs reads; files, links,
// devices, modes and xattrs arrive as the tar says.
func TestUnpackTranslatesForOverlay(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	_, err := Unpack(layerTar(t,
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/.wh.passwd", typ: tar.TypeReg},
		entry{name: "var/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "bin/tool", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o4755},
		entry{name: "bin/alias", typ: tar.TypeLink, link: "bin/tool"},
		entry{name: "bin/sym", typ: tar.TypeSymlink, link: "/outside/anywhere"},
		entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		entry{name: "data", typ: tar.TypeReg, body: "x", pax: map[string]string{"SCHILY.xattr.user.note": "hi"}},
	), dir)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "etc/passwd"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/.wh.passwd should be a 0:0 character device (an overlay whiteout): %v %o", err, st.Mode)
	}
	if v, err := getxattr(filepath.Join(dir, "var"), "trusted.overlay.opaque"); err != nil || v != "y" {
		t.Errorf("var should be opaque: %q %v", v, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin/tool")); err != nil || fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/tool mode: %v %v", fi.Mode(), err)
	}
	var a, b unix.Stat_t
	unix.Stat(filepath.Join(dir, "bin/tool"), &a)
	unix.Stat(filepath.Join(dir, "bin/alias"), &b)
	if a.Ino != b.Ino {
		t.Error("bin/alias should be a hard link of bin/tool")
	}
	if l, _ := os.Readlink(filepath.Join(dir, "bin/sym")); l != "/outside/anywhere" {
		t.Errorf("symlink target %q", l)
	}
	if err := unix.Lstat(filepath.Join(dir, "dev/null"), &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null: %v", err)
	}
	probe := filepath.Join(dir, "probe")
	os.WriteFile(probe, nil, 0o644)
	if unix.Lsetxattr(probe, "user.probe", []byte("1"), 0) == nil { // the filesystem holds user.* xattrs
		if v, err := getxattr(filepath.Join(dir, "data"), "user.note"); err != nil || v != "hi" {
			t.Errorf("xattr user.note: %q %v", v, err)
		}
	}
}

// Nothing a layer says can write outside its directory.
func TestUnpackStaysInside(t *testing.T) {
	needRoot(t)
	outside := t.TempDir()
	for name, entries := range map[string][]entry{
		"dot-dot":          {{name: "../../" + filepath.Base(outside) + "/evil", typ: tar.TypeReg, body: "x"}},
		"hard link escape": {{name: "passwd", typ: tar.TypeLink, link: "../../etc/passwd"}},
	} {
		dir := t.TempDir()
		if _, err := Unpack(layerTar(t, entries...), dir); !errors.Is(err, ErrEscape) {
			t.Errorf("%s: err %v, want a path traversal refusal", name, err)
		}
	}
	// A symlink to outside, then a file "through" it: the file lands inside,
	// where the symlink points relative to the layer's root.
	dir := t.TempDir()
	_, err := Unpack(layerTar(t,
		entry{name: "escape", typ: tar.TypeSymlink, link: outside},
		entry{name: "escape/evil", typ: tar.TypeReg, body: "x"},
		entry{name: "up", typ: tar.TypeSymlink, link: "../../../../.."},
		entry{name: "up/evil2", typ: tar.TypeReg, body: "x"},
	), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(outside, "evil"), filepath.Join(filepath.Dir(dir), "evil2")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("a layer wrote %s, outside its directory", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, outside, "evil")); err != nil {
		t.Errorf("the file should be inside the layer, under the symlink's target: %v", err)
	}
}

func getxattr(path, name string) (string, error) {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
