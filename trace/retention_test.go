package trace

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Prune keeps the newest traces within both limits, and sweeps old
// temporary files only when thorough (a writer's own are young).
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i := range 10 {
		p := filepath.Join(dir, fmt.Sprintf("trace%d.json", i))
		os.WriteFile(p, make([]byte, 1000), 0o600)
		os.Chtimes(p, now, now.Add(time.Duration(i)*time.Second)) // trace9 is the newest
	}
	old := filepath.Join(dir, "trace3.json.123.tmp")
	os.WriteFile(old, nil, 0o600)
	os.Chtimes(old, now, now.Add(-time.Hour))
	young := filepath.Join(dir, "trace4.json.456.tmp")
	os.WriteFile(young, nil, 0o600)

	if n, _ := Prune(dir, Retention{Keep: 20, MaxBytes: 1 << 20}, false); n != 0 {
		t.Errorf("within the limits, 10 traces: %d removed", n)
	}
	if n, _ := Prune(dir, Retention{Keep: 6, MaxBytes: 1 << 20}, false); n != 4 {
		t.Errorf("keep 6 of 10: %d removed", n)
	}
	for _, gone := range []string{"trace0.json", "trace3.json"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s, one of the oldest, is still there", gone)
		}
	}
	if n, _ := Prune(dir, Retention{Keep: 6, MaxBytes: 3500}, true); n != 4 {
		t.Errorf("3 traces fit in 3500 bytes, and one stale temporary file: %d removed, want 4", n)
	}
	if _, err := os.Stat(young); err != nil {
		t.Error("a temporary file a writer may still be writing was removed")
	}
	if _, err := os.Stat(filepath.Join(dir, "trace9.json")); err != nil {
		t.Error("the newest trace was removed")
	}
}

// A full store is pruned to 1/32 below its limit, so that the writes after it
// do not each pay for a prune; the newest trace stays even alone over the size.
func TestPruneSlackAndNewest(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(i, size int) {
		p := filepath.Join(dir, fmt.Sprintf("trace%03d.json", i))
		os.WriteFile(p, make([]byte, size), 0o600)
		os.Chtimes(p, now, now.Add(time.Duration(i)*time.Second))
	}
	for i := range 65 {
		write(i, 10)
	}
	if n, _ := Prune(dir, Retention{Keep: 64, MaxBytes: 1 << 20}, false); n != 3 {
		t.Errorf("65 traces, keep 64: %d removed, want 3 (down to 62)", n)
	}
	write(65, 10)
	if n, _ := Prune(dir, Retention{Keep: 64, MaxBytes: 1 << 20}, false); n != 0 {
		t.Errorf("63 traces, keep 64: %d removed", n)
	}
	write(66, 2000)
	if n, _ := Prune(dir, Retention{Keep: 64, MaxBytes: 1000}, true); n != 63 {
		t.Errorf("the newest alone is over the size: %d removed, want every other (63)", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "trace066.json")); err != nil {
		t.Error("the newest trace was removed")
	}
}

// A write prunes a store of fewer than 64 traces every time, a larger one
// once in keep/32 writes, decided by the trace's random id.
func TestPrunesOneWriteInKeepOver32(t *testing.T) {
	if !prunes("4bf92f3577b34da6a3ce929d0e0e4736", Retention{Keep: 63}) {
		t.Error("a store of 63 skipped a prune")
	}
	n := 0
	for i := range 32000 {
		id := fmt.Sprintf("%024x%08x", i, rand.Uint32())
		if prunes(id, Retention{Keep: 1000}) {
			n++
		}
		if prunes(id, Retention{Keep: 1000}) != prunes(id, Retention{Keep: 1000}) {
			t.Fatal("one trace, two answers")
		}
	}
	if n < 800 || n > 1300 { // 32000/31 = 1032
		t.Errorf("keep 1000: %d of 32000 writes pruned, want about 1032", n)
	}
	// An id from outside (a caller's TRACEPARENT) that is not hex prunes,
	// rather than never.
	for _, id := range []string{"", "x", "zzzzzzzzzzzzzzzzzzzzzzzz", "4294967295", "ffffffffffffffffffffffffffffffffffff"} {
		prunes(id, Retention{Keep: 1000})
	}
	if !prunes("", Retention{Keep: 1000}) || !prunes("zzzzzzzz", Retention{Keep: 1000}) {
		t.Error("an id that is not hex skipped the prune")
	}
}

func TestRetentionFromEnv(t *testing.T) {
	for _, c := range []struct{ keep, mb, err string }{
		{"", "", ""},
		{"5", "1", ""},
		{"0", "", "GLASSBOX_TRACE_KEEP=0: expected"},
		{"-1", "", "GLASSBOX_TRACE_KEEP=-1"},
		{"4294967295000000000000", "", "GLASSBOX_TRACE_KEEP"},
		{"ten", "", "GLASSBOX_TRACE_KEEP=ten"},
		{"", "0", "GLASSBOX_TRACE_MAX_MB=0: expected"},
		{"", "1099511627776", "GLASSBOX_TRACE_MAX_MB=1099511627776"}, // << 20 would overflow
		{"", "1e3", "GLASSBOX_TRACE_MAX_MB=1e3"},
	} {
		t.Setenv("GLASSBOX_TRACE_KEEP", c.keep)
		t.Setenv("GLASSBOX_TRACE_MAX_MB", c.mb)
		r, err := RetentionFromEnv()
		switch {
		case c.err == "" && (err != nil || r.Keep < 1 || r.MaxBytes < 1<<20):
			t.Errorf("KEEP=%q MAX_MB=%q: %+v, %v", c.keep, c.mb, r, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("KEEP=%q MAX_MB=%q: %v, want an error naming %q", c.keep, c.mb, err, c.err)
		}
	}
}
