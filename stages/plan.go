package stages

// Plan: what a stage is about to do, read from the Spec before it runs, for
// run --step. It names the calls and files, in order, the way the stage's
// steps will appear in the trace.

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox-dev/glassbox/cgroupsv2"
	"github.com/glassbox-dev/glassbox/spec"
)

// Plan lists what stage st will do for this run.
func (r *Run) Plan(st *Stage) []string {
	if command := r.Opts.Debug.Replace[st.Name]; command != "" {
		return []string{"your command, instead of the stage (--replace-stage): " + command}
	}
	s := r.Spec
	switch st {
	case Rootfs:
		if r.Opts.OCI.RootfsInPlace {
			return []string{"use root.path in place (OCI): " + s.Root.Path}
		}
		layers := []string{s.Root.Path}
		if more := s.Annotations[spec.LowerDirsAnnotation]; more != "" {
			layers = append(layers, strings.Split(more, ":")...)
		}
		volatile := ""
		if r.Opts.Remove {
			volatile = ",volatile" // nothing of it outlives the run: its unmount syncs nothing
		}
		return []string{
			"mkdir " + r.Path("upper") + ", " + r.Path("work") + ", " + r.Path("rootfs"),
			fmt.Sprintf("mount(\"overlay\", %s, \"overlay\", 0, \"lowerdir=%s,upperdir=…/upper,workdir=…/work%s\")  (%d layer(s), read-only)",
				r.Path("rootfs"), strings.Join(layers, ":"), volatile, len(layers)),
		}
	case Cgroup:
		mode, err := cgroupsv2.Detect()
		if err != nil {
			return []string{err.Error()}
		}
		cg, err := cgroupsv2.Plan(mode, s.Linux.CgroupsPath, r.ID)
		if err != nil {
			return []string{err.Error()}
		}
		plan := []string{fmt.Sprintf("cgroup mode %s", mode)}
		for _, d := range cg.Dirs {
			plan = append(plan, "mkdir "+d)
		}
		settings, _ := cgroupsv2.Settings(s.Linux.Resources, mode != cgroupsv2.Unified)
		for _, set := range settings {
			plan = append(plan, fmt.Sprintf("write %s = %s", set.File, set.Value))
		}
		return plan
	case Unshare:
		var flags uint64
		var joined []string
		for _, ns := range s.Linux.Namespaces {
			if ns.Path != "" {
				joined = append(joined, fmt.Sprintf("setns(%s) in the init", ns.Path))
			} else {
				flags |= uint64(cloneFlag(ns.Type))
			}
		}
		path, _ := InitProgram()
		plan := []string{fmt.Sprintf("clone3(%s|CLONE_INTO_CGROUP) of %s", CloneFlagNames(flags), path)}
		plan = append(plan, joined...)
		if newNamespace(s, specs.CgroupNamespace) {
			plan = append(plan, "unshare(CLONE_NEWCGROUP) in the init, once it is in its cgroup")
		}
		return plan
	case Network:
		mode := s.Annotations[spec.NetworkAnnotation]
		switch network := bridgeNetwork(s); {
		case !newNetNamespace(s):
			return []string{"nothing: the network namespace is the host's or another container's (" + mode + ")"}
		case network == "":
			return []string{"RTM_NEWLINK lo up, in the new network namespace (--network " + mode + ": nothing else)"}
		default:
			plan := []string{
				"RTM_NEWLINK lo up, in the new network namespace",
				"lease an address on network " + network,
				"the network's bridge, if it is not there yet; nftables masquerade for its subnet",
				fmt.Sprintf("RTM_NEWLINK veth gb%s on the bridge, its peer created in the container's namespace as eth0", r.ID[:12]),
				"RTM_NEWADDR on eth0, RTM_NEWLINK eth0 up, RTM_NEWROUTE default via the gateway",
			}
			if ports := s.Annotations[spec.PublishAnnotation]; ports != "" {
				plan = append(plan, "nftables DNAT for "+ports)
			}
			return plan
		}
	case Mount:
		plan := []string{"mount(\"\", \"/\", MS_REC|MS_PRIVATE): nothing propagates back to the host",
			"mount(rootfs, rootfs, MS_BIND|MS_REC): pivot_root needs a mount point"}
		for _, m := range s.Mounts {
			plan = append(plan, fmt.Sprintf("mount %s %s on %s (%s)", m.Type, m.Source, m.Destination, strings.Join(m.Options, ",")))
		}
		plan = append(plan, "mknod the device nodes (null, zero, full, random, urandom, tty, and linux.devices)",
			"pivot_root(\".\", \".\") in "+r.rootfsDir()+", then umount2(old root, MNT_DETACH)",
			fmt.Sprintf("mask %d path(s), make %d read-only", len(s.Linux.MaskedPaths), len(s.Linux.ReadonlyPaths)))
		return plan
	case Exec:
		p := s.Process
		var plan []string
		if newNamespace(s, specs.UTSNamespace) && s.Hostname != "" {
			plan = append(plan, "sethostname("+s.Hostname+")")
		}
		if p.Terminal {
			plan = append(plan, "setsid(), ioctl(0, TIOCSCTTY): the pseudo-terminal becomes the controlling terminal")
		}
		user := s.Annotations[spec.UserAnnotation]
		if user == "" {
			user = fmt.Sprintf("%d:%d", p.User.UID, p.User.GID)
		}
		caps := 0
		if p.Capabilities != nil {
			caps = len(p.Capabilities.Bounding)
		}
		plan = append(plan, "chdir("+p.Cwd+")", "user "+user+": setgroups, setresgid, setresuid",
			fmt.Sprintf("capset: %d capabilities kept, the rest dropped from the bounding set", caps))
		if p.NoNewPrivileges {
			plan = append(plan, "prctl(PR_SET_NO_NEW_PRIVS, 1)")
		}
		plan = append(plan, "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)", fmt.Sprintf("execve(%q)", p.Args))
		return plan
	}
	return nil
}
