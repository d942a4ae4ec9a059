package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// gcPass does what glassbox gc does with a state root's records: take each
// free lock, and remove the container unless it exited (kept). It returns
// the ids it removed.
func gcPass(t *testing.T, root string) []string {
	all, err := List(root)
	if err != nil {
		t.Error(err)
	}
	var removed []string
	for _, c := range all {
		if c.Lock() != nil {
			continue
		}
		if c.Status == Exited {
			c.Unlock()
			continue
		}
		removed = append(removed, c.ID)
		if err := c.Remove(); err != nil {
			t.Error(err)
		}
	}
	for _, c := range Unfinished(root) {
		t.Errorf("gc took %s for unfinished while nothing was killed", c.Dir)
		c.Unlock()
	}
	return removed
}

// Containers created, run, kept or removed while gc passes run all along: gc
// never sees a state directory half made or half removed, nor takes a
// container that exited after it listed it for a dead one; rm is not refused
// because gc looks at the container.
func TestGCAlongsideCreateAndExit(t *testing.T) {
	root := t.TempDir()
	const n = 200
	done := make(chan struct{})
	var mu sync.Mutex
	var removed []string
	var gcs sync.WaitGroup
	for range 3 {
		gcs.Add(1)
		go func() {
			defer gcs.Done()
			for {
				select {
				case <-done:
					return
				default:
					r := gcPass(t, root)
					mu.Lock()
					removed = append(removed, r...)
					mu.Unlock()
				}
			}
		}()
	}
	var runs sync.WaitGroup
	for i := range n {
		runs.Add(1)
		go func() {
			defer runs.Done()
			c, err := Create(root, NewID(), "", &specs.Spec{})
			if err != nil {
				t.Error(err)
				return
			}
			c.Status = Running
			if err := c.Save(); err != nil {
				t.Error(err)
			}
			c.Status = Exited
			if err := c.Save(); err != nil {
				t.Error(err)
			}
			c.Unlock()
			if i%2 == 1 {
				return // kept
			}
			// rm: its lock may be held a moment by a gc looking at it.
			if err := c.Lock(); err != nil {
				t.Errorf("rm of an exited container alongside gc: %v", err)
				return
			}
			if err := c.Remove(); err != nil {
				t.Error(err)
			}
		}()
	}
	runs.Wait()
	close(done)
	gcs.Wait()
	if len(removed) > 0 {
		t.Errorf("gc removed %d healthy containers: %v", len(removed), removed)
	}
	all, _ := List(root)
	if len(all) != n/2 {
		t.Errorf("%d containers listed, want the %d kept", len(all), n/2)
	}
	entries, _ := os.ReadDir(ContainersDir(root))
	if len(entries) != n/2 {
		t.Errorf("%d entries in the state root, want %d (nothing half made or half removed)", len(entries), n/2)
	}
}

// A container removed while another process looks it up is found whole or
// not at all.
func TestRemoveLeavesNothingHalfDone(t *testing.T) {
	root := t.TempDir()
	c, err := Create(root, NewID(), "", &specs.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.Path("rootfs-upper"), []byte("x"), 0o600)
	dir := c.Dir
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := (&Container{Dir: dir}).Lock(); err != ErrGone {
		t.Errorf("Lock of a removed container: %v, want ErrGone", err)
	}
	if entries, _ := os.ReadDir(ContainersDir(root)); len(entries) != 0 {
		t.Errorf("left in the state root: %v", entries)
	}
}

// gc finishes what a killed glassbox was making or removing, and leaves
// alone what a live one is, lock or no lock.
func TestUnfinished(t *testing.T) {
	root := t.TempDir()
	dirs := ContainersDir(root)
	os.MkdirAll(dirs, 0o711)
	mk := func(name string, lock bool) string {
		os.MkdirAll(filepath.Join(dirs, name, "upper"), 0o700)
		if lock {
			os.WriteFile(filepath.Join(dirs, name, "lock"), nil, 0o600)
		}
		return name
	}
	dead := func(prefix string) string { return prefix + "0-0-" } // no process
	swept := []string{
		mk(dead(creatingPrefix)+"after-its-lock", true),
		mk(dead(creatingPrefix)+"before-its-lock", false),
		mk(dead(removingPrefix)+"while-removing", true),
		mk(dead(removingPrefix)+"after-the-unlink", false),
	}
	left := []string{
		mk(inProgress(creatingPrefix)+"between-mkdir-and-flock", false),
		mk(inProgress(removingPrefix)+"between-unlink-and-rmdir", false),
		mk(dead(removingPrefix)+"its-lock-handed-on", true),
	}
	heir := &Container{Dir: filepath.Join(dirs, left[2])}
	if err := heir.Lock(); err != nil { // a process the lock went to holds it
		t.Fatal(err)
	}
	defer heir.Unlock()
	var gone []string
	for _, c := range Unfinished(root) {
		if err := c.Remove(); err != nil {
			t.Fatal(err)
		}
		gone = append(gone, filepath.Base(c.Dir))
	}
	slices.Sort(gone)
	slices.Sort(swept)
	if !slices.Equal(gone, swept) {
		t.Errorf("swept %v, want %v", gone, swept)
	}
	for _, name := range left {
		if _, err := os.Stat(filepath.Join(dirs, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A created container's lock is free, and others probe it for a moment
// (is it running?); a start that takes it then must not fail as if another
// glassbox ran the container.
func TestReopenBesideProbes(t *testing.T) {
	root := t.TempDir()
	c, err := Create(root, NewID(), "", &specs.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	c.Status = Created
	c.Save()
	c.Unlock()
	stop := make(chan struct{})
	probing := make(chan struct{})
	t.Cleanup(func() { close(stop); <-probing }) // before TempDir's removal
	go func() {
		defer close(probing)
		for {
			select {
			case <-stop:
				return
			default:
			}
			probe := &Container{Dir: c.Dir}
			if probe.Lock() == nil {
				probe.Unlock()
			}
		}
	}()
	for i := range 300 {
		r, err := Reopen(root, c.ID, &specs.Spec{})
		if err != nil {
			t.Fatalf("start %d beside probes: %v", i, err)
		}
		r.Status = Created
		r.Save()
		r.Unlock()
	}
}

// state.json holds a record's spec once, under "spec", and gives it back as
// saved — a nil spec as null, a spec without the sections for other systems.
func TestRecordKeepsItsSpec(t *testing.T) {
	for _, s := range []*specs.Spec{nil, {Version: "1.0.2", Hostname: "h", Process: &specs.Process{Args: []string{"sh"}}, Windows: &specs.Windows{LayerFolders: []string{"x"}}}} {
		dir := t.TempDir()
		c := &Container{Dir: dir, Record: Record{ID: "abc", Name: "n", Spec: s}}
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, "state.json"))
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(data, &keys); err != nil || keys["spec"] == nil || strings.Count(string(data), `"spec"`) != 1 {
			t.Fatalf("state.json: %v\n%s", err, data)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := s
		if s != nil {
			w := *s
			w.Windows = nil
			want = &w
		}
		if !reflect.DeepEqual(got.Spec, want) || got.ID != "abc" || got.Name != "n" {
			t.Errorf("loaded %+v with spec %+v; want %+v", got.Record, got.Spec, want)
		}
	}
}
