package cgroupsv2

// Limits are control files: writing a value to one makes the kernel enforce it
// from that moment on, for every process in the cgroup.
//
//	OCI linux.resources   docker run       cgroup v2                  cgroup v1
//	memory.limit          -m/--memory      memory.max                 memory.limit_in_bytes
//	memory.swap (mem+swap) --memory-swap   memory.swap.max = swap−limit memory.memsw.limit_in_bytes
//	memory.reservation    --memory-reservation memory.low            memory.soft_limit_in_bytes
//	memory.swappiness     --memory-swappiness (none: a warning)      memory.swappiness
//	memory.disableOOMKiller --oom-kill-disable (none: a warning)     memory.oom_control = 1
//	memory.kernelTCP      —                (none: a warning)          memory.kmem.tcp.limit_in_bytes
//	memory.kernel         —                never written, as by runc: Linux 5.16 deprecated it
//	cpu.quota, cpu.period --cpus           cpu.max "quota period"     cpu.cfs_quota_us, cpu.cfs_period_us
//	cpu.shares            --cpu-shares     cpu.weight (2…262144 → 1…10000) cpu.shares
//	cpu.cpus, cpu.mems    --cpuset-cpus    cpuset.cpus, cpuset.mems   cpuset.cpus, cpuset.mems
//	pids.limit            --pids-limit     pids.max                   pids.max
//	unified               —                any v2 file, as given      (refused)
//
// On v2 a controller's files appear in a cgroup only once its parent lists the
// controller in cgroup.subtree_control, so every level above the container
// enables what the container needs (see Cgroup.Apply).

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
)

// Setting is one control file to write, and the controller it belongs to.
type Setting struct {
	Controller string // memory, cpu, cpuset, pids
	File       string
	Value      string
	// IfMissing, when set, makes the setting optional: skipped when the
	// kernel lacks the file, with this warning — swap limits need swap
	// accounting, I/O weights an I/O scheduler with weights (BFQ), which some
	// kernels leave out (Docker does the same); v2 has no file for some of
	// v1's settings.
	IfMissing string
	// Skip, when set, is a warning instead of the write: what the Spec asks
	// is gone from Linux (kernel memory limits), and runc skips it too.
	Skip string
}

// Settings translates the Spec's linux.resources into control-file writes,
// for a v2 tree or for v1 trees, in the order they must be written.
func Settings(r *specs.LinuxResources, v1 bool) ([]Setting, error) {
	if r == nil {
		return nil, nil
	}
	var out []Setting
	add := func(ctrl, file, value string) { out = append(out, Setting{Controller: ctrl, File: file, Value: value}) }
	if m := r.Memory; m != nil {
		out = append(out, memoryExtras(m, v1)...)
	}
	if m := r.Memory; m != nil && m.Limit != nil {
		limit := *m.Limit
		if v1 {
			add("memory", "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
		} else {
			add("memory", "memory.max", max2(limit))
		}
		if m.Swap != nil {
			// OCI and Docker count memory+swap; v2 limits swap alone.
			s := Setting{Controller: "memory", File: "memory.memsw.limit_in_bytes", Value: strconv.FormatInt(*m.Swap, 10),
				IfMissing: "no swap accounting: memory is limited without swap"}
			if !v1 {
				s.File, s.Value = "memory.swap.max", "max"
				if *m.Swap >= 0 && limit >= 0 {
					s.Value = strconv.FormatInt(*m.Swap-limit, 10)
				}
			}
			out = append(out, s)
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			if v1 {
				add("cpu", "cpu.shares", strconv.FormatUint(*c.Shares, 10))
			} else {
				add("cpu", "cpu.weight", strconv.FormatUint(SharesToWeight(*c.Shares), 10))
			}
		}
		if c.Quota != nil || c.Period != nil {
			period := uint64(100000)
			if c.Period != nil && *c.Period != 0 {
				period = *c.Period
			}
			quota := int64(-1)
			if c.Quota != nil && *c.Quota > 0 {
				quota = *c.Quota
			}
			if v1 {
				add("cpu", "cpu.cfs_period_us", strconv.FormatUint(period, 10))
				add("cpu", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
			} else {
				add("cpu", "cpu.max", max2(quota)+" "+strconv.FormatUint(period, 10))
			}
		}
		if c.Cpus != "" {
			add("cpuset", "cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" {
			add("cpuset", "cpuset.mems", c.Mems)
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		add("pids", "pids.max", max2(*p.Limit))
	}
	if b := r.BlockIO; b != nil {
		out = append(out, blockIO(b, v1)...)
	}
	if len(r.Unified) > 0 {
		if v1 {
			return nil, fmt.Errorf("linux.resources.unified sets cgroup v2 files, but this host's controllers are on cgroup v1")
		}
		keys := make([]string, 0, len(r.Unified))
		for k := range r.Unified {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ctrl, _, _ := strings.Cut(k, ".")
			add(ctrl, k, r.Unified[k])
		}
	}
	return out, nil
}

// memoryExtras: the reservation, swappiness, the OOM killer switch and the
// kernel memory limits (see the table above).
func memoryExtras(m *specs.LinuxMemory, v1 bool) []Setting {
	var out []Setting
	if m.Reservation != nil {
		s := Setting{Controller: "memory", File: "memory.low", Value: max2(*m.Reservation)}
		if v1 {
			s.File, s.Value = "memory.soft_limit_in_bytes", strconv.FormatInt(*m.Reservation, 10)
		}
		out = append(out, s)
	}
	if m.Swappiness != nil {
		out = append(out, Setting{Controller: "memory", File: "memory.swappiness", Value: strconv.FormatUint(*m.Swappiness, 10),
			IfMissing: "cgroup v2 has no swappiness of a cgroup's own: the system's applies"})
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		out = append(out, Setting{Controller: "memory", File: "memory.oom_control", Value: "1",
			IfMissing: "cgroup v2 cannot keep the OOM killer away from a cgroup: it stays on"})
	}
	if m.KernelTCP != nil {
		out = append(out, Setting{Controller: "memory", File: "memory.kmem.tcp.limit_in_bytes", Value: strconv.FormatInt(*m.KernelTCP, 10),
			IfMissing: "cgroup v2 counts TCP buffers in memory.max: no limit of their own"})
	}
	if m.Kernel != nil {
		out = append(out, Setting{Controller: "memory", File: "memory.kmem.limit_in_bytes",
			Skip: "linux.resources.memory.kernel: kernel memory limits are deprecated since Linux 5.16 and never written (runc skips them too)"})
	}
	return out
}

// blockIO: the weight and the per-device throttles.
//
//	OCI blockIO                 cgroup v1                          cgroup v2
//	weight (10…1000)            blkio.weight (CFQ's; BFQ's blkio.bfq.weight is not written) io.weight "default N" (1…10000)
//	throttleReadBpsDevice       blkio.throttle.read_bps_device "8:0 N"  io.max "8:0 rbps=N"
//	throttleWriteBpsDevice      blkio.throttle.write_bps_device         io.max "8:0 wbps=N"
//	throttleRead/WriteIOPSDevice blkio.throttle.read/write_iops_device  io.max "8:0 riops=N / wiops=N"
func blockIO(b *specs.LinuxBlockIO, v1 bool) []Setting {
	var out []Setting
	if b.Weight != nil {
		s := Setting{Controller: "blkio", File: "blkio.weight", Value: strconv.Itoa(int(*b.Weight)),
			IfMissing: "no I/O weights (the block devices' I/O scheduler has none; BFQ does): the container's I/O is not weighted"}
		if !v1 {
			s.Controller, s.File, s.Value = "io", "io.weight", "default "+strconv.Itoa(int(1+(uint64(*b.Weight)-10)*9999/990))
		}
		out = append(out, s)
	}
	for _, t := range []struct {
		devices   []specs.LinuxThrottleDevice
		file, key string
	}{
		{b.ThrottleReadBpsDevice, "blkio.throttle.read_bps_device", "rbps"},
		{b.ThrottleWriteBpsDevice, "blkio.throttle.write_bps_device", "wbps"},
		{b.ThrottleReadIOPSDevice, "blkio.throttle.read_iops_device", "riops"},
		{b.ThrottleWriteIOPSDevice, "blkio.throttle.write_iops_device", "wiops"},
	} {
		for _, d := range t.devices {
			dev := fmt.Sprintf("%d:%d", d.Major, d.Minor)
			if v1 {
				out = append(out, Setting{Controller: "blkio", File: t.file, Value: fmt.Sprintf("%s %d", dev, d.Rate)})
			} else {
				out = append(out, Setting{Controller: "io", File: "io.max", Value: fmt.Sprintf("%s %s=%d", dev, t.key, d.Rate)})
			}
		}
	}
	return out
}

// SharesToWeight maps v1 cpu.shares (2…262144, default 1024) onto v2
// cpu.weight (1…10000, default 100) linearly, end to end — the mapping runc
// and systemd use, so both runtimes give a container the same weight.
func SharesToWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + (shares-2)*9999/262142
}

// max2 writes a v2 limit: a negative one means none, "max".
func max2(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// Apply writes the settings, each in the tree that carries its controller. On
// v2 it first enables, down the path, the controllers the container needs —
// always memory and pids, so that a run's usage (peak memory, pids) can be
// read — and then writes the limits. It returns the optional settings this
// kernel has no file for.
func (c *Cgroup) Apply(settings []Setting) (skipped []Setting, err error) {
	if !c.v1() {
		need := []string{"memory", "pids"}
		for _, s := range settings {
			if !slices.Contains(need, s.Controller) {
				need = append(need, s.Controller)
			}
		}
		if err := c.enable(need); err != nil {
			return nil, err
		}
	}
	for _, s := range settings {
		if s.Skip != "" {
			skipped = append(skipped, s)
			continue
		}
		dir, err := c.dirFor(s.Controller)
		if err != nil {
			return nil, err
		}
		err = c.write(dir, s.File, s.Value)
		if s.IfMissing != "" && errors.Is(err, fs.ErrNotExist) {
			skipped = append(skipped, s)
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return skipped, nil
}

// v1 says whether the container's controllers are on v1 trees (a v1 or hybrid host).
func (c *Cgroup) v1() bool {
	for _, t := range c.trees {
		if t.V1 {
			return true
		}
	}
	return false
}

// dirFor finds the container's directory in the tree carrying a controller
// for its limits: on a v1 or hybrid host, a v1 tree.
func (c *Cgroup) dirFor(controller string) (string, error) {
	dir, v1, ok := c.treeOf(controller)
	if !ok || (c.v1() && !v1) {
		return "", fmt.Errorf("no cgroup v1 hierarchy with the %s controller is mounted under %s", controller, Mountpoint)
	}
	return dir, nil
}

// enable adds controllers to cgroup.subtree_control at every level above the
// container's v2 directory, from the root down (a controller can be enabled
// in a cgroup only if its parent has it). Levels that already have them are
// only read.
func (c *Cgroup) enable(controllers []string) error {
	dir := c.Dirs[0]
	mount := c.trees[0].Mount
	avail, err := plainfile.ReadFile(filepath.Join(mount, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(mount, "cgroup.controllers"), unwrap(err))
	}
	for _, ctrl := range controllers {
		if !slices.Contains(strings.Fields(string(avail)), ctrl) {
			return fmt.Errorf("the %s controller is not available in the cgroup v2 tree (cgroup.controllers: %s)", ctrl, strings.TrimSpace(string(avail)))
		}
	}
	var levels []string
	for d := filepath.Dir(dir); strings.HasPrefix(d, mount); d = filepath.Dir(d) {
		levels = append(levels, d)
	}
	for i := len(levels) - 1; i >= 0; i-- {
		have, err := plainfile.ReadFile(filepath.Join(levels[i], "cgroup.subtree_control"))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(levels[i], "cgroup.subtree_control"), unwrap(err))
		}
		var add []string
		for _, ctrl := range controllers {
			if !slices.Contains(strings.Fields(string(have)), ctrl) {
				add = append(add, "+"+ctrl)
			}
		}
		if len(add) == 0 {
			continue
		}
		if err := c.write(levels[i], "cgroup.subtree_control", strings.Join(add, " ")); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("%w (the no-internal-process rule: a cgroup with processes cannot hand controllers to children; put containers elsewhere with --cgroup-parent)", err)
			}
			return err
		}
	}
	return nil
}
