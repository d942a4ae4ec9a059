// Package cgroupsv2 places containers in control groups by writing cgroupfs files
// directly, the way the kernel documents it (Documentation/admin-guide/cgroup-v2.rst):
//
//   - a cgroup is a directory: mkdir(2) creates it, rmdir(2) removes it once it has
//     no processes and no children;
//   - writing a pid to its cgroup.procs moves that process (and its future
//     children) into it;
//   - on cgroup v2 there is one tree at /sys/fs/cgroup; on v1 ("legacy") every
//     controller (memory, pids, cpu, …) has a tree of its own, and a "hybrid" host
//     has both: v1 trees with the controllers plus an empty v2 tree at
//     /sys/fs/cgroup/unified, which still gives every process a v2 cgroup (the one
//     BPF's bpf_get_current_cgroup_id reports).
//
// A container gets one directory in every tree. On v2 it lives at /glassbox/<id>
// under the root (the no-internal-process rule forbids limits on a cgroup that
// holds processes, and glassbox's own cgroup usually does). On v1 it lives beneath
// the cgroup glassbox runs in, so that limits a host put on glassbox keep covering
// its containers.
package cgroupsv2

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
	"github.com/glassbox-dev/glassbox/internal/step"
	"github.com/glassbox-dev/glassbox/mountns"
)

// Mountpoint is where cgroupfs lives on every mainstream distribution.
const Mountpoint = "/sys/fs/cgroup"

// Mode is how the host's cgroup hierarchies are laid out.
type Mode string

const (
	Unified Mode = "v2"     // one cgroup2 tree with every controller
	Hybrid  Mode = "hybrid" // v1 controller trees plus a cgroup2 tree at /sys/fs/cgroup/unified
	Legacy  Mode = "v1"     // v1 controller trees only
)

// Detect tells the mode from the filesystem types mounted at /sys/fs/cgroup.
func Detect() (Mode, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(Mountpoint, &st); err != nil {
		return "", fmt.Errorf("statfs(%s): %w — is cgroupfs mounted?", Mountpoint, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Unified, nil
	}
	if err := unix.Statfs(filepath.Join(Mountpoint, "unified"), &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Hybrid, nil
	}
	return Legacy, nil
}

// Cgroup is one container's set of cgroup directories, one per hierarchy.
type Cgroup struct {
	Dirs  []string
	trees []Hierarchy // the tree of each directory; known only to the run that planned them
	// Step, when set, hears of every cgroupfs operation (stepName).
	Step step.Recorder
}

func (c *Cgroup) trace(call, path, value string, start time.Time, err error) {
	if c.Step != nil {
		c.Step(stepName(call, path, value), start, err, "glassbox.cgroup.path", path, "glassbox.cgroup.value", value)
	}
}

// mode is this host's cgroup mode, found once: it tells how a path reads.
var mode = sync.OnceValue(func() Mode { m, _ := Detect(); return m })

// stepName names a cgroupfs operation the way a person reads it: the tree
// (v1 and hybrid: memory, pids, unified…) and the path in it, a container's
// id cut to 12 digits — "mkdir memory:/…/glassbox/3f2a1b0c9d8e", "write
// cgroup.procs=4242 in pids:/glassbox/3f2a1b0c9d8e", "read memory.peak: 1234".
func stepName(call, path, value string) string {
	tree, rel := "", strings.TrimPrefix(path, Mountpoint)
	if mode() != Unified {
		tree, rel, _ = strings.Cut(strings.TrimPrefix(rel, "/"), "/")
		rel = "/" + rel
	}
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		if len(p) == 64 && strings.Trim(p, "0123456789abcdef") == "" {
			parts[i] = p[:12]
		}
	}
	rel = strings.Join(parts, "/")
	switch call {
	case "write":
		return "write " + filepath.Base(path) + "=" + value + " in " + tree + ":" + filepath.Dir(rel)
	case "read":
		return "read " + filepath.Base(path) + ": " + value
	case "bpf":
		return "attach " + value + " to " + tree + ":" + rel
	}
	return call + " " + tree + ":" + rel
}

// Hierarchy is one mounted cgroup tree and glassbox's own place in it.
type Hierarchy struct {
	Mount       string `json:"mount"`                 // e.g. /sys/fs/cgroup/memory
	Own         string `json:"own"`                   // glassbox's cgroup in it, e.g. /process_api/abc
	Controllers string `json:"controllers,omitempty"` // v1: the controllers it carries, as mount(2) data ("cpu,cpuacct")
	V1          bool   `json:"v1,omitempty"`
}

// Plan decides the directories for a container without creating them, so the
// record can list them before the first mkdir. cgroupsPath is the Spec's
// linux.cgroupsPath: absolute means from each tree's root, relative means beneath
// glassbox's own cgroup (on v2, beneath its parent); empty means the default
// placement described above.
func Plan(mode Mode, cgroupsPath, id string) (*Cgroup, error) {
	trees, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	cg := &Cgroup{}
	for _, h := range trees {
		var rel string
		switch {
		case filepath.IsAbs(cgroupsPath):
			rel = cgroupsPath
		case cgroupsPath != "" && h.V1:
			rel = filepath.Join(h.Own, cgroupsPath)
		case cgroupsPath != "":
			// On v2, beneath the parent of glassbox's own cgroup, as runc
			// does: its own has a process in it (glassbox), so it cannot
			// hand controllers down (the no-internal-process rule).
			rel = filepath.Join(filepath.Dir(h.Own), cgroupsPath)
		case mode == Unified:
			rel = filepath.Join("/glassbox", id)
		default:
			rel = filepath.Join(h.Own, "glassbox", id)
		}
		dir := filepath.Join(h.Mount, rel)
		if !strings.HasPrefix(dir, h.Mount+"/") {
			return nil, fmt.Errorf("linux.cgroupsPath %q leaves the cgroup tree %s", cgroupsPath, h.Mount)
		}
		cg.Dirs = append(cg.Dirs, dir)
		cg.trees = append(cg.trees, h)
	}
	if len(cg.Dirs) == 0 {
		return nil, fmt.Errorf("no cgroup hierarchy is mounted under %s", Mountpoint)
	}
	return cg, nil
}

// Trees are the mounted trees the directories are in, each with the
// container's directory as its Own: the cgroups its init is in, which the
// mount stage shows it under /sys/fs/cgroup. The init would otherwise read
// them from /proc/self/mountinfo again (0.18 ms here; more on a host with
// thousands of mounts).
func (c *Cgroup) Trees() []Hierarchy {
	var out []Hierarchy
	for i, t := range c.trees {
		if t.Mount != "" { // Reopen's directory in no mounted tree
			t.Own = strings.TrimPrefix(c.Dirs[i], t.Mount)
			out = append(out, t)
		}
	}
	return out
}

// Reopen is a container's existing cgroup, from the directories its record
// lists, each matched with its mounted tree. A directory in no tree mounted
// here stays, with no tree: its removal is still tried.
func Reopen(dirs []string) (*Cgroup, error) {
	trees, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	cg := &Cgroup{}
	var elsewhere []string
	for _, dir := range dirs {
		i := slices.IndexFunc(trees, func(h Hierarchy) bool { return strings.HasPrefix(dir, h.Mount+"/") })
		if i < 0 {
			elsewhere = append(elsewhere, dir)
			continue
		}
		cg.Dirs, cg.trees = append(cg.Dirs, dir), append(cg.trees, trees[i])
	}
	if len(cg.Dirs) == 0 {
		return nil, fmt.Errorf("none of the container's cgroups %v is in a mounted tree", dirs)
	}
	for _, dir := range elsewhere { // last: the first directory's tree is the one a v2 write uses
		cg.Dirs, cg.trees = append(cg.Dirs, dir), append(cg.trees, Hierarchy{})
	}
	return cg, nil
}

// Create makes every directory. In a v1 cpuset tree a new cgroup starts with no
// CPUs and no memory nodes, and a process cannot join it (ENOSPC), so those two
// files are copied down from the parent at each level glassbox creates there.
func (c *Cgroup) Create() error {
	cpuset, v1, _ := c.treeOf("cpuset")
	for _, dir := range c.Dirs {
		if err := c.mkdir(dir, v1 && dir == cpuset); err != nil {
			return err
		}
	}
	return nil
}

// mkdir makes dir and the levels above it that are missing; fillCpuset copies
// the v1 cpuset files down to each.
func (c *Cgroup) mkdir(dir string, fillCpuset bool) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		start := time.Now()
		err := os.Mkdir(d, 0o755)
		if errors.Is(err, fs.ErrExist) {
			err = nil // another container made the shared parent first
		}
		c.trace("mkdir", d, "", start, err)
		if err != nil {
			return fmt.Errorf("mkdir(%s): %w", d, unwrap(err))
		}
	}
	// Top-down, every level glassbox uses — also a shared parent another run
	// has just made and not yet filled: a child cannot be filled from an
	// empty parent, and two runs writing the same values is harmless.
	if fillCpuset && len(missing) > 0 {
		var chain []string
		for d := filepath.Dir(missing[len(missing)-1]); isV1Cgroup(filepath.Dir(d)); d = filepath.Dir(d) {
			chain = append(chain, d)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			if err := c.inheritCpuset(chain[i]); err != nil {
				return err
			}
		}
		for i := len(missing) - 1; i >= 0; i-- {
			if err := c.inheritCpuset(missing[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ID is the container's cgroup2 id — the inode of its directory in the cgroup2
// tree, which is what BPF's bpf_get_current_cgroup_id() returns — and that
// directory; 0 on a v1-only host, which has no cgroup2 tree.
func (c *Cgroup) ID() (uint64, string, error) {
	for _, dir := range c.Dirs {
		var fs unix.Statfs_t
		var st unix.Stat_t
		if unix.Statfs(dir, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
			if err := unix.Stat(dir, &st); err != nil {
				return 0, "", fmt.Errorf("stat(%s): %w", dir, err)
			}
			return st.Ino, dir, nil
		}
	}
	return 0, "", nil
}

func isV1Cgroup(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP_SUPER_MAGIC
}

// inheritCpuset fills a new v1 cpuset cgroup from its parent. (On v2 an empty
// cpuset.cpus means "use the parent's", so nothing must be copied there.)
func (c *Cgroup) inheritCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := plainfile.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.TrimSpace(string(cur)) != "" {
			continue // already set by cgroup.clone_children
		}
		val, err := plainfile.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(filepath.Dir(dir), f), err)
		}
		if err := c.write(dir, f, strings.TrimSpace(string(val))); err != nil {
			return err
		}
	}
	return nil
}

// Attach moves pid into the container's cgroup in every tree but those it
// was born in (CLONE_INTO_CGROUP, EnterThread).
func (c *Cgroup) Attach(pid int, bornIn []string) error {
	for _, dir := range c.Dirs {
		if slices.Contains(bornIn, dir) {
			continue
		}
		if err := c.write(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// EnterThread moves the calling OS thread — not its process — into the
// container's cgroup in every v1 tree, by writing "0" (the writer itself) to
// each tree's tasks file, so that a process the thread clones is born there:
// a child starts in the cgroups of the thread that cloned it. leave moves the
// thread back to glassbox's own cgroups. It is v1's stand-in for
// CLONE_INTO_CGROUP. Moving a whole process (cgroup.procs) takes
// cgroup_threadgroup_rwsem for writing, a per-CPU rwsem whose writer first
// waits for an RCU grace period (5–25 ms here, most of a run); a thread
// moving itself needs no such lock, since it cannot exit or exec meanwhile
// (cgroup_procs_write_start), and takes ~0.05 ms. The caller holds its OS
// thread (runtime.LockOSThread) until leave. entered lists the directories
// the thread is in, and so its children.
func (c *Cgroup) EnterThread() (entered []string, leave func() error, err error) {
	var own []string // glassbox's cgroup in each tree entered
	leave = func() error {
		var errs []error
		for _, dir := range own {
			errs = append(errs, c.write(dir, "tasks", "0"))
		}
		return errors.Join(errs...)
	}
	for i, dir := range c.Dirs {
		if i >= len(c.trees) || !c.trees[i].V1 {
			continue
		}
		if err := c.write(dir, "tasks", "0"); err != nil {
			return nil, nil, errors.Join(err, leave())
		}
		entered = append(entered, dir)
		own = append(own, filepath.Join(c.trees[i].Mount, c.trees[i].Own))
	}
	return entered, leave, nil
}

// Destroy kills what is still inside (a leftover found by gc), then removes every
// directory, and the cgroups the container made beneath it. rmdir fails with
// EBUSY until the last process has been released, which can lag its exit by a
// moment, so it is retried briefly. The "glassbox" directory above a
// container's stays, as Docker's "docker" does: made with a host's first
// container and removed with its last, it cost a run a mkdir and an rmdir in
// every tree — nine on a hybrid host, ~0.9 ms of a 19 ms run.
func (c *Cgroup) Destroy() error {
	var errs []error
	for _, dir := range c.Dirs {
		if err := c.remove(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Cgroup) remove(dir string) error {
	start := time.Now()
	deadline := start.Add(2 * time.Second)
	for killed := false; ; {
		err := unix.Rmdir(dir)
		// ENOENT, ENOTDIR: never made (a run that failed at its mkdir).
		if err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			c.trace("rmdir", dir, "", start, nil)
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			c.trace("rmdir", dir, "", start, err)
			return fmt.Errorf("rmdir(%s): %w", dir, err)
		}
		if !killed {
			c.Kill()
			killed = true
		}
		// A cgroup with child cgroups is busy too: the container may have
		// made some (its cgroup namespace lets it). Theirs go first.
		removeNested(dir)
		time.Sleep(5 * time.Millisecond)
	}
}

// removeNested removes the cgroups beneath dir, deepest first. (The only
// directories in cgroupfs are cgroups; rmdir(2) of one ignores its files.)
func removeNested(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			child := filepath.Join(dir, e.Name())
			removeNested(child)
			unix.Rmdir(child)
		}
	}
}

// WriteError is a value the kernel refused for a control file.
type WriteError struct {
	Path, Value string
	Err         error // the errno
}

func (e *WriteError) Error() string { return fmt.Sprintf("write %s=%q: %v", e.Path, e.Value, e.Err) }
func (e *WriteError) Unwrap() error { return e.Err }

// write writes one cgroupfs control file; the kernel applies the value at write(2).
func (c *Cgroup) write(dir, file, value string) error {
	p := filepath.Join(dir, file)
	start := time.Now()
	err := writeFile(p, value)
	c.trace("write", p, value, start, err)
	if err != nil {
		return &WriteError{Path: p, Value: value, Err: unwrap(err)}
	}
	return nil
}

// writeFile writes a control file in one write(2). Without O_CREAT, so that
// a file this kernel lacks is ENOENT (cgroupfs answers a create with EACCES).
func writeFile(path, value string) error {
	f, err := plainfile.Open(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	return errors.Join(err, f.Close())
}

// Hierarchies lists the mounted cgroup trees with real controllers (v1 trees
// named like "name=systemd" carry none) and glassbox's own cgroup in each.
func Hierarchies() ([]Hierarchy, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	mounts, err := mountns.Mounts()
	if err != nil {
		return nil, err
	}
	var out []Hierarchy
	for _, m := range mounts {
		if !strings.HasPrefix(m.Mountpoint, Mountpoint) {
			continue
		}
		switch m.FSType {
		case "cgroup2":
			if p, ok := own[""]; ok {
				out = append(out, Hierarchy{Mount: m.Mountpoint, Own: relTo(p, m.Root)})
			}
		case "cgroup":
			key := v1Controllers(m.Super)
			if p, ok := own[key]; ok && key != "" {
				out = append(out, Hierarchy{Mount: m.Mountpoint, Own: relTo(p, m.Root), Controllers: key, V1: true})
			}
		}
	}
	return out, nil
}

// ownCgroups parses /proc/self/cgroup: "4:memory:/path", "0::/path" for v2.
func ownCgroups() (map[string]string, error) {
	data, err := plainfile.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			own[parts[1]] = parts[2]
		}
	}
	return own, nil
}

// v1Controllers picks the controller names out of a v1 mount's super options, in
// the order /proc/self/cgroup lists them ("cpu,cpuacct"); "" for name= trees.
func v1Controllers(super string) string {
	var ctrls []string
	for _, o := range strings.Split(super, ",") {
		switch {
		case o == "rw" || o == "ro" || strings.HasPrefix(o, "name=") || strings.Contains(o, "="):
		case o == "noprefix" || o == "xattr" || o == "clone_children" || o == "cpuset_v2_mode" || o == "nsdelegate":
		default:
			ctrls = append(ctrls, o)
		}
	}
	return strings.Join(ctrls, ",")
}

// relTo strips the mount's own root (when a sub-tree is mounted) from a cgroup path.
func relTo(p, root string) string {
	if root != "/" {
		p = strings.TrimPrefix(p, root)
	}
	if p == "" {
		return "/"
	}
	return p
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return se
	}
	return err
}
