package spec

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
	"github.com/glassbox-dev/glassbox/internal/specjson"
	"github.com/glassbox-dev/glassbox/mountns"
	"github.com/glassbox-dev/glassbox/seccomp"
)

// LoadBundle reads DIR/config.json and makes root.path absolute (it is relative
// to the bundle when it is not absolute, per the runtime-spec).
func LoadBundle(dir string) (*specs.Spec, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data, err := plainfile.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("bundle: %w (a bundle is a directory with config.json and a rootfs; `glassbox spec` prints one)", err)
	}
	var doc specjson.Linux
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("bundle %s/config.json: %w", dir, err)
	}
	s := cmp.Or(doc.Spec, &specs.Spec{}) // null: an empty one, its process missing
	// What every front end reads before the stages check the rest.
	for _, f := range []struct {
		missing bool
		field   string
	}{{s.Process == nil, "process"}, {s.Root == nil, "root"}, {s.Linux == nil, "linux"}} {
		if f.missing {
			return nil, fmt.Errorf("bundle %s/config.json: %s: missing (glassbox spec prints a complete config.json)", dir, f.field)
		}
	}
	if s.Root != nil && s.Root.Path != "" && !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(dir, s.Root.Path)
	}
	return s, nil
}

// Validate rejects what glassbox cannot honour yet, naming the config.json field,
// so that a Spec is never half-applied in silence.
func Validate(s *specs.Spec) error {
	if !strings.HasPrefix(s.Version, "1.") {
		return fmt.Errorf("ociVersion %q: glassbox implements runtime-spec 1.x", s.Version)
	}
	if s.Process == nil || len(s.Process.Args) == 0 {
		return fmt.Errorf("process.args: no command to run")
	}
	if s.Root == nil || s.Root.Path == "" {
		return fmt.Errorf("root.path: no root filesystem given")
	}
	if s.Linux == nil {
		return fmt.Errorf("linux: a Linux container needs the linux section")
	}
	if err := ValidateUser(s.Process.User, "process.user"); err != nil {
		return err
	}
	for i, l := range s.Process.Rlimits {
		if _, ok := Rlimits[l.Type]; !ok {
			return fmt.Errorf("process.rlimits[%d].type %q: not one of setrlimit(2)'s (RLIMIT_NOFILE, …)", i, l.Type)
		}
	}
	if !filepath.IsAbs(s.Process.Cwd) {
		return fmt.Errorf("process.cwd %q: must be an absolute path", s.Process.Cwd)
	}
	if err := validateMounts(s.Mounts); err != nil {
		return err
	}
	if _, err := LogConfigOf(s); err != nil {
		return fmt.Errorf("annotations: %w", err)
	}
	if _, err := parseHealthAnnotation(s); err != nil {
		return fmt.Errorf("annotations: %w", err)
	}
	p, l := s.Process, s.Linux
	if slices.Contains(strings.Split(filepath.ToSlash(l.CgroupsPath), "/"), "..") {
		return fmt.Errorf("linux.cgroupsPath %q: .. would lead out of the cgroup it names", l.CgroupsPath)
	}
	// Refused, not ignored: the container's init does not receive intelRdt,
	// netDevices or memoryPolicy (specjson.Init hides them), so accepting
	// one means unhiding it there first.
	unsupported := []struct {
		set   bool
		field string
	}{
		{p.ConsoleSize != nil && !p.Terminal, "process.consoleSize (without process.terminal)"},
		{p.ApparmorProfile != "", "process.apparmorProfile"},
		{p.SelinuxLabel != "", "process.selinuxLabel"},
		{p.ExecCPUAffinity != nil, "process.execCPUAffinity"},
		{l.IntelRdt != nil, "linux.intelRdt"},
		{l.MountLabel != "", "linux.mountLabel"},
		{len(l.NetDevices) > 0, "linux.netDevices"},
		{l.TimeOffsets != nil, "linux.timeOffsets"},
		{l.MemoryPolicy != nil, "linux.memoryPolicy"},
	}
	for _, u := range unsupported {
		if u.set {
			return fmt.Errorf("%s: not supported by glassbox yet; remove it from config.json", u.field)
		}
	}
	if h := s.Hooks; h != nil {
		for kind, list := range map[string][]specs.Hook{"prestart": h.Prestart, "createRuntime": h.CreateRuntime,
			"createContainer": h.CreateContainer, "startContainer": h.StartContainer, "poststart": h.Poststart, "poststop": h.Poststop} {
			for i, hook := range list {
				if !filepath.IsAbs(hook.Path) {
					return fmt.Errorf("hooks.%s[%d].path %q must be absolute", kind, i, hook.Path)
				}
			}
		}
	}
	if err := ValidateResources(l.Resources); err != nil {
		return err
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces[%d]: a second %s namespace", i, ns.Type)
		}
		seen[ns.Type] = true
		switch ns.Type {
		case specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace,
			specs.UTSNamespace, specs.MountNamespace, specs.CgroupNamespace, specs.UserNamespace:
		default:
			return fmt.Errorf("linux.namespaces[%d]: %q namespaces are not supported yet", i, ns.Type)
		}
		if ns.Path != "" && ns.Type == specs.UserNamespace {
			return fmt.Errorf("linux.namespaces[%d].path: joining an existing user namespace is not supported: setns(CLONE_NEWUSER) needs a single-threaded process, and glassbox's init is a Go program", i)
		}
	}
	if (s.Hostname != "" || s.Domainname != "") && !seen[specs.UTSNamespace] {
		return fmt.Errorf("hostname, domainname: setting them needs a UTS namespace of the container's (linux.namespaces), or they would be the host's")
	}
	if err := validateIDMappings(s); err != nil {
		return err
	}
	if pers := l.Personality; pers != nil {
		if pers.Domain != specs.PerLinux && pers.Domain != specs.PerLinux32 {
			return fmt.Errorf("linux.personality.domain %q: LINUX or LINUX32", pers.Domain)
		}
		if len(pers.Flags) > 0 {
			return fmt.Errorf("linux.personality.flags: none are defined by the runtime-spec")
		}
	}
	if sch := p.Scheduler; sch != nil {
		if _, ok := SchedulerPolicies[sch.Policy]; !ok {
			return fmt.Errorf("process.scheduler.policy %q: SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR or SCHED_DEADLINE", sch.Policy)
		}
		for _, f := range sch.Flags {
			if _, ok := SchedulerFlags[f]; !ok {
				return fmt.Errorf("process.scheduler.flags: %q is not a sched_setattr(2) flag", f)
			}
		}
	}
	if io := p.IOPriority; io != nil {
		if _, ok := IOPriorityClasses[io.Class]; !ok {
			return fmt.Errorf("process.ioPriority.class %q: IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE", io.Class)
		}
		if io.Priority < 0 || io.Priority > 7 {
			return fmt.Errorf("process.ioPriority.priority %d: between 0 (highest) and 7", io.Priority)
		}
	}
	if l.Seccomp != nil {
		if err := seccomp.Check(l.Seccomp); err != nil {
			return err
		}
	}
	for key := range l.Sysctl {
		if err := namespacedSysctl(s, key); err != nil {
			return fmt.Errorf("linux.sysctl %q: %w", key, err)
		}
	}
	return nil
}

// SchedulerPolicies and SchedulerFlags are sched_setattr(2)'s (SCHED_ISO,
// which mainline Linux never had, is not among them).
var SchedulerPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: unix.SCHED_NORMAL, specs.SchedFIFO: unix.SCHED_FIFO, specs.SchedRR: unix.SCHED_RR,
	specs.SchedBatch: unix.SCHED_BATCH, specs.SchedIdle: unix.SCHED_IDLE, specs.SchedDeadline: unix.SCHED_DEADLINE,
}

var SchedulerFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: unix.SCHED_FLAG_RESET_ON_FORK, specs.SchedFlagReclaim: unix.SCHED_FLAG_RECLAIM,
	specs.SchedFlagDLOverrun: unix.SCHED_FLAG_DL_OVERRUN, specs.SchedFlagKeepPolicy: unix.SCHED_FLAG_KEEP_POLICY,
	specs.SchedFlagKeepParams: unix.SCHED_FLAG_KEEP_PARAMS, specs.SchedFlagUtilClampMin: unix.SCHED_FLAG_UTIL_CLAMP_MIN,
	specs.SchedFlagUtilClampMax: unix.SCHED_FLAG_UTIL_CLAMP_MAX,
}

// IOPriorityClasses are ioprio_set(2)'s scheduling classes.
var IOPriorityClasses = map[specs.IOPriorityClass]int{specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3}

// procFiles are the files in /proc a mount may cover (what lxcfs provides,
// as runc allows); anything else in /proc, and /proc itself unless it is a
// proc mount, would hide or replace the kernel's view the masks rely on.
var procFiles = []string{"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
	"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"}

// validateMounts refuses a mount over the container's root, and over /proc
// or what is in it (but for procFiles); idmapped mounts, which glassbox does
// not make; and, on a bind mount, a bare word that is no mount flag — a
// misspelt one ("nosiud") that the kernel would ignore. Filesystem options
// (key=value) are passed as data, which a bind mount ignores (as with runc).
func validateMounts(mounts []specs.Mount) error {
	for i, m := range mounts {
		if err := CheckMountDestination(m.Destination, m.Type); err != nil {
			return fmt.Errorf("mounts[%d].destination %q: %w", i, m.Destination, err)
		}
		idmap := slices.ContainsFunc(m.Options, func(o string) bool { return o == "idmap" || o == "ridmap" })
		if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 || idmap {
			return fmt.Errorf("mounts[%d]: idmapped mounts (uidMappings, gidMappings, idmap) are not supported by glassbox yet", i)
		}
		opts := mountns.ParseOptions(m.Options)
		if m.Type == "bind" || opts.Flags&unix.MS_BIND != 0 {
			for _, o := range strings.Split(opts.Data, ",") {
				if o != "" && !strings.Contains(o, "=") {
					return fmt.Errorf("mounts[%d].options: %q is no mount flag (%s), and a bind mount ignores filesystem options", i, o, strings.Join(mountns.OptionNames(), " "))
				}
			}
		}
	}
	return nil
}

// CheckMountDestination refuses a mount over the container's root, and over
// /proc or what is in it (but for procFiles). The mount stage checks again
// where the destination leads once the rootfs's symlinks are followed.
func CheckMountDestination(dest, fstype string) error {
	dest = filepath.Clean("/" + dest)
	switch {
	case dest == "/":
		return fmt.Errorf("a mount over the container's root; root.path is that")
	case dest == "/proc" && fstype != "proc":
		return fmt.Errorf("/proc must be a proc mount (type proc), not %q", fstype)
	case strings.HasPrefix(dest, "/proc/") && !slices.Contains(procFiles, dest):
		return fmt.Errorf("a mount in /proc would cover the kernel's files (only %s may be replaced)", strings.Join(procFiles, ", "))
	}
	return nil
}

// NoID is (uid_t)-1 and (gid_t)-1: setresuid(2) and setresgid(2) take it
// for "leave this one unchanged", so a process told to become uid 4294967295
// would stay root; chown(2) takes it for "do not change"; no user namespace
// can map it. No id may be it.
const NoID = 1<<32 - 1

// ValidateUser refuses the ids no process can have (NoID).
func ValidateUser(u specs.User, field string) error {
	if u.UID == NoID {
		return fmt.Errorf("%s.uid %d is (uid_t)-1, which setresuid(2) takes as \"unchanged\": a uid is below %d", field, u.UID, uint32(NoID))
	}
	if u.GID == NoID {
		return fmt.Errorf("%s.gid %d is (gid_t)-1, which setresgid(2) takes as \"unchanged\": a gid is below %d", field, u.GID, uint32(NoID))
	}
	for i, g := range u.AdditionalGids {
		if g == NoID {
			return fmt.Errorf("%s.additionalGids[%d] %d is (gid_t)-1: a gid is below %d", field, i, g, uint32(NoID))
		}
	}
	return nil
}

// validateIDMappings: a user namespace needs both maps, and they must give
// the container a root — the init sets the container up as that root. No
// range may be empty or reach (uid_t)-1 on either side.
func validateIDMappings(s *specs.Spec) error {
	l := s.Linux
	for field, m := range map[string][]specs.LinuxIDMapping{"uidMappings": l.UIDMappings, "gidMappings": l.GIDMappings} {
		for i, r := range m {
			if r.Size == 0 {
				return fmt.Errorf("linux.%s[%d].size: 0 maps nothing", field, i)
			}
			if uint64(r.ContainerID)+uint64(r.Size) > NoID || uint64(r.HostID)+uint64(r.Size) > NoID {
				return fmt.Errorf("linux.%s[%d]: %d ids from %d (container) and %d (host) reach past %d, which is (uid_t)-1 and cannot be mapped", field, i, r.Size, r.ContainerID, r.HostID, uint32(NoID)-1)
			}
		}
	}
	if !HasNamespace(s, specs.UserNamespace) {
		if len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0 {
			return fmt.Errorf("linux.uidMappings/gidMappings: they map ids into a user namespace, and linux.namespaces has none")
		}
		return nil
	}
	if _, ok := HostID(l.UIDMappings, 0); !ok {
		return fmt.Errorf("linux.uidMappings must map the container's uid 0 (a user namespace needs both maps, and glassbox sets the container up as its root)")
	}
	if _, ok := HostID(l.GIDMappings, 0); !ok {
		return fmt.Errorf("linux.gidMappings must map the container's gid 0 (a user namespace needs both maps, and glassbox sets the container up as its root)")
	}
	return nil
}

// HostID is the host's id for a container id under a user namespace's map.
func HostID(m []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, r := range m {
		if id >= r.ContainerID && id-r.ContainerID < r.Size {
			return r.HostID + id - r.ContainerID, true
		}
	}
	return 0, false
}

// ipcSysctls are the kernel.* settings the IPC namespace owns.
var ipcSysctls = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}

// namespacedSysctl accepts only the settings that belong to a namespace the
// container has of its own: written from inside, any other one would change
// the host.
func namespacedSysctl(s *specs.Spec, key string) error {
	k := strings.ReplaceAll(key, "/", ".")
	switch {
	case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
		if !HasNamespace(s, specs.IPCNamespace) {
			return fmt.Errorf("needs an IPC namespace (linux.namespaces)")
		}
	case strings.HasPrefix(k, "net."):
		if !HasNamespace(s, specs.NetworkNamespace) {
			return fmt.Errorf("needs a network namespace (linux.namespaces)")
		}
	case k == "kernel.domainname":
		if !HasNamespace(s, specs.UTSNamespace) {
			return fmt.Errorf("needs a UTS namespace (linux.namespaces)")
		}
	default:
		return fmt.Errorf("not in a namespace the container owns: setting it would change the host")
	}
	return nil
}

// ValidateResources accepts the limits the cgroup stage applies (memory,
// swap, reservation, swappiness, the OOM killer switch and kernel memory, CPU
// bandwidth, shares and cpuset, pids, block I/O weight and throttles, raw v2
// files, device rules) and names any other field.
func ValidateResources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	var unsupported []string
	if m := r.Memory; m != nil {
		for _, f := range []struct {
			set  bool
			name string
		}{
			{m.UseHierarchy != nil, "useHierarchy"}, {m.CheckBeforeUpdate != nil, "checkBeforeUpdate"},
		} {
			if f.set {
				unsupported = append(unsupported, "memory."+f.name)
			}
		}
		if m.Swappiness != nil && *m.Swappiness > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness %d: between 0 and 100", *m.Swappiness)
		}
		if m.Swap != nil && m.Limit == nil {
			return fmt.Errorf("linux.resources.memory.swap needs memory.limit: it is the limit of memory and swap together")
		}
		if m.Swap != nil && *m.Swap >= 0 && *m.Limit >= 0 && *m.Swap < *m.Limit {
			return fmt.Errorf("linux.resources.memory.swap (%d) is smaller than memory.limit (%d): it counts memory and swap together", *m.Swap, *m.Limit)
		}
	}
	if c := r.CPU; c != nil {
		if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
			unsupported = append(unsupported, "cpu.realtimeRuntime/realtimePeriod")
		}
		if c.Idle != nil || c.Burst != nil {
			unsupported = append(unsupported, "cpu.idle/burst")
		}
	}
	if b := r.BlockIO; b != nil {
		if b.LeafWeight != nil || len(b.WeightDevice) > 0 {
			unsupported = append(unsupported, "blockIO.leafWeight/weightDevice")
		}
		if b.Weight != nil && (*b.Weight < 10 || *b.Weight > 1000) {
			return fmt.Errorf("linux.resources.blockIO.weight %d: between 10 and 1000", *b.Weight)
		}
	}
	if len(r.HugepageLimits) > 0 {
		unsupported = append(unsupported, "hugepageLimits")
	}
	if r.Network != nil {
		unsupported = append(unsupported, "network")
	}
	if len(r.Rdma) > 0 {
		unsupported = append(unsupported, "rdma")
	}
	if len(unsupported) > 0 {
		return fmt.Errorf("linux.resources.%s: not supported by glassbox yet; remove it from config.json", strings.Join(unsupported, ", "))
	}
	return nil
}

// HasNamespace reports whether the Spec asks for a new namespace of type t.
func HasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// Warnings lists what the kernel will not do as the Spec asks, without it being
// an error (runc accepts the same and skips it).
func Warnings(s *specs.Spec) []string {
	var out []string
	if c := s.Process.Capabilities; c != nil {
		for _, a := range c.Ambient {
			if !slices.Contains(c.Inheritable, a) || !slices.Contains(c.Permitted, a) {
				out = append(out, fmt.Sprintf("process.capabilities.ambient: %s is not both permitted and inheritable, so the kernel cannot raise it; skipped", a))
			}
		}
	}
	return out
}
