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
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
)

// Usage is what a container consumed, read from its cgroup before removal.
type Usage struct {
	MemoryPeak uint64        // bytes: memory.peak (v2), memory.max_usage_in_bytes (v1)
	CPU        time.Duration // cpu.stat usage_usec (v2), cpuacct.usage (v1)
	PidsPeak   uint64        // pids.peak
	OOMKills   uint64        // oom_kill in memory.events (v2) or memory.oom_control (v1)
}

// Usage reads the container's counters, each in the tree of its controller
// (on v1 and hybrid hosts a tree per controller). A file this kernel lacks
// leaves its figure at zero.
func (c *Cgroup) Usage() Usage {
	var u Usage
	if dir, v1, ok := c.treeOf("memory"); ok && v1 {
		u.OOMKills, _ = c.readKey(dir, "memory.oom_control", "oom_kill")
		u.MemoryPeak, _ = c.readUint(dir, "memory.max_usage_in_bytes")
	} else if ok {
		u.OOMKills, _ = c.readKey(dir, "memory.events", "oom_kill")
		u.MemoryPeak, _ = c.readUint(dir, "memory.peak")
	}
	if dir, v1, ok := c.treeOf("cpuacct"); ok && v1 {
		n, _ := c.readUint(dir, "cpuacct.usage") // v1's cpu.stat has no usage
		u.CPU = time.Duration(n)
	} else if dir, _, ok := c.treeOf("cpu"); ok {
		n, _ := c.readKey(dir, "cpu.stat", "usage_usec") // cgroup2's, with or without the controller
		u.CPU = time.Duration(n) * time.Microsecond
	}
	if dir, _, ok := c.treeOf("pids"); ok {
		u.PidsPeak, _ = c.readUint(dir, "pids.peak")
	}
	return u
}

// treeOf is the container's directory in the v1 tree that carries
// controller, or else in its cgroup2 tree — where a hybrid host may have put
// a controller no v1 tree took (cgroup_no_v1=) — and whether it is v1.
func (c *Cgroup) treeOf(controller string) (dir string, v1, ok bool) {
	v2 := -1
	for i, t := range c.trees {
		switch {
		case t.V1 && slices.Contains(strings.Split(t.Controllers, ","), controller):
			return c.Dirs[i], true, true
		case !t.V1 && t.Mount != "" && v2 < 0:
			v2 = i
		}
	}
	if v2 < 0 {
		return "", false, false
	}
	return c.Dirs[v2], false, true
}

// readUint reads a control file holding one number, and traces the read.
func (c *Cgroup) readUint(dir, file string) (uint64, bool) {
	start := time.Now()
	v, ok := fileUint(dir, file)
	if ok {
		c.trace("read", filepath.Join(dir, file), strconv.FormatUint(v, 10), start, nil)
	}
	return v, ok
}

// readKey reads one "key value" line of a flat-keyed control file, and
// traces the read.
func (c *Cgroup) readKey(dir, file, key string) (uint64, bool) {
	start := time.Now()
	v, ok := fileKey(dir, file, key)
	if ok {
		c.trace("read", filepath.Join(dir, file), key+" "+strconv.FormatUint(v, 10), start, nil)
	}
	return v, ok
}

func fileUint(dir, file string) (uint64, bool) {
	data, err := plainfile.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return v, err == nil
}

func fileKey(dir, file, key string) (uint64, bool) {
	data, err := plainfile.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, err := strconv.ParseUint(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// Kill sends SIGKILL to every process in the container's cgroup. cgroup v2
// does it in the kernel with cgroup.kill (Linux 5.14+; on a hybrid host in the
// cgroup2 tree), which also catches processes that fork meanwhile. Elsewhere
// the cgroup is frozen first, so nothing forks between reading cgroup.procs
// and the kill.
func (c *Cgroup) Kill() error {
	for _, dir := range c.Dirs {
		if exists(filepath.Join(dir, "cgroup.kill")) {
			return c.write(dir, "cgroup.kill", "1")
		}
	}
	return c.freezeAndKill()
}

func (c *Cgroup) freezeAndKill() error {
	frozen := c.Freeze() == nil
	for _, dir := range c.Dirs {
		// Every cgroup of the subtree: the container's own nested ones too.
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			data, _ := plainfile.ReadFile(filepath.Join(path, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					unix.Kill(pid, unix.SIGKILL)
				}
			}
			return nil
		})
	}
	if frozen {
		return c.Thaw() // a v1-frozen task dies only once thawed
	}
	return nil
}

// Freeze stops every process of the container where it is (cgroup.freeze on
// v2, the freezer controller's freezer.state on v1) and waits until the kernel
// reports the cgroup frozen; Thaw lets them run again.
func (c *Cgroup) Freeze() error { return c.setFrozen(true) }
func (c *Cgroup) Thaw() error   { return c.setFrozen(false) }

// Frozen reports whether the kernel holds the container frozen, in the tree
// setFrozen writes.
func (c *Cgroup) Frozen() bool {
	for _, dir := range c.Dirs {
		switch {
		case exists(filepath.Join(dir, "cgroup.freeze")):
			data, _ := plainfile.ReadFile(filepath.Join(dir, "cgroup.events"))
			return strings.Contains(string(data), "frozen 1")
		case exists(filepath.Join(dir, "freezer.state")):
			data, _ := plainfile.ReadFile(filepath.Join(dir, "freezer.state"))
			return strings.TrimSpace(string(data)) == "FROZEN"
		}
	}
	return false
}

func (c *Cgroup) setFrozen(frozen bool) error {
	for _, dir := range c.Dirs {
		var file, value, check, want string
		switch {
		case exists(filepath.Join(dir, "cgroup.freeze")):
			file, value, check, want = "cgroup.freeze", "0", "cgroup.events", "frozen 0"
			if frozen {
				value, want = "1", "frozen 1"
			}
		case exists(filepath.Join(dir, "freezer.state")):
			file, value, check, want = "freezer.state", "THAWED", "freezer.state", "THAWED"
			if frozen {
				value, want = "FROZEN", "FROZEN"
			}
		default:
			continue
		}
		if err := c.write(dir, file, value); err != nil {
			return err
		}
		for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
			data, _ := plainfile.ReadFile(filepath.Join(dir, check))
			if strings.Contains(string(data), want) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: the kernel did not report %q within 1s", filepath.Join(dir, check), want)
			}
		}
	}
	return errors.New("no freezer: neither cgroup.freeze (cgroup v2) nor a v1 freezer hierarchy")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
