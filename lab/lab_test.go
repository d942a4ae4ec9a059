package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every lab has its page, its check and hints, numbered in order; the
// directories the labs' functions spell out are the ones Env.Dir gives.
func TestLabsAreComplete(t *testing.T) {
	e := &Env{Home: "/h"}
	for i, l := range All {
		if l.N != i+1 || l.Check == nil || len(l.Hints) == 0 {
			t.Errorf("lab %d (%s): number, check or hints missing", l.N, l.Slug)
		}
		page := l.Page()
		if !strings.HasPrefix(page, fmt.Sprintf("# Lab %d — ", l.N)) {
			t.Errorf("lab %d: page %.60q", l.N, page)
		}
		// Each page, in this order: what a workshop page needs.
		at := 0
		for _, section := range []string{"## Concept", "## Exercises", "## Man pages", "## Expected output", "## Check"} {
			i := strings.Index(page[at:], "\n"+section+"\n")
			if i < 0 {
				t.Errorf("lab %d: no %q after byte %d of its page", l.N, section, at)
				break
			}
			at += i + 1
		}
	}
	for n, dir := range map[int]string{3: lab3Dir, 5: lab5Dir, 9: lab9Dir, 11: lab11Dir, 12: lab12Dir, 13: lab13Dir} {
		l, _ := Find(n)
		if e.Dir(l) != filepath.Join(e.Home, dir) {
			t.Errorf("lab %d: Env.Dir %s, the lab uses %s", n, e.Dir(l), dir)
		}
	}
}

// Lab 9's port file is the attendee's to edit: what is not a port is no
// port, and the check says to pick one, whatever the file holds.
func TestPortFileHostile(t *testing.T) {
	e := &Env{Root: t.TempDir(), Home: t.TempDir()}
	dir := filepath.Join(e.Home, lab9Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"", "4294967295", "65536", "-1", "80\x00", "../../etc/passwd", "null", strings.Repeat("9", 1<<16)} {
		os.WriteFile(filepath.Join(dir, "port"), []byte(content), 0o644)
		if got := checkPorts(e); len(got) != 1 || !strings.Contains(got[0], "glassbox lab start 9") {
			t.Errorf("port file %.20q: %q", content, got)
		}
	}
}

// The labs' files are written as root into the attendee's directory: never
// through a link left there in place of the file or of the directory.
func TestLabFilesRefuseLinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	os.Symlink(victim, filepath.Join(dir, "config.json"))
	if err := writeIn(dir, "config.json", []byte("x"), 0o644); err == nil {
		t.Error("writeIn followed a link in place of the file")
	}
	linked := filepath.Join(t.TempDir(), "lab")
	os.Symlink(filepath.Dir(victim), linked)
	if err := writeIn(linked, "victim", []byte("x"), 0o644); err == nil {
		t.Error("writeIn followed a link in place of the directory")
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep" {
		t.Errorf("the file a link named was written: %q", data)
	}
	if err := writeIn(dir, "port", []byte("8080\n"), 0o644); err != nil {
		t.Errorf("a plain file: %v", err)
	}
}

// The lab registry's address is one the check and the hidden command take
// only as 127.0.0.1:PORT; its record, in the state root, names a process
// that reset kills only if it is a glassbox serving that address.
func TestRegistryRecordHostile(t *testing.T) {
	for _, addr := range []string{"", "0.0.0.0:5000", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:4294967295", "127.0.0.1:-1",
		"[::1]:5000", "localhost:5000", "127.0.0.1", "127.0.0.1:5000/../x", "127.0.0.1:5000\n"} {
		if loopbackAddr(addr) {
			t.Errorf("loopbackAddr(%q) = true", addr)
		}
		if err := ServeRegistry(t.TempDir(), addr); err == nil || !strings.Contains(err.Error(), "127.0.0.1:PORT only") {
			t.Errorf("ServeRegistry(%q): %v", addr, err)
		}
	}
	e := &Env{Root: t.TempDir(), Glassbox: "/proc/self/exe", Attendee: Attendee{Name: "a"}}
	os.MkdirAll(filepath.Join(e.Root, "labs"), 0o755)
	for _, record := range []string{"", "null", "1 127.0.0.1:5000", "4294967295 127.0.0.1:5000", "-1 127.0.0.1:5000",
		fmt.Sprint(os.Getpid(), " 127.0.0.1:5000"), "x y z", "99999999999999999999 127.0.0.1:1"} {
		os.WriteFile(registryRecord(e), []byte(record), 0o644)
		if pid, addr, ok := runningRegistry(e); ok {
			t.Errorf("record %q: taken for the registry (pid %d, %s)", record, pid, addr)
		}
	}
}
