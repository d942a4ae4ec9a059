package trace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// The kernel probes are attached once and stay attached, pinned in bpffs:
//
//	/sys/fs/bpf/glassbox/observer-<hash of the BPF object>/
//	    runs tgids cgroups lost syscalls layouts   the maps
//	    link-raw_syscalls-sys_enter …              one pinned link per tracepoint
//
// Detaching a tracepoint program waits for an RCU grace period, one after the
// other (about 56 ms each here), so attaching and detaching per run would cost
// a quarter of a second; subscribing to pinned probes costs a few hundred
// microseconds. While no run watches, each system call on the machine costs the
// probes two map lookups. `glassbox trace off` detaches them; `glassbox gc`
// removes probes left by other glassbox builds.

// BPFFSDir is where the BPF filesystem is mounted on current systems.
const BPFFSDir = "/sys/fs/bpf"

// PinDir is where this build's probes are pinned.
func PinDir() string {
	sum := sha256.Sum256(_ObserverBytes)
	return filepath.Join(BPFFSDir, "glassbox", "observer-"+hex.EncodeToString(sum[:6]))
}

// attachOnce makes sure this build's probes are attached and pinned, and
// returns the tracepoints this kernel lacks. The first run of a build pays for
// loading and attaching (~20 ms); later runs find the pins.
func attachOnce(dir string) (skipped []string, err error) {
	if err := ensureBPFFS(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("bpffs: %w", err)
	}
	// Two first runs at once must not both attach.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "glassbox-observer.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("flock observer lock: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
		for _, p := range probes {
			if _, err := os.Stat(filepath.Join(dir, linkName(p.group, p.name))); err != nil {
				skipped = append(skipped, p.group+"/"+p.name)
			}
		}
		return skipped, nil
	}
	os.RemoveAll(dir) // a half-made directory from an interrupted first run
	return attach(dir)
}

func attach(dir string) (skipped []string, err error) {
	var objs observerObjects
	if err := loadObserverObjects(&objs, nil); err != nil {
		return nil, fmt.Errorf("load BPF programs: %w", err)
	}
	defer objs.Close() // the pins keep what is needed alive
	for nr, sc := range syscallTable {
		if err := objs.Syscalls.Put(uint32(nr), uint8(1|sc.strings<<1)); err != nil {
			return nil, fmt.Errorf("BPF map syscalls: %w", err)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bpffs: %w", err)
	}
	var links []link.Link
	defer func() {
		for _, l := range links {
			l.Close()
		}
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	for _, p := range probes {
		var tl link.Link
		var lerr error
		if p.group == "kprobe" {
			tl, lerr = link.Kprobe(p.name, p.prog(&objs), nil)
		} else {
			var l layout
			l, lerr = readLayout(p.group, p.name, p.num, p.val, p.str)
			if lerr == nil {
				lerr = objs.Layouts.Put(uint32(p.tp), l)
			}
			if lerr == nil {
				tl, lerr = link.Tracepoint(p.group, p.name, p.prog(&objs), nil)
			}
		}
		if lerr != nil {
			skipped = append(skipped, fmt.Sprintf("%s/%s: %v", p.group, p.name, lerr))
			continue
		}
		links = append(links, tl)
		if err = tl.Pin(filepath.Join(dir, linkName(p.group, p.name))); err != nil {
			return nil, fmt.Errorf("pin BPF link: %w", err)
		}
	}
	for name, m := range map[string]interface{ Pin(string) error }{
		"runs": objs.Runs, "tgids": objs.Tgids, "cgroups": objs.Cgroups, "lost": objs.Lost,
		"syscalls": objs.Syscalls, "layouts": objs.Layouts,
	} {
		if err = m.Pin(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("pin BPF map %s: %w", name, err)
		}
	}
	return skipped, nil
}

func linkName(group, name string) string { return "link-" + group + "-" + name }

// ensureBPFFS mounts the BPF filesystem when the system has not.
func ensureBPFFS() error {
	var st unix.Statfs_t
	if err := unix.Statfs(BPFFSDir, &st); err == nil && st.Type == unix.BPF_FS_MAGIC {
		return nil
	}
	if err := unix.Mount("bpf", BPFFSDir, "bpf", 0, ""); err != nil {
		return fmt.Errorf("mount(bpf, %s): %w", BPFFSDir, err)
	}
	return nil
}

// observerMode names how the kernel is observed: tracepoints always, and
// kprobes (inside functions) when the kernel let them attach.
func observerMode(skipped []string) string {
	for _, s := range skipped {
		if strings.HasPrefix(s, "kprobe/") {
			return "tracepoint"
		}
	}
	return "tracepoint+kprobe"
}

// ObserverStatus says whether this build's probes are attached, how many,
// and in which mode.
func ObserverStatus() (attached bool, links int, mode string) {
	entries, err := os.ReadDir(PinDir())
	if err != nil {
		return false, 0, ""
	}
	mode = "tracepoint"
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "link-") {
			links++
		}
		if strings.HasPrefix(e.Name(), "link-kprobe-") {
			mode = "tracepoint+kprobe"
		}
	}
	return true, links, mode
}

// RemoveObservers detaches pinned probes: every build's, or all but this
// build's. It returns the directories it removed.
func RemoveObservers(keepCurrent bool) ([]string, error) {
	dirs, _ := filepath.Glob(filepath.Join(BPFFSDir, "glassbox", "observer-*"))
	var removed []string
	var errs []error
	for _, d := range dirs {
		if keepCurrent && d == PinDir() {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, d)
	}
	if !keepCurrent {
		os.Remove(filepath.Join(BPFFSDir, "glassbox"))
	}
	return removed, errors.Join(errs...)
}
