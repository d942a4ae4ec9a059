package jsonlog

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type entry struct {
	Stream, Log string
}

func readLog(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// Lines are split at newlines, a terminal's output is not; what
// encoding/json reads back is what was written (invalid UTF-8 as U+FFFD).
func TestLinesAndEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	log := Open(path, 0, 1)
	out := &Lines{Log: log, Stream: "stdout"}
	out.Write([]byte("one\ntw"))
	out.Write([]byte("o\n\"q\" \\ \t\x01\x1f é \xff\n"))
	out.Write([]byte("no newline"))
	out.Flush()
	(&Lines{Log: log, Stream: "stderr", Raw: true}).Write([]byte("$ "))
	log.Close()
	want := []entry{{"stdout", "one\n"}, {"stdout", "two\n"}, {"stdout", "\"q\" \\ \t\x01\x1f é \ufffd\n"}, {"stdout", "no newline"}, {"stderr", "$ "}}
	got := readLog(t, path)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// Rotation keeps MaxFiles files of at most MaxSize, the newest lines last.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	log := Open(path, 300, 3)
	for i := range 100 {
		log.WriteLine("stdout", []byte("line "+strconv.Itoa(i)+"\n"))
	}
	log.Close()
	var all []entry
	for _, p := range []string{path + ".2", path + ".1", path} {
		if fi, err := os.Stat(p); err != nil || fi.Size() > 300 {
			t.Fatalf("%s: %v, want a file of at most 300 bytes", p, err)
		}
		all = append(all, readLog(t, p)...)
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("a fourth file was kept")
	}
	for i, e := range all {
		if want := "line " + strconv.Itoa(100-len(all)+i) + "\n"; e.Log != want {
			t.Fatalf("entry %d is %q, want %q: the files hold the last lines in order", i, e.Log, want)
		}
	}
	one := filepath.Join(t.TempDir(), "log")
	log = Open(one, 100, 1)
	for range 10 {
		log.WriteLine("stdout", []byte(strings.Repeat("x", 20)+"\n"))
	}
	log.Close()
	if got := readLog(t, one); len(got) == 0 || len(got) > 2 {
		t.Errorf("max-file=1: %d lines kept, want the log started again", len(got))
	}
}
