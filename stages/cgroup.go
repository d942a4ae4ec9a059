package stages

// Stage cgroup — a control group for the container.
//
// A cgroup is a directory in cgroupfs; the processes listed in its cgroup.procs
// are accounted and limited together, and their children inherit it. This stage
// creates the container's directory in every mounted hierarchy (mkdir(2); on v1,
// cpuset.cpus and cpuset.mems are copied down so the cgroup can hold a task).
// The record lists the directories before they are made, so a killed run can be
// cleaned up by `glassbox gc`.
//
// Then the limits of linux.resources (--memory, --cpus, --pids-limit, …): each
// is a control file write, which the kernel enforces from that moment (see
// cgroupsv2/resources.go for the v1 and v2 files). On v2 the controllers are
// first enabled in cgroup.subtree_control down the path.
//
// Last, which device nodes the container may open or create: devices.deny and
// devices.allow lines on v1, a BPF_CGROUP_DEVICE program on v2 (see
// cgroupsv2/devices.go and cgroupsv2/devicebpf).
//
// The init does not exist yet: the unshare stage clones it into these cgroups
// (CLONE_INTO_CGROUP on v2, from a thread moved into them on v1), so nothing
// the container does escapes accounting or limits.
//
// Undo: read what the container used (peak memory, CPU time, pids, OOM kills),
// kill anything still inside (cgroup.kill, or freeze and SIGKILL), rmdir(2).

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
)

var Cgroup = &Stage{
	Name:    "cgroup",
	Purpose: "create the container's control group (the init is cloned into it)",
	Kernel:  "mkdir(2) in cgroupfs, cgroup.subtree_control (v2), limit files (memory.max, cpu.max, pids.max …), devices.allow/deny (v1) or a BPF_CGROUP_DEVICE program (v2)",
	Host:    createCgroup,
	Undo:    destroyCgroup,
}

func createCgroup(r *Run) error {
	mode, err := cgroupsv2.Detect()
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	cg, err := cgroupsv2.Plan(mode, r.Spec.Linux.CgroupsPath, r.ID)
	if err != nil {
		return &Error{Err: err, Msg: err.Error(), Hint: "check linux.cgroupsPath"}
	}
	cg.Step = r.steps.record
	r.CgroupMode, r.Cgroup, r.Cgroups = mode, cg, cg.Dirs
	if err := r.Save(); err != nil {
		return err
	}
	if err := cg.Create(); err != nil {
		return &Error{Err: err, Msg: err.Error(), Hint: "is cgroupfs mounted read-write, and linux.cgroupsPath a valid path?"}
	}
	settings, err := cgroupsv2.Settings(r.Spec.Linux.Resources, mode != cgroupsv2.Unified)
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	skipped, err := cg.Apply(settings)
	var refused *cgroupsv2.WriteError
	if errors.As(err, &refused) {
		var errno syscall.Errno
		errors.As(refused.Err, &errno)
		return callError(fmt.Sprintf("write(%s, %q)", filepath.Base(refused.Path), refused.Value), refused.Err,
			cmp.Or(cgroupWriteHints[errno], limitHint))
	}
	if err != nil {
		return &Error{Err: err, Msg: err.Error(), Hint: limitHint}
	}
	for _, s := range skipped {
		if s.Skip != "" {
			fmt.Fprintf(r.Opts.IO.Stderr, "glassbox: warning: %s\n", s.Skip)
		} else {
			fmt.Fprintf(r.Opts.IO.Stderr, "glassbox: warning: this kernel has no %s (%s)\n", s.File, s.IfMissing)
		}
	}
	devices, err := cgroupsv2.NewDevicePolicy(deviceRules(r.Spec))
	if err != nil {
		return &Error{Err: err, Msg: err.Error()}
	}
	if err := cg.LimitDevices(devices); err != nil {
		return &Error{Err: err, Msg: err.Error(), Hint: "check linux.resources.devices; on cgroup v2 the kernel needs CONFIG_CGROUP_BPF"}
	}
	return nil
}

// deviceRules are the Spec's device rules followed, as runc does, by rules
// allowing every node the container is given: the runtime-spec's default
// devices, /dev/console, /dev/ptmx and the pty slaves (major 136), and
// linux.devices — unless a rule of the Spec names that device already, with
// the access it is to have (docker run --device /dev/x:/dev/x:r); such a
// device gets "m" besides, for the mount stage's mknod (runc sets the device
// rules only after it, which a pipeline whose cgroup stage comes first
// cannot). A Spec that starts with "deny all" thus still has a working
// /dev/null and terminal.
func deviceRules(s *specs.Spec) []specs.LinuxDeviceCgroup {
	var explicit []specs.LinuxDeviceCgroup
	if s.Linux.Resources != nil {
		explicit = s.Linux.Resources.Devices
	}
	rules := slices.Clone(explicit)
	allowAccess := func(typ string, major, minor int64, access string) {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: access})
	}
	allow := func(typ string, major, minor int64) { allowAccess(typ, major, minor, "rwm") }
	for _, d := range defaultDevices {
		allow(d.Type, d.Major, d.Minor)
	}
	allow("c", 5, 1)    // /dev/console
	allow("c", 5, 2)    // /dev/ptmx
	allow("c", 136, -1) // /dev/pts/*
	for _, d := range s.Linux.Devices {
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		if typ == "p" {
			continue
		}
		i := slices.IndexFunc(explicit, func(r specs.LinuxDeviceCgroup) bool {
			return r.Allow && r.Type == typ && r.Major != nil && *r.Major == d.Major && r.Minor != nil && *r.Minor == d.Minor
		})
		switch {
		case i < 0:
			allow(typ, d.Major, d.Minor)
		case !strings.Contains(explicit[i].Access, "m"):
			allowAccess(typ, d.Major, d.Minor, "m")
		}
	}
	return rules
}

func destroyCgroup(r *Run) error {
	if r.Cgroup == nil {
		return nil
	}
	r.Usage = r.Cgroup.Usage()
	r.OOMKilled = r.Usage.OOMKills > 0
	return r.Cgroup.Destroy()
}

// limitHint is for a limit the kernel refused without a more telling errno.
const limitHint = "check the limit's value; glassbox doctor lists the controllers this host has"

// cgroupWriteHints say why the kernel refuses a control file's value.
var cgroupWriteHints = map[syscall.Errno]string{
	syscall.ENODEV: "a device limit names a block device by major:minor that this kernel does not have: lsblk lists the disks (whole disks, not partitions)",
	syscall.EINVAL: "the kernel refused the value: outside the file's range or format, or beyond what the parent cgroup allows (glassbox explain cgroup)",
	syscall.ERANGE: "the value is out of the file's range",
}
