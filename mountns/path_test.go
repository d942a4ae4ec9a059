package mountns

import (
	"os"
	"path/filepath"
	"testing"
)

// A symlink in the rootfs that points at the host must not take a mount there.
func TestMkdirInRootStaysInside(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "escape"))
	os.Symlink("../../..", filepath.Join(root, "up"))
	got, err := MkdirInRoot(root, "/escape/dev/null", File)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, outside, "dev", "null")
	if got != want {
		t.Errorf("resolved to %q, want %q inside the root", got, want)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was created outside the root: %v", entries)
	}
	if got, _ := MkdirInRoot(root, "/up/proc", Dir); got != filepath.Join(root, "proc") {
		t.Errorf(`"../../.." escaped the root: %q`, got)
	}
	if fi, err := os.Stat(filepath.Join(root, outside, "dev", "null")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("File kind should create a regular file: %v %v", fi, err)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/tab\011`: "/tab\t", `/bad\09`: `/bad\09`} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMountOf(t *testing.T) {
	m, err := MountOf("/proc/self")
	if err != nil || m.Mountpoint != "/proc" || m.FSType != "proc" {
		t.Errorf("MountOf(/proc/self) = %+v, %v; want the proc mount on /proc", m, err)
	}
	if m, _ := MountOf("/"); m.Mountpoint != "/" {
		t.Errorf("MountOf(/) = %+v", m)
	}
}
