package stages

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
)

// What a teardown could not undo keeps its record: removed, it would leave a
// cgroup (or mount) nobody knows of. gc, trying again, finishes the job.
func TestUndoFailureKeepsRecord(t *testing.T) {
	root := t.TempDir()
	c, err := container.Create(root, container.NewID(), "", nil) // a bare record, as gc finds after a kill
	if err != nil {
		t.Fatal(err)
	}
	// A "cgroup" rmdir(2) refuses: a directory with a file in it.
	stuck := filepath.Join(t.TempDir(), "cgroup")
	os.MkdirAll(stuck, 0o755)
	os.WriteFile(filepath.Join(stuck, "busy"), nil, 0o644)
	c.Cgroups = []string{stuck}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	err = Cleanup(c)
	if err == nil || !strings.Contains(err.Error(), "the record stays: glassbox gc tries again") {
		t.Fatalf("Cleanup with an undo that fails: %v", err)
	}
	kept, err := container.Load(c.Dir)
	if err != nil || len(kept.Cgroups) != 1 || !kept.MarkedForRemoval() {
		t.Fatalf("record after a failed undo: %+v, %v (want it kept and marked for removal)", kept, err)
	}
	os.Remove(filepath.Join(stuck, "busy"))
	if err := kept.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(kept); err != nil {
		t.Fatalf("Cleanup once the undo can succeed: %v", err)
	}
	if _, err := os.Stat(stuck); !os.IsNotExist(err) {
		t.Errorf("the cgroup is still there: %v", err)
	}
	if entries, _ := os.ReadDir(container.ContainersDir(root)); len(entries) > 0 {
		t.Errorf("left in the state root: %v", entries)
	}
}

// An Error's cause is there for errors.Is: the error itself, or — for one
// that came from the init, as JSON — the errno it named.
func TestErrorUnwrap(t *testing.T) {
	if err := callError("mkdir(/x)", unix.ENOSPC, ""); !errors.Is(err, unix.ENOSPC) {
		t.Errorf("callError(ENOSPC): errors.Is ENOSPC is false")
	}
	data, _ := json.Marshal(callError("pivot_root(/r)", unix.EINVAL, ""))
	var fromInit Error
	json.Unmarshal(data, &fromInit)
	if !errors.Is(&fromInit, unix.EINVAL) || errors.Is(&fromInit, unix.EPERM) {
		t.Errorf("an Error from the init (%s): errors.Is EINVAL is not the only true one", data)
	}
	if (&Error{Msg: "no cause"}).Unwrap() != nil {
		t.Errorf("an Error without a cause unwraps to one")
	}
}
