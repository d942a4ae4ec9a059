package stages

// Stage mount — the container's filesystem tree, then pivot_root into it.
//
// The init is in a new mount namespace: a private copy of the host's mount table
// that it may change freely. In order:
//
//  1. mount("", "/", MS_REC|MS_PRIVATE): on systemd hosts every mount is
//     "shared", so mounts and unmounts would propagate back to the host — and
//     pivot_root(2) fails with EINVAL when the new root or its parent mount is
//     shared. rprivate cuts both ties (the Spec may ask for rslave instead).
//     If it asks for rshared, the rootfs's own mount is made private, as runc
//     does: otherwise every mount below would also appear in the host's
//     namespace, where no one would unmount it.
//  2. mount(rootfs, rootfs, MS_BIND|MS_REC): pivot_root needs the new root to be
//     a mount point; a bind mount onto itself makes any directory one.
//  3. The Spec's mounts, in order, under the rootfs: proc (shows the new pid
//     namespace), sysfs read-only (shows the new network namespace), a tmpfs
//     /dev with devpts, shm and mqueue, cgroupfs, volumes (bind mounts), tmpfs.
//     Destinations are resolved inside the rootfs (mountns.MkdirInRoot) so an
//     image's symlinks cannot point a mount at the host.
//  4. /dev: mknod(2) for null, zero, full, random, urandom, tty (the devices the
//     runtime-spec requires) and the Spec's devices — in a user namespace,
//     where mknod of a device is refused, bind mounts of the host's nodes;
//     the ptmx, fd, stdin, stdout, stderr symlinks.
//  5. pivot_root(".", "."): chdir into the rootfs and make it "/". The old root
//     ends up mounted on top of the new one; umount2(".", MNT_DETACH) lets it go.
//     Unlike chroot(2), nothing of the host's tree is reachable afterwards.
//  6. linux.sysctl: a write to /proc/sys/<key> each. Only keys of namespaces the
//     container owns are accepted (net.* for the network namespace, kernel.shm*
//     and fs.mqueue.* for IPC…), so the new /proc writes the container's copy.
//  7. Read-only paths (/proc/sys, …: bind + remount read-only) and masked paths
//     (/proc/kcore, …: /dev/null or an empty read-only tmpfs on top).
//  8. --read-only: remount "/" read-only.
//
// A Spec may name an existing mount namespace to join (linux.namespaces
// path): the init joins it first, and all of the above happens there — its
// root becomes the container's. Or it may name none: the container then
// shares the host's mount namespace, as it asked. Steps 1 and 2 are left out
// (they would change the host's propagation and mount table), the mounts of
// step 3 appear on the host below the rootfs, and chroot(2) takes the place
// of pivot_root, which would move the host's own root.
//
// Undo: for a container with a mount namespace of its own, nothing: every
// mount here lives there and disappears with its last process. For one
// sharing the host's, umount2 of everything it mounted below its rootfs.

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/mountns"
	"github.com/glassbox-dev/glassbox/spec"
)

var Mount = &Stage{
	Name:      "mount",
	Purpose:   "mount /proc, /sys, /dev and volumes in the rootfs, then pivot_root into it",
	Kernel:    "mount(2) MS_PRIVATE/MS_BIND/proc/sysfs/tmpfs/devpts/mqueue/cgroup, mknod(2), pivot_root(2), umount2(2)",
	Container: setupMounts,
	Undo:      unmountFromHost,
}

func setupMounts(in *Init) error {
	s, root := in.Spec, in.Rootfs
	ownNamespace := spec.HasNamespace(s, specs.MountNamespace)
	if ownNamespace {
		prop, err := mountns.Propagation(s.Linux.RootfsPropagation)
		if err != nil {
			return err
		}
		if err := in.mount("", "/", "", prop, ""); err != nil {
			return err
		}
		if prop&unix.MS_SHARED != 0 {
			if m, err := mountns.MountOf(root); err == nil && m.Shared {
				if err := in.mount("", m.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
					return err
				}
			}
		}
		if err := in.mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
	}
	for _, m := range s.Mounts {
		if err := in.mountOne(m); err != nil {
			return err
		}
	}
	if err := in.createDevices(s.Linux.Devices); err != nil {
		return err
	}
	if h := s.Hooks; h != nil { // in the container's namespaces, before pivot_root
		if err := in.runInitHooks("createContainer", h.CreateContainer); err != nil {
			return err
		}
	}
	enter := in.pivotRoot
	if !ownNamespace {
		enter = in.chrootInto
	}
	if err := enter(); err != nil {
		return err
	}
	if err := in.writeSysctls(s.Linux.Sysctl); err != nil {
		return err
	}
	for _, p := range s.Linux.ReadonlyPaths {
		if err := in.readonlyPath(p); err != nil {
			return err
		}
	}
	for _, p := range s.Linux.MaskedPaths {
		if err := in.maskPath(p); err != nil {
			return err
		}
	}
	if s.Root.Readonly {
		return in.remountBind("/", unix.MS_RDONLY)
	}
	return nil
}

// mount is mount(2), recorded as a step, with an error that shows the call.
func (in *Init) mount(source, target, fstype string, flags uintptr, data string) error {
	start := time.Now()
	err := unix.Mount(source, target, fstype, flags, data)
	shown := in.containerPath(target)
	var name string
	switch {
	case flags&unix.MS_REMOUNT != 0:
		name = "remount " + shown
	case flags&unix.MS_BIND != 0:
		name = "bind " + in.containerPath(source) + " on " + shown
	case fstype == "":
		name = "propagation " + shown
	default:
		name = "mount " + fstype + " on " + shown
	}
	in.steps.record(name, start, err, "glassbox.mount.source", source, "glassbox.mount.target", target,
		"glassbox.mount.fstype", fstype, "glassbox.mount.flags", mountns.FlagNames(flags), "glassbox.mount.data", data)
	if err != nil {
		call := fmt.Sprintf("mount(%q, %s, %q, %s, %q)", source, target, fstype, mountns.FlagNames(flags), data)
		hint := mountHint(err, source, fstype, data)
		if errors.Is(err, unix.EACCES) && newNamespace(in.Spec, specs.UserNamespace) {
			uid, _ := spec.HostID(in.Spec.Linux.UIDMappings, 0)
			hint = fmt.Sprintf("in a user namespace the mounts are made as its root, host uid %d, which must be able to reach both paths: make the directories above them searchable (chmod o+x)", uid)
		}
		return callError(call, err, hint)
	}
	return nil
}

// containerPath shows a host path below the rootfs as the container will see it.
func (in *Init) containerPath(p string) string {
	if rel, ok := strings.CutPrefix(p, in.Rootfs); ok && (rel == "" || rel[0] == '/') {
		return "/" + strings.TrimPrefix(rel, "/")
	}
	return p
}

func mountHint(err error, source, fstype, data string) string {
	switch {
	case errors.Is(err, unix.EINVAL) && fstype != "" && data != "":
		return fmt.Sprintf("EINVAL does not say which argument is wrong: is every option in %q one that %s accepts (man 5 %s)?", data, fstype, fstype)
	case errors.Is(err, unix.ENOENT) && fstype == "":
		return "the bind mount source " + source + " does not exist on the host"
	case errors.Is(err, unix.EPERM):
		return "mounting needs CAP_SYS_ADMIN; is glassbox running as root?"
	case errors.Is(err, unix.ENODEV):
		return "the kernel does not know filesystem type " + fstype
	}
	return ""
}

// mountOne mounts one Spec mount below the rootfs.
func (in *Init) mountOne(m specs.Mount) error {
	root := in.Rootfs
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return in.mountCgroupfs(m)
	}
	opts := mountns.ParseOptions(m.Options)
	bind := m.Type == "bind" || opts.Flags&unix.MS_BIND != 0
	kind := mountns.Dir
	if bind {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return callError("stat("+m.Source+")", err, "the source of the mount on "+m.Destination+" must exist on the host")
		}
		if !fi.IsDir() {
			kind = mountns.File
		}
	}
	dest, err := mountns.MkdirInRoot(root, m.Destination, kind)
	if err != nil {
		return &Error{Call: "mount point " + m.Destination, Msg: err.Error()}
	}
	// The image's symlinks may lead a harmless-looking destination into
	// /proc (/run/x -> /proc/sys): what counts is where it ends up.
	if inside := strings.TrimPrefix(dest, root); inside != filepath.Clean("/"+m.Destination) {
		if err := spec.CheckMountDestination(inside, m.Type); err != nil {
			return &Error{Call: "mount point " + m.Destination, Msg: "a symlink in the rootfs leads it to " + inside + ": " + err.Error()}
		}
	}
	if bind {
		if err := in.mount(m.Source, dest, "", opts.Flags&(unix.MS_BIND|unix.MS_REC)|unix.MS_BIND, ""); err != nil {
			return err
		}
		// A bind mount ignores every other flag: ro, nosuid… need a remount.
		if extra := opts.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); extra != 0 {
			if err := in.remountBind(dest, extra); err != nil {
				return err
			}
		}
	} else if err := in.mount(m.Source, dest, m.Type, opts.Flags, opts.Data); err != nil {
		return err
	}
	if opts.Propagation != 0 {
		return in.mount("", dest, "", opts.Propagation, "")
	}
	return nil
}

// remountBind changes the flags of an existing mount. A bind remount replaces
// the per-mount flags, so the ones in force (read-only, nosuid, nodev, noexec,
// atime settings — statfs(2) reports them with the same bit values) are kept:
// a volume's "rw" never makes a read-only host mount writable, as in runc.
func (in *Init) remountBind(path string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return callError("statfs("+path+")", err, "")
	}
	keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
		unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_RDONLY)
	return in.mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|keep|flags, "")
}

// mountCgroupfs shows the container its own cgroup (the cgroup namespace makes
// it the root). On v2 that is one cgroup2 mount; on v1 and hybrid hosts it is a
// tmpfs holding one mount per hierarchy, as runc and Docker lay it out.
func (in *Init) mountCgroupfs(m specs.Mount) error {
	dest, err := mountns.MkdirInRoot(in.Rootfs, m.Destination, mountns.Dir)
	if err != nil {
		return &Error{Call: "mount point " + m.Destination, Msg: err.Error()}
	}
	opts := mountns.ParseOptions(m.Options)
	mode, err := cgroupsv2.Detect()
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	trees := in.cgroups // planned by the cgroup stage
	if len(trees) == 0 {
		return &Error{Call: "mount " + m.Destination, Msg: "glassbox sent no cgroup trees to mount"}
	}
	// In a cgroup namespace of its own, a cgroupfs mount shows the container
	// its own cgroup as the root. Without one it would show the host's whole
	// tree (and a user namespace's root may not mount it at all), so the
	// container's own cgroups are bind-mounted from the host's trees, as runc
	// does.
	bind := !newNamespace(in.Spec, specs.CgroupNamespace)
	mountTree := func(t cgroupsv2.Hierarchy, target string) error {
		if bind {
			if err := in.mount(filepath.Join(t.Mount, t.Own), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return err
			}
			return in.mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|opts.Flags, "")
		}
		fstype, data := "cgroup", t.Controllers
		if !t.V1 {
			fstype, data = "cgroup2", ""
		}
		return in.mount(fstype, target, fstype, opts.Flags, data)
	}
	if mode == cgroupsv2.Unified {
		return mountTree(trees[0], dest)
	}
	if err := in.mount("tmpfs", dest, "tmpfs", opts.Flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return err
	}
	for _, t := range trees {
		sub := filepath.Join(dest, filepath.Base(t.Mount))
		if err := os.Mkdir(sub, 0o755); err != nil {
			return callError("mkdir("+sub+")", err, "")
		}
		if err := mountTree(t, sub); err != nil {
			return err
		}
	}
	if opts.Flags&unix.MS_RDONLY != 0 {
		return in.mount("", dest, "", unix.MS_REMOUNT|opts.Flags, "mode=755")
	}
	return nil
}

// defaultDevices are the device nodes the runtime-spec requires in every container.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

var devSymlinks = [][2]string{
	{"pts/ptmx", "/dev/ptmx"},
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
}

func (in *Init) createDevices(extra []specs.LinuxDevice) error {
	root := in.Rootfs
	for _, d := range append(append([]specs.LinuxDevice(nil), defaultDevices...), extra...) {
		dir, err := mountns.MkdirInRoot(root, filepath.Dir(d.Path), mountns.Dir)
		if err != nil {
			return &Error{Call: "mknod " + d.Path, Msg: err.Error()}
		}
		path := filepath.Join(dir, filepath.Base(d.Path))
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(d.FileMode.Perm())
		}
		switch d.Type {
		case "c", "u":
			mode |= unix.S_IFCHR
		case "b":
			mode |= unix.S_IFBLK
		case "p":
			mode |= unix.S_IFIFO
		default:
			return &Error{Call: "mknod " + d.Path, Msg: fmt.Sprintf("linux.devices: unknown type %q", d.Type)}
		}
		if newNamespace(in.Spec, specs.UserNamespace) {
			if err := in.bindDevice(d.Path, path); err != nil {
				return err
			}
			continue
		}
		start := time.Now()
		err = unix.Mknod(path, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor))))
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		in.steps.record(fmt.Sprintf("mknod %s %d:%d", d.Path, d.Major, d.Minor), start, err, "glassbox.path", d.Path)
		if err != nil {
			return callError(fmt.Sprintf("mknod(%s, %#o, %d:%d)", path, mode, d.Major, d.Minor), err, "")
		}
		if d.UID != nil || d.GID != nil {
			if err := unix.Chown(path, int(ptrOr(d.UID, 0)), int(ptrOr(d.GID, 0))); err != nil {
				return callError("chown("+path+")", err, "")
			}
		}
	}
	dev, err := mountns.ResolveInRoot(root, "/dev")
	if err != nil {
		return &Error{Call: "symlinks in /dev", Msg: err.Error()}
	}
	start := time.Now()
	for _, l := range devSymlinks {
		link := filepath.Join(dev, filepath.Base(l[1]))
		if err := unix.Symlink(l[0], link); err != nil && !errors.Is(err, unix.EEXIST) {
			in.steps.record("symlink "+l[1], start, err)
			return callError("symlink("+l[0]+", "+link+")", err, "")
		}
	}
	in.steps.record("symlink /dev/ptmx, fd, stdin, stdout, stderr", start, nil)
	return nil
}

func ptrOr(p *uint32, def uint32) uint32 {
	if p == nil {
		return def
	}
	return *p
}

// pivotRoot makes the rootfs the container's "/" and lets go of the host's tree.
func (in *Init) pivotRoot() error {
	root := in.Rootfs
	if err := unix.Chdir(root); err != nil {
		return callError("chdir("+root+")", err, "")
	}
	// pivot_root(".", ".") needs no directory for the old root inside the new one
	// (which may be read-only): the old root is stacked on top of ".".
	start := time.Now()
	err := unix.PivotRoot(".", ".")
	in.steps.record("pivot_root", start, err, "glassbox.mount.new_root", root)
	if err != nil {
		return callError(fmt.Sprintf("pivot_root(%s, %s)", root, root), err, pivotHint(err))
	}
	// Make the old root a slave before detaching it, so that even a Spec asking
	// for shared propagation cannot carry this unmount to the host.
	if err := in.mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	start = time.Now()
	err = unix.Unmount(".", unix.MNT_DETACH)
	in.steps.record("umount2 old root (MNT_DETACH)", start, err)
	if err != nil {
		return callError("umount2(old root, MNT_DETACH)", err, "")
	}
	if err := unix.Chdir("/"); err != nil {
		return callError("chdir(/)", err, "")
	}
	return nil
}

// chrootInto makes the rootfs "/" for a container that shares the host's
// mount namespace, where pivot_root would move the host's own root.
func (in *Init) chrootInto() error {
	if err := unix.Chdir(in.Rootfs); err != nil {
		return callError("chdir("+in.Rootfs+")", err, "")
	}
	start := time.Now()
	err := unix.Chroot(".")
	in.steps.record("chroot (the host's mount namespace: no pivot_root)", start, err, "glassbox.mount.new_root", in.Rootfs)
	if err != nil {
		return callError(fmt.Sprintf("chroot(%s)", in.Rootfs), err, "")
	}
	if err := unix.Chdir("/"); err != nil {
		return callError("chdir(/)", err, "")
	}
	return nil
}

// unmountFromHost undoes the mounts a container without a mount namespace
// of its own made in the host's, below its rootfs: the deepest first.
func unmountFromHost(r *Run) error {
	if spec.HasNamespace(r.Spec, specs.MountNamespace) {
		return nil
	}
	all, err := mountns.Mounts()
	if err != nil {
		return err
	}
	roots := []string{r.Path("rootfs")} // the overlay, or the rootfs in place (OCI)
	if r.Spec.Root != nil {
		roots = append(roots, r.Spec.Root.Path)
	}
	var below []string
	for _, root := range roots {
		for _, m := range all {
			if strings.HasPrefix(m.Mountpoint, root+"/") && !slices.Contains(below, m.Mountpoint) {
				below = append(below, m.Mountpoint)
			}
		}
	}
	slices.SortFunc(below, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var errs []error
	for _, mp := range below {
		start := time.Now()
		err := unix.Unmount(mp, unix.MNT_DETACH)
		r.steps.record("umount2 "+mp+" (MNT_DETACH)", start, err)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, callError("umount2("+mp+", MNT_DETACH)", err, ""))
		}
	}
	return errors.Join(errs...)
}

func pivotHint(err error) string {
	if errors.Is(err, unix.EINVAL) {
		return "pivot_root refuses a shared new root or parent mount, and an initramfs root it cannot move: see /proc/self/mountinfo (shared:N), and boot from a real root filesystem"
	}
	return ""
}

// bindDevice gives a user namespace's container a host device node: the
// kernel refuses mknod(2) of devices there, so an empty file is made and the
// host's node (still reachable: pivot_root comes later) bind-mounted on it.
func (in *Init) bindDevice(host, target string) error {
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return callError("create "+target+" (for a bind mount of "+host+")", err, "")
	}
	f.Close()
	return in.mount(host, target, "", unix.MS_BIND, "")
}

// writeSysctls writes each setting to its /proc/sys file, before /proc/sys is
// made read-only. A key with a "/" is a path already (an interface name may
// hold a dot: net/ipv4/conf/eth0.100/forwarding).
func (in *Init) writeSysctls(sysctl map[string]string) error {
	keys := slices.Sorted(maps.Keys(sysctl))
	for _, key := range keys {
		rel := key
		if !strings.Contains(key, "/") {
			rel = strings.ReplaceAll(key, ".", "/")
		}
		path := filepath.Join("/proc/sys", rel)
		start := time.Now()
		err := os.WriteFile(path, []byte(sysctl[key]), 0)
		in.steps.record("sysctl "+key+"="+sysctl[key], start, err, "glassbox.path", path)
		if err != nil {
			return callError(fmt.Sprintf("write %s=%q", path, sysctl[key]), err, "check linux.sysctl: does this kernel have the setting, and is the value valid?")
		}
	}
	return nil
}

// readonlyPath bind-mounts p onto itself and remounts it read-only.
func (in *Init) readonlyPath(p string) error {
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil // not on this kernel
	}
	if err := in.mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return in.remountBind(p, unix.MS_RDONLY)
}

// maskPath hides p: /dev/null over a file, an empty read-only tmpfs over a directory.
func (in *Init) maskPath(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return callError("stat("+p+")", err, "")
	}
	if fi.IsDir() {
		return in.mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "")
	}
	return in.mount("/dev/null", p, "", unix.MS_BIND, "")
}
