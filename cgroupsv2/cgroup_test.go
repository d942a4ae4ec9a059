package cgroupsv2

import (
	"strings"
	"testing"
)

func TestV1Controllers(t *testing.T) {
	for super, want := range map[string]string{
		"rw,memory":                "memory",
		"rw,cpu,cpuacct":           "cpu,cpuacct",
		"rw,name=systemd":          "",
		"rw,xattr,name=systemd":    "",
		"rw,cpuset,clone_children": "cpuset",
	} {
		if got := v1Controllers(super); got != want {
			t.Errorf("v1Controllers(%q) = %q, want %q", super, got, want)
		}
	}
}

func TestRelTo(t *testing.T) {
	if got := relTo("/a/b", "/"); got != "/a/b" {
		t.Errorf("got %q", got)
	}
	if got := relTo("/a/b", "/a"); got != "/b" {
		t.Errorf("got %q", got)
	}
	if got := relTo("/a", "/a"); got != "/" {
		t.Errorf("got %q", got)
	}
}

// Plan reads this machine's hierarchies: every directory must be inside a
// cgroup mount and end with the container id, and escapes must be refused.
func TestPlan(t *testing.T) {
	mode, err := Detect()
	if err != nil {
		t.Skip("no cgroupfs here:", err)
	}
	cg, err := Plan(mode, "", "abc")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cg.Dirs {
		if !strings.HasPrefix(d, Mountpoint+"/") || !strings.HasSuffix(d, "/glassbox/abc") {
			t.Errorf("planned %q", d)
		}
	}
	if mode == Unified && cg.Dirs[0] != "/sys/fs/cgroup/glassbox/abc" {
		t.Errorf("on v2 the container goes to /glassbox/<id> at the root, got %q", cg.Dirs[0])
	}
	if _, err := Plan(mode, "/../../etc", "abc"); err == nil {
		t.Error("a cgroupsPath leaving the tree must be refused")
	}
}

// Trees are the container's cgroups as its init would find them: each tree
// as this machine mounts it, with the planned directory as its own place;
// a directory in no mounted tree (Reopen keeps it for removal) is none.
func TestTreesAreThePlannedDirectories(t *testing.T) {
	mode, err := Detect()
	if err != nil {
		t.Skip("no cgroupfs here:", err)
	}
	host, err := Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", "rel/x", "/abs/y"} {
		cg, err := Plan(mode, path, "abc")
		if err != nil {
			t.Fatal(err)
		}
		trees := cg.Trees()
		if len(trees) != len(host) || len(trees) != len(cg.Dirs) {
			t.Fatalf("cgroupsPath %q: %d trees for %d directories in %d hierarchies", path, len(trees), len(cg.Dirs), len(host))
		}
		for i, tr := range trees {
			want := host[i]
			want.Own = tr.Own
			if tr != want || tr.Mount+tr.Own != cg.Dirs[i] {
				t.Errorf("cgroupsPath %q: tree %+v for directory %s (host's: %+v)", path, tr, cg.Dirs[i], host[i])
			}
		}
	}
	cg, err := Plan(mode, "", "abc")
	if err != nil {
		t.Fatal(err)
	}
	reopened, err := Reopen(append(cg.Dirs, "/nowhere/glassbox/abc"))
	if err != nil {
		t.Fatal(err)
	}
	if got := reopened.Trees(); len(got) != len(cg.Dirs) {
		t.Errorf("Reopen with a directory in no tree: %d trees, want %d", len(got), len(cg.Dirs))
	}
}
