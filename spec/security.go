package spec

// The security flags of `glassbox run`, the way Docker applies them: the
// capabilities (--cap-add, --cap-drop, --privileged), the seccomp profile
// (Docker's semantics: glassbox's default, or --security-opt
// seccomp=unconfined|builtin|FILE), no_new_privs, devices, rlimits and groups.
// Everything here ends up in the Spec; a flag glassbox cannot honour (an
// AppArmor or SELinux label) is refused by name, never ignored.

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/seccomp"
)

// CapabilityNumbers are the kernel's capability numbers (linux/capability.h).
var CapabilityNumbers = map[string]int{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// CapabilityNames are the capabilities glassbox knows, sorted.
func CapabilityNames() []string { return slices.Sorted(maps.Keys(CapabilityNumbers)) }

// grantable are the capabilities glassbox can give a container: those in its
// own bounding set (a host or a sandbox may withhold some, even from root).
// Read once: the bounding set of a process only ever shrinks, and glassbox
// does not shrink its own.
var grantable = sync.OnceValue(func() []string {
	var bounding uint64
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
				bounding, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			}
		}
	}
	return slices.DeleteFunc(CapabilityNames(), func(c string) bool { return bounding&(1<<CapabilityNumbers[c]) == 0 })
})

// SeccompAnnotation names the seccomp profile a run got: "builtin"
// (seccomp/default.json), "unconfined", or the file it came from.
const SeccompAnnotation = "org.glassbox.seccomp"

// GroupAddAnnotation carries --group-add names, which only the container's
// /etc/group can resolve (the exec stage does, like -u's).
const GroupAddAnnotation = "org.glassbox.group-add"

// SecurityOptions are the security flags of `glassbox run`.
type SecurityOptions struct {
	CapAdd      []string // --cap-add: a capability, with or without CAP_, or ALL
	CapDrop     []string // --cap-drop
	Privileged  bool     // --privileged: every capability, every device, no seccomp, nothing masked
	SecurityOpt []string // --security-opt seccomp=unconfined|builtin|FILE, no-new-privileges[=true|false], systempaths=unconfined
	Devices     []string // --device HOST[:CONTAINER[:PERMISSIONS]]
	Ulimits     []string // --ulimit NAME=SOFT[:HARD]
	GroupAdd    []string // --group-add GID|NAME
	Userns      string   // --userns: only host, glassbox has no remapping
}

// applySecurity sets the Spec's capabilities, seccomp profile,
// no_new_privs, devices, rlimits and groups from the flags; run it before
// applyUser, which narrows the capabilities of a non-root user.
func applySecurity(s *specs.Spec, o SecurityOptions) error {
	if o.Userns != "" && o.Userns != "host" {
		return fmt.Errorf("--userns %q: glassbox does not remap users into a user namespace; only --userns=host (the default) is accepted", o.Userns)
	}
	caps, err := capabilities(o)
	if err != nil {
		return err
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: clone(caps), Permitted: clone(caps)}
	var profile *seccomp.Profile // nil: the builtin one, read only if it is used
	profileName := seccomp.DefaultProfileName
	for _, opt := range o.SecurityOpt {
		key, value, hasValue := strings.Cut(opt, "=")
		if !hasValue {
			key, value, hasValue = strings.Cut(opt, ":") // Docker's old spelling
		}
		switch {
		case key == "seccomp" && (value == "unconfined" || value == seccomp.DefaultProfileName):
			profile, profileName = nil, value
		case key == "seccomp" && hasValue:
			if profile, err = readProfile(value); err != nil {
				return fmt.Errorf("--security-opt seccomp=%s: %w", value, err)
			}
			profileName, _ = filepath.Abs(value)
		case key == "no-new-privileges":
			nnp, err := strconv.ParseBool(cmp.Or(value, "true"))
			if err != nil {
				return fmt.Errorf("--security-opt %s: true or false", opt)
			}
			s.Process.NoNewPrivileges = nnp
		case key == "systempaths" && value == "unconfined":
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		case key == "apparmor" || key == "label" || key == "mask" || key == "unmask" || key == "proc-opts":
			return fmt.Errorf("--security-opt %s: not supported by glassbox (it applies no AppArmor or SELinux profile, and masks the paths runc does); leave it out", opt)
		default:
			return fmt.Errorf("--security-opt %q: glassbox knows seccomp=unconfined|builtin|FILE, no-new-privileges[=true|false] and systempaths=unconfined", opt)
		}
	}
	if o.Privileged {
		if err := privileged(s); err != nil {
			return err
		}
		profile, profileName = nil, "unconfined"
	}
	setAnnotation(s, SeccompAnnotation, profileName)
	if profileName == seccomp.DefaultProfileName {
		profile = seccomp.DefaultProfile()
	}
	if profile != nil {
		s.Linux.Seccomp = profile.ForContainer(caps)
	}
	for _, d := range o.Devices {
		if err := addDevice(s, d); err != nil {
			return err
		}
	}
	for _, u := range o.Ulimits {
		if err := addRlimit(s, u); err != nil {
			return err
		}
	}
	var names []string
	for _, g := range o.GroupAdd {
		gid, err := strconv.ParseUint(g, 10, 32)
		switch {
		case err == nil && gid == NoID:
			return fmt.Errorf("--group-add %s is (gid_t)-1: a gid is below %d", g, uint32(NoID))
		case err == nil:
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(gid))
		case g == "" || strings.ContainsAny(g, ":,\n"):
			return fmt.Errorf("--group-add %q: a gid or a group name", g)
		default:
			names = append(names, g)
		}
	}
	if len(names) > 0 {
		setAnnotation(s, GroupAddAnnotation, strings.Join(names, ","))
	}
	return nil
}

// maxProfileSize bounds a --security-opt seccomp=FILE: Docker's own profile
// is 20 KiB, and the kernel takes at most 4096 instructions anyway.
const maxProfileSize = 1 << 20

// readProfile reads a profile file: a regular file (not a FIFO or /dev/zero
// that would hold the run) of at most maxProfileSize.
func readProfile(path string) (*seccomp.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxProfileSize {
		return nil, fmt.Errorf("larger than %d MiB: not a seccomp profile", maxProfileSize>>20)
	}
	return seccomp.ParseProfile(data)
}

// capabilities is Docker's default set with --cap-drop and --cap-add applied
// (ALL in --cap-add: every one but those dropped; ALL in --cap-drop: none but
// those added), or every capability with --privileged.
func capabilities(o SecurityOptions) ([]string, error) {
	norm := func(flag string, names []string) ([]string, bool, error) {
		var out []string
		all := false
		for _, n := range names {
			c := strings.ToUpper(n)
			if c == "ALL" {
				all = true
				continue
			}
			if !strings.HasPrefix(c, "CAP_") {
				c = "CAP_" + c
			}
			if _, ok := CapabilityNumbers[c]; !ok {
				return nil, false, fmt.Errorf("--%s %s: no such capability (capabilities(7); glassbox knows %s…)", flag, n, strings.Join(CapabilityNames()[:4], ", "))
			}
			if flag == "cap-add" && !slices.Contains(grantable(), c) {
				return nil, false, fmt.Errorf("--cap-add %s: glassbox itself does not have %s (it is not in its bounding set), so it cannot give it", n, c)
			}
			out = append(out, c)
		}
		return out, all, nil
	}
	add, addAll, err := norm("cap-add", o.CapAdd)
	if err != nil {
		return nil, err
	}
	drop, dropAll, err := norm("cap-drop", o.CapDrop)
	if err != nil {
		return nil, err
	}
	caps := clone(DefaultCapabilities)
	switch {
	case o.Privileged:
		return clone(grantable()), nil
	case addAll:
		caps = clone(grantable()) // as Docker: ALL, less what --cap-drop names
	case dropAll:
		caps = nil
	}
	caps = slices.DeleteFunc(caps, func(c string) bool { return slices.Contains(drop, c) })
	for _, c := range add {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	return caps, nil
}

// privileged is what Docker's --privileged gives: nothing masked or read-only
// in /proc and /sys, every device of the host (and the cgroup's permission to
// use them). The capabilities and the absence of seccomp are set by the caller.
func privileged(s *specs.Spec) error {
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	for i, m := range s.Mounts {
		if m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
			s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
	}
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	return filepath.WalkDir("/dev", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Type()&(os.ModeDevice|os.ModeCharDevice) == 0 {
			return nil
		}
		switch {
		case strings.HasPrefix(path, "/dev/pts/"), path == "/dev/console", path == "/dev/ptmx":
			return nil // the container's own: its devpts, its terminal
		}
		if dev, err := hostDevice(path, path); err == nil {
			s.Linux.Devices = append(s.Linux.Devices, dev)
		}
		return nil
	})
}

// hostDevice describes the host's device node at path, to be made at dest.
func hostDevice(path, dest string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return specs.LinuxDevice{}, err
	}
	var kind string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		kind = "c"
	case unix.S_IFBLK:
		kind = "b"
	default:
		return specs.LinuxDevice{}, errors.New("not a device node")
	}
	mode := os.FileMode(st.Mode & 0o777)
	return specs.LinuxDevice{Path: dest, Type: kind, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		FileMode: &mode, UID: &st.Uid, GID: &st.Gid}, nil
}

// addDevice: --device HOST[:CONTAINER[:PERMISSIONS]] makes the host's device
// node in the container and lets the container's cgroup use it.
func addDevice(s *specs.Spec, flag string) error {
	parts := strings.Split(flag, ":")
	host, dest, perms := parts[0], parts[0], "rwm"
	switch len(parts) {
	case 1:
	case 2:
		if isDevicePermissions(parts[1]) {
			perms = parts[1]
		} else {
			dest = parts[1]
		}
	case 3:
		dest, perms = parts[1], parts[2]
	default:
		return fmt.Errorf("--device %q: expected HOST[:CONTAINER[:PERMISSIONS]]", flag)
	}
	if !isDevicePermissions(perms) {
		return fmt.Errorf("--device %s: permissions %q: some of r, w, m", flag, perms)
	}
	if !filepath.IsAbs(host) || !filepath.IsAbs(dest) || filepath.Clean(dest) == "/" {
		return fmt.Errorf("--device %s: both paths must be absolute, and the container's not /", flag)
	}
	dev, err := hostDevice(host, filepath.Clean(dest))
	if err != nil {
		return fmt.Errorf("--device %s: %s: %w", flag, host, err)
	}
	s.Linux.Devices = append(s.Linux.Devices, dev)
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
		Allow: true, Type: dev.Type, Major: &dev.Major, Minor: &dev.Minor, Access: perms})
	return nil
}

func isDevicePermissions(p string) bool {
	return p != "" && strings.Trim(p, "rwm") == "" && len(p) <= 3
}

// Rlimits are setrlimit(2)'s resources by their names in process.rlimits;
// --ulimit takes them in lower case without RLIMIT_, as Docker does.
var Rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// addRlimit: --ulimit NAME=SOFT[:HARD] (-1: unlimited); a second one for
// the same NAME replaces the first.
func addRlimit(s *specs.Spec, flag string) error {
	name, values, ok := strings.Cut(flag, "=")
	kind := "RLIMIT_" + strings.ToUpper(name)
	if _, known := Rlimits[kind]; !ok || !known || name != strings.ToLower(name) {
		var names []string
		for k := range Rlimits {
			names = append(names, strings.ToLower(strings.TrimPrefix(k, "RLIMIT_")))
		}
		slices.Sort(names)
		return fmt.Errorf("--ulimit %q: expected NAME=SOFT[:HARD], NAME one of %s", flag, strings.Join(names, ", "))
	}
	soft, hard, hasHard := strings.Cut(values, ":")
	parse := func(v string) (uint64, error) {
		if v == "-1" || v == "unlimited" {
			return math.MaxUint64, nil // RLIM_INFINITY
		}
		return strconv.ParseUint(v, 10, 64)
	}
	sv, err := parse(soft)
	hv := sv
	if err == nil && hasHard {
		hv, err = parse(hard)
	}
	if err != nil {
		return fmt.Errorf("--ulimit %s: %q is not a number (or -1 for no limit)", flag, values)
	}
	if sv > hv {
		return fmt.Errorf("--ulimit %s: the soft limit %s is above the hard limit %s", flag, soft, hard)
	}
	s.Process.Rlimits = slices.DeleteFunc(s.Process.Rlimits, func(r specs.POSIXRlimit) bool { return r.Type == kind })
	s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: kind, Soft: sv, Hard: hv})
	return nil
}
