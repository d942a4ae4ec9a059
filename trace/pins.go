package trace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// The kernel probes are attached once and stay attached, pinned in bpffs:
//
//	/sys/fs/bpf/glassbox/observer-<hash of the BPF object>/
//	    runs tgids cgroups slots syscalls layouts  the maps
//	    slot-0 slot-1 …                            a lock per ring buffer slot
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

// PinDir is where this build's probes are pinned: named after the BPF
// programs and the system calls they are told to report, so a build that
// changes either attaches its own.
// Computed on first use: hashing the BPF object costs every glassbox
// process ~0.15 ms at start-up, and most never trace.
func PinDir() string { return pinDir() }

var pinDir = sync.OnceValue(func() string {
	h := sha256.New()
	h.Write(_ObserverBytes)
	nrs := slices.Sorted(maps.Keys(syscallTable))
	for _, nr := range nrs {
		fmt.Fprintf(h, "%d:%d;", nr, syscallTable[nr].want())
	}
	return filepath.Join(BPFFSDir, "glassbox", "observer-"+hex.EncodeToString(h.Sum(nil)[:6]))
})

// ProbeMode says how one probe is attached: Mode is "tracepoint", "kprobe" or
// "fentry", or empty when none worked, and Why says what was tried.
type ProbeMode struct{ Target, Mode, Why string }

// kernelFunctionModes are the ways to attach to a kernel function, in order
// of preference: a kprobe works on any kernel built with kprobes and needs no
// BTF; fentry (a BPF trampoline) is cheaper per call but needs BTF and a
// kernel that allows it. GLASSBOX_PROBE_MODES (e.g. "fentry") changes the
// order or leaves one out; it applies when the probes are attached, so after
// `glassbox trace off`.
func kernelFunctionModes() []string {
	if env := os.Getenv("GLASSBOX_PROBE_MODES"); env != "" {
		return strings.Split(env, ",")
	}
	return []string{"kprobe", "fentry"}
}

// attachOnce makes sure this build's probes are attached and pinned, and
// says how each one is. The first run of a build pays for loading and
// attaching (~20 ms); later runs find the pins.
func attachOnce(dir string) ([]ProbeMode, error) {
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
		return pinnedModes(dir), nil
	}
	os.RemoveAll(dir) // a half-made directory from an interrupted first run
	return attach(dir)
}

// pinnedModes reads how each probe is attached from the names of the pinned
// links (link-<mode>-<target>), listed once: a stat of each name a probe
// could have was 33 system calls at the start of every traced run.
func pinnedModes(dir string) []ProbeMode {
	names, _ := os.ReadDir(dir)
	pinned := make(map[string]bool, len(names))
	for _, n := range names {
		pinned[n.Name()] = true
	}
	var modes []ProbeMode
	for _, p := range probes {
		m := ProbeMode{Target: p.Target(), Why: "not attached by the first traced run (glassbox doctor shows what this kernel offers)"}
		for _, mode := range []string{"tracepoint", "kprobe", "fentry"} {
			if pinned[linkName(mode, p.Target())] {
				m.Mode, m.Why = mode, ""
			}
		}
		modes = append(modes, m)
	}
	return modes
}

func attach(dir string) (modes []ProbeMode, err error) {
	spec, err := loadObserver()
	if err != nil {
		return nil, fmt.Errorf("load BPF programs: %w", err)
	}
	// The tracepoint programs and the maps load together; each kernel-function
	// program loads on its own, so that a kernel without kprobes, fentry or BTF
	// still gets the tracepoints.
	base := spec.Copy()
	for name, ps := range base.Programs {
		if ps.Type != ebpf.TracePoint {
			delete(base.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(base)
	if err != nil {
		return nil, fmt.Errorf("load BPF programs: %w", err)
	}
	defer coll.Close() // the pins keep what is needed alive
	for nr, sc := range syscallTable {
		if err := coll.Maps["syscalls"].Put(uint32(nr), sc.want()); err != nil {
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
		m := ProbeMode{Target: p.Target()}
		var l link.Link
		if p.fn == "" {
			l, err = attachTracepoint(p, coll)
			if err == nil {
				m.Mode = "tracepoint"
			} else {
				m.Why = refusal("tracepoint", err)
			}
		} else {
			var whys []string
			for _, mode := range kernelFunctionModes() {
				if l, err = attachFunction(spec, coll, p, mode); err == nil {
					m.Mode = mode
					break
				}
				whys = append(whys, refusal(mode, err))
			}
			if m.Mode == "" {
				m.Why = strings.Join(whys, "; ")
			}
		}
		modes = append(modes, m)
		if m.Mode == "" {
			continue
		}
		links = append(links, l)
		if err = l.Pin(filepath.Join(dir, linkName(m.Mode, p.Target()))); err != nil {
			return nil, fmt.Errorf("pin BPF link: %w", err)
		}
	}
	for _, name := range []string{"runs", "tgids", "cgroups", "slots", "syscalls", "layouts"} {
		if err = coll.Maps[name].Pin(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("pin BPF map %s: %w", name, err)
		}
	}
	return modes, nil
}

// attachTracepoint tells the program where its record's fields are, then
// attaches it.
func attachTracepoint(p probe, coll *ebpf.Collection) (link.Link, error) {
	l, err := readLayout(p.group, p.name, p.num, p.val, p.str)
	if err != nil {
		return nil, err
	}
	if err := coll.Maps["layouts"].Put(uint32(p.tp), l); err != nil {
		return nil, err
	}
	return link.Tracepoint(p.group, p.name, coll.Programs[p.prog], nil)
}

// attachFunction loads the probe's program for one mode, sharing the maps
// already loaded, and attaches it to the kernel function.
func attachFunction(spec *ebpf.CollectionSpec, coll *ebpf.Collection, p probe, mode string) (link.Link, error) {
	name := mode + "_" + p.prog
	ps, ok := spec.Programs[name]
	if !ok {
		return nil, fmt.Errorf("no such mode (kprobe or fentry)")
	}
	one := &ebpf.CollectionSpec{Maps: spec.Maps, Programs: map[string]*ebpf.ProgramSpec{name: ps}, Types: spec.Types}
	c, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{MapReplacements: coll.Maps})
	if err != nil {
		return nil, err
	}
	defer c.Close() // a link holds its program
	if mode == "kprobe" {
		return link.Kprobe(p.fn, c.Programs[name], nil)
	}
	return link.AttachTracing(link.TracingOptions{Program: c.Programs[name]})
}

// refusal says in one line why a probe could not attach one way.
func refusal(mode string, err error) string {
	if mode == "kprobe" && errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(TracingDir, "kprobe_events")); serr != nil {
			return "kprobe: this kernel has no kprobes"
		}
		return "kprobe: no such kernel function"
	}
	if errors.Is(err, unix.EPERM) {
		return mode + ": the kernel refused it (EPERM)"
	}
	s, _, _ := strings.Cut(err.Error(), "\n") // a verifier's log can run to pages
	return mode + ": " + s
}

func linkName(mode, target string) string {
	return "link-" + mode + "-" + strings.ReplaceAll(target, "/", "-")
}

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

// ObserverMode sums up how the kernel is observed: "tracepoint", plus
// "+kprobe" and "+fentry" when kernel functions are watched those ways.
func ObserverMode(modes []ProbeMode) string {
	summary := "tracepoint"
	for _, extra := range []string{"kprobe", "fentry"} {
		for _, m := range modes {
			if m.Mode == extra {
				summary += "+" + extra
				break
			}
		}
	}
	return summary
}

// ObserverStatus says whether this build's probes are attached, and how.
func ObserverStatus() (attached bool, modes []ProbeMode) {
	if _, err := os.Stat(filepath.Join(PinDir(), "runs")); err != nil {
		return false, nil
	}
	return true, pinnedModes(PinDir())
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
