// Package doctor inspects what this kernel offers a container runtime and says,
// for anything missing, what glassbox does instead. It reads /proc, /sys and
// the filesystems mounted there; where only trying tells the truth, it tries:
// a veth pair and a bridge in a scratch network namespace, an empty BPF program
// on a kprobe and on fentry (a kernel can have BTF and still refuse fentry).
package doctor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/cgroupsv2/devicebpf"
	"github.com/glassbox-dev/glassbox/internal/beside"
	gbnet "github.com/glassbox-dev/glassbox/netns"
	"github.com/glassbox-dev/glassbox/seccomp"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/stages"
	"github.com/glassbox-dev/glassbox/trace"
)

// Check is one line of the report.
type Check struct {
	Name   string
	OK     bool
	Detail string // what was found
	Action string // what glassbox does about it (empty when nothing is needed)
}

// Run performs every check, in the order of the stages that need them.
func Run() []Check {
	checks := namespaces()
	checks = append(checks, initProgram(), companions(), leanBuild(), cgroups(), deviceControl(), seccompFilter(), overlay(), pivotRoot())
	checks = append(checks, network()...)
	checks = append(checks, defaultNetwork())
	checks = append(checks, btf())
	tracefs := tracingFS()
	checks = append(checks, tracefs, kprobes(tracefs.OK), fentry(), tracepoints(tracefs.OK), observer())
	return checks
}

var namespaceTypes = []struct{ file, name, action string }{
	{"pid", "pid", "required"}, {"mnt", "mount", "required"}, {"uts", "uts", "required"},
	{"ipc", "ipc", "required"}, {"net", "network", "required"}, {"cgroup", "cgroup", "required by the default Spec"},
	{"user", "user", "a config.json with linux.uidMappings cannot run; without, containers run as real root"}, {"time", "time", "not used"},
}

func namespaces() []Check {
	var out []Check
	for _, ns := range namespaceTypes {
		_, err := os.Stat("/proc/self/ns/" + ns.file)
		c := Check{Name: ns.name + " namespace", OK: err == nil, Detail: "/proc/self/ns/" + ns.file}
		if err != nil {
			c.Detail = "missing (CONFIG_" + strings.ToUpper(ns.file) + "_NS?)"
			c.Action = ns.action
		}
		out = append(out, c)
	}
	return out
}

func initProgram() Check {
	path, argv := stages.InitProgram()
	if err := stages.CheckInitView(); err != nil {
		action := "run glassbox as root (CAP_SYS_ADMIN): it mounts a read-only view of " + path + ", so that containers cannot overwrite it"
		if errors.Is(err, unix.ENOSYS) {
			action = "Linux 5.12+ is needed (open_tree, mount_setattr): containers must not be able to overwrite " + path
		}
		return Check{Name: "container init", Detail: err.Error(), Action: action}
	}
	protected := ", run from a read-only mount of the file and non-dumpable until execve: a container cannot overwrite it"
	if argv[0] == "glassbox-init" {
		return Check{Name: "container init", OK: true, Detail: path + protected}
	}
	return Check{Name: "container init", OK: true, Detail: "glassbox re-executes itself (`glassbox init`)" + protected,
		Action: "install glassbox-init beside glassbox (make build): containers start ~10 ms faster"}
}

// companions checks the programs glassbox starts from beside itself, besides
// glassbox-init: without them it runs containers in the foreground all the same.
func companions() Check {
	var missing []string
	for _, name := range []string{"glassbox-shim", "glassbox-otlp"} {
		if _, err := beside.Program(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return Check{Name: "companion programs", OK: true, Detail: "glassbox-shim (detached containers) and glassbox-otlp (OTLP export) beside glassbox"}
	}
	return Check{Name: "companion programs", OK: true, Detail: strings.Join(missing, " and ") + " not beside glassbox: detached containers need glassbox-shim, OTLP export glassbox-otlp",
		Action: "install them beside glassbox (make build)"}
}

// leanBuild checks for glassbox, the build with the commands that run
// containers, beside the glassbox-full that runs doctor (cmd/glassbox/lean.go).
func leanBuild() Check {
	if _, err := beside.Program("glassbox"); err != nil {
		return Check{Name: "lean build", OK: true, Detail: "glassbox not beside glassbox-full: the daemon starts containers' monitors with glassbox-full, which pages in twice as much",
			Action: "install glassbox beside glassbox-full (make build)"}
	}
	return Check{Name: "lean build", OK: true, Detail: "glassbox (runs containers, and the daemon's monitors) beside glassbox-full (every other command)"}
}

func cgroups() Check {
	mode, err := cgroupsv2.Detect()
	if err != nil {
		return Check{Name: "cgroups", Detail: err.Error(), Action: "mount cgroupfs at /sys/fs/cgroup"}
	}
	trees, err := cgroupsv2.Hierarchies()
	if err != nil {
		return Check{Name: "cgroups", Detail: err.Error()}
	}
	var v1, v2 []string
	for _, t := range trees {
		if t.V1 {
			v1 = append(v1, t.Controllers)
		} else if data, err := os.ReadFile(filepath.Join(t.Mount, "cgroup.controllers")); err == nil {
			v2 = append(v2, strings.Fields(string(data))...)
		}
	}
	c := Check{Name: "cgroups", OK: true}
	switch mode {
	case cgroupsv2.Unified:
		c.Detail = "v2 driver: /sys/fs/cgroup is cgroup2, controllers: " + strings.Join(v2, " ")
		c.Action = "containers go to /sys/fs/cgroup/glassbox/<id>; limits are memory.max, cpu.max, pids.max …"
	case cgroupsv2.Hybrid:
		c.Detail = fmt.Sprintf("v1 driver: hybrid host, the controllers are in v1 trees (%s); the cgroup2 tree at /sys/fs/cgroup/unified has [%s]", strings.Join(v1, " "), strings.Join(v2, " "))
		c.Action = "containers nest beneath glassbox's own cgroup in every tree; limits are memory.limit_in_bytes, cpu.cfs_quota_us, pids.max …"
	default:
		c.Detail = "v1 driver: legacy host, controllers: " + strings.Join(v1, " ")
		c.Action = "containers nest beneath glassbox's own cgroup in every tree; limits are memory.limit_in_bytes, cpu.cfs_quota_us, pids.max …"
	}
	return c
}

// deviceControl: which device nodes a container may open is the v1 devices
// controller's job, or on v2 a BPF_CGROUP_DEVICE program's — so load one.
func deviceControl() Check {
	mode, err := cgroupsv2.Detect()
	if err != nil {
		return Check{Name: "device control", Detail: err.Error()}
	}
	if mode != cgroupsv2.Unified {
		trees, _ := cgroupsv2.Hierarchies()
		for _, t := range trees {
			if t.V1 && slices.Contains(strings.Split(t.Controllers, ","), "devices") {
				return Check{Name: "device control", OK: true, Detail: "the v1 devices controller at " + t.Mount}
			}
		}
		return Check{Name: "device control", Detail: "no v1 devices controller is mounted",
			Action: "the cgroup stage fails for any container: mount the devices controller (CONFIG_CGROUP_DEVICE)"}
	}
	policy, _ := cgroupsv2.NewDevicePolicy(nil)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.CGroupDevice, License: "Apache-2.0", Instructions: devicebpf.Program(policy)})
	if err != nil {
		return Check{Name: "device control", Detail: "a BPF_CGROUP_DEVICE program was refused: " + err.Error(),
			Action: "the cgroup stage fails for any container with device rules (CONFIG_CGROUP_BPF)"}
	}
	prog.Close()
	return Check{Name: "device control", OK: true, Detail: "a BPF_CGROUP_DEVICE program loads (cgroup v2)"}
}

// seccompFilter: linux.seccomp profiles (Docker's, podman's) need filter mode
// and the return actions they use.
func seccompFilter() Check {
	avail, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		return Check{Name: "seccomp", Detail: "no /proc/sys/kernel/seccomp (CONFIG_SECCOMP_FILTER off?)",
			Action: "every run fails in the exec stage: it loads the default profile (or run with --security-opt seccomp=unconfined)"}
	}
	f, err := seccomp.Compile(seccomp.DefaultProfile().ForContainer(spec.DefaultCapabilities))
	if err != nil {
		return Check{Name: "seccomp", Detail: err.Error(), Action: "the default profile does not compile here: run with --security-opt seccomp=unconfined"}
	}
	return Check{Name: "seccomp", OK: true, Detail: fmt.Sprintf("filter mode (actions: %s); runs and execs get the default profile: %d calls allowed, for %v",
		strings.TrimSpace(string(avail)), f.Rules, f.Arches)}
}

func overlay() Check {
	if hasFilesystem("overlay") {
		return Check{Name: "overlayfs", OK: true, Detail: "in /proc/filesystems"}
	}
	if state := moduleState("overlay"); state != "" {
		return Check{Name: "overlayfs", OK: true, Detail: "module " + state, Action: "the kernel loads it on the first mount"}
	}
	return Check{Name: "overlayfs", Detail: "missing", Action: "the rootfs stage cannot run: modprobe overlay, or use a kernel with CONFIG_OVERLAY_FS"}
}

func pivotRoot() Check {
	fstype := rootFSType()
	if fstype == "rootfs" {
		return Check{Name: "pivot_root", Detail: "/ is the initramfs (rootfs), which pivot_root(2) cannot move",
			Action: "switch_root to a tmpfs or a disk first; the mount stage fails with EINVAL otherwise"}
	}
	return Check{Name: "pivot_root", OK: true, Detail: "/ is " + fstype}
}

// network tries what container networking needs — a veth pair, a bridge,
// nf_tables — in a throwaway network namespace: a kernel may have them built
// in without any trace in /sys/module, so asking the kernel is the only sure way.
// defaultNetwork says which subnet the default bridge network uses.
func defaultNetwork() Check {
	info, err := gbnet.DefaultSubnet()
	if err != nil {
		return Check{Name: "default network", Detail: err.Error(), Action: "create networks with glassbox network create --subnet"}
	}
	return Check{Name: "default network", OK: true, Detail: info}
}

func network() []Check {
	type result struct{ veth, bridge, nft error }
	done := make(chan result, 1)
	go func() {
		// This thread enters a new network namespace and is never unlocked, so
		// Go ends the thread with the goroutine and the namespace goes with it;
		// the host's network stack is never touched.
		runtime.LockOSThread()
		ns, err := netns.New() // unshare(CLONE_NEWNET) for this thread only
		if err != nil {
			done <- result{err, err, err}
			return
		}
		defer ns.Close()
		var r result
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
		if err != nil {
			done <- result{err, err, err}
			return
		}
		defer h.Close()
		r.veth = h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, PeerName: "probe1"})
		r.bridge = h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probebr0"}})
		if c, err := nftables.New(nftables.WithNetNSFd(int(ns))); err != nil {
			r.nft = err
		} else {
			_, r.nft = c.ListTables()
			c.CloseLasting()
		}
		done <- r
	}()
	r := <-done
	check := func(name string, err error, ok, need string) Check {
		if err != nil {
			return Check{Name: name, Detail: err.Error(), Action: need}
		}
		return Check{Name: name, OK: true, Detail: ok}
	}
	return []Check{
		check("veth", r.veth, "created a veth pair in a scratch netns", "container networking needs veth pairs (CONFIG_VETH)"),
		check("bridge", r.bridge, "created a bridge in a scratch netns", "container networking needs a bridge (CONFIG_BRIDGE)"),
		check("nftables", r.nft, "listed nf_tables tables in a scratch netns", "NAT and published ports need nftables (CONFIG_NF_TABLES)"),
	}
}

func btf() Check {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return Check{Name: "BTF", Detail: "no /sys/kernel/btf/vmlinux", Action: "CO-RE BPF programs and fentry/tp_btf need it; raw tracepoints still work"}
	}
	return Check{Name: "BTF", OK: true, Detail: "/sys/kernel/btf/vmlinux"}
}

// tracingFS makes sure tracefs is mounted, mounting it if it is not.
func tracingFS() Check {
	mounted, err := trace.EnsureTracefs()
	switch {
	case err != nil:
		return Check{Name: "tracefs", Detail: "not mounted; " + err.Error(), Action: "kprobes and tracepoints need it"}
	case mounted:
		return Check{Name: "tracefs", OK: true, Detail: trace.TracingDir, Action: "was not mounted: glassbox mounted it"}
	}
	return Check{Name: "tracefs", OK: true, Detail: trace.TracingDir}
}

// kprobes attaches an empty BPF program to a kprobe on a kernel function.
func kprobes(tracefs bool) Check {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Kprobe,
		License:      "GPL",
		Instructions: returnZero(),
	})
	if err == nil {
		var l link.Link
		l, err = link.Kprobe(probeTarget, prog, nil)
		if err == nil {
			l.Close()
		}
		prog.Close()
	}
	if err != nil {
		detail := err.Error()
		if _, serr := os.Stat(filepath.Join(trace.TracingDir, "kprobe_events")); tracefs && serr != nil {
			detail = "not in this kernel (no kprobe_events: CONFIG_KPROBES is off)"
		}
		return Check{Name: "kprobes", Detail: detail,
			Action: "kernel events come from tracepoints, which cannot see inside functions such as veth creation"}
	}
	return Check{Name: "kprobes", OK: true, Detail: "a BPF kprobe on " + probeTarget + " attached"}
}

// probeTarget is a kernel function present on every kernel glassbox supports.
const probeTarget = "do_unlinkat"

func returnZero() asm.Instructions { return asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()} }

// fentry loads an empty program attached to the entry of a kernel function.
func fentry() Check {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceFEntry,
		AttachTo:     probeTarget,
		License:      "GPL",
		Instructions: returnZero(),
	})
	if err == nil {
		var l link.Link
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
		if err == nil {
			l.Close()
		}
		prog.Close()
	}
	if err != nil {
		msg := err.Error()
		if errors.Is(err, unix.EPERM) {
			msg = "load refused: operation not permitted"
		}
		return Check{Name: "fentry", Detail: msg, Action: "kernel events use kprobes or tracepoints instead"}
	}
	return Check{Name: "fentry", OK: true, Detail: "a BPF fentry program on " + probeTarget + " attached"}
}

func tracepoints(tracefs bool) Check {
	if !tracefs {
		return Check{Name: "tracepoints", Detail: "unknown (no tracefs)"}
	}
	var have []string
	for _, ev := range []string{"syscalls/sys_enter_mount", "cgroup/cgroup_mkdir", "sched/sched_process_exec", "raw_syscalls/sys_enter"} {
		if _, err := os.Stat(filepath.Join(trace.TracingDir, "events", ev)); err == nil {
			have = append(have, ev)
		}
	}
	if len(have) == 0 {
		return Check{Name: "tracepoints", Detail: "none of the syscall/cgroup/sched tracepoints exist", Action: "kernel events cannot be observed"}
	}
	return Check{Name: "tracepoints", OK: true, Detail: strings.Join(have, " ")}
}

func observer() Check {
	attached, modes := trace.ObserverStatus()
	if !attached {
		return Check{Name: "kernel observer", OK: true, Detail: "not attached",
			Action: "the next traced run attaches it (tracepoints; kernel functions as kprobes, else fentry)"}
	}
	var each []string
	for _, m := range modes {
		mode := m.Mode
		if mode == "" {
			mode = "not attached"
		}
		each = append(each, m.Target+"="+mode)
	}
	return Check{Name: "kernel observer", OK: true,
		Detail: fmt.Sprintf("%s mode, pinned at %s: %s", trace.ObserverMode(modes), trace.PinDir(), strings.Join(each, " ")),
		Action: "glassbox trace off detaches them"}
}

func hasFilesystem(name string) bool {
	data, _ := os.ReadFile("/proc/filesystems")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == name {
			return true
		}
	}
	return false
}

// moduleState is "loaded", "built in", "loadable" or "" when the kernel lacks it.
func moduleState(name string) string {
	if _, err := os.Stat("/sys/module/" + name); err == nil {
		return "loaded"
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	dir := filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]))
	if fileMentions(filepath.Join(dir, "modules.builtin"), "/"+name+".ko") {
		return "built in"
	}
	if fileMentions(filepath.Join(dir, "modules.dep"), "/"+name+".ko") {
		return "loadable"
	}
	return ""
}

func fileMentions(path, needle string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), needle) {
			return true
		}
	}
	return false
}

func rootFSType() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	fstype := "unknown"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, x := range fields {
			if x == "-" && len(fields) > 4 && fields[4] == "/" && i+1 < len(fields) {
				fstype = fields[i+1] // the last mount on / wins
			}
		}
	}
	return fstype
}
