package plainfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A file opened here is what os.OpenFile would give: the same contents,
// close-on-exec, and the same errors.
func TestLikeOSOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := Open(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("hello"); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD = %#x, %v: not close-on-exec", flags, err)
	}
	f.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640&^umask() {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if data, err := ReadFile(path); err != nil || string(data) != "hello" {
		t.Errorf("ReadFile = %q, %v", data, err)
	}
	_, err = Open(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	_, want := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if !errors.Is(err, fs.ErrExist) || err.Error() != want.Error() {
		t.Errorf("O_EXCL on an existing file: %v, want %v", err, want)
	}
	_, err = ReadFile(path + ".missing")
	_, want = os.ReadFile(path + ".missing")
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != want.Error() {
		t.Errorf("a missing file: %v, want %v", err, want)
	}
}

// /proc files report size 0: ReadFile reads to the end all the same, past
// the first buffer. (Compared by shape, not with a second read: a mount
// elsewhere may change it between the two.)
func TestReadsProcFilesWhole(t *testing.T) {
	got, err := ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(got) <= 512 || !strings.HasSuffix(string(got), "\n") {
		t.Fatalf("read %d bytes of /proc/self/mountinfo: %q", len(got), got)
	}
	for _, l := range lines {
		if !strings.Contains(l, " - ") {
			t.Errorf("not a whole mountinfo line: %q", l)
		}
	}
}

func umask() os.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return os.FileMode(m)
}
