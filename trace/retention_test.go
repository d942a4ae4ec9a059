package trace

import (
	"fmt"
	"os"
	"path/filepath"
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
