package spec

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// minMemory is Docker's smallest memory limit: below it a container cannot
// even start its first process reliably.
const minMemory = 6 << 20

// applyResources turns docker run's limit flags into linux.resources; the
// cgroup stage writes them (see cgroupsv2/resources.go for the files).
func applyResources(s *specs.Spec, o RunOptions) error {
	r := &specs.LinuxResources{}
	if o.Memory != "" {
		limit, err := ParseSize(o.Memory)
		if err != nil {
			return fmt.Errorf("--memory %q: %w", o.Memory, err)
		}
		if limit < minMemory {
			return fmt.Errorf("--memory %s: the minimum memory limit is 6m", o.Memory)
		}
		// Docker's default when only -m is given: as much swap as memory.
		swap := 2 * limit
		if o.MemorySwap != "" {
			if swap, err = parseSwap(o.MemorySwap, limit); err != nil {
				return err
			}
		}
		r.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap}
	} else if o.MemorySwap != "" {
		return fmt.Errorf("--memory-swap needs --memory: it is the limit of memory and swap together")
	}
	cpu := &specs.LinuxCPU{}
	if o.CPUs != "" {
		n, err := strconv.ParseFloat(o.CPUs, 64)
		if err != nil || !(n > 0) || math.IsInf(n, 1) { // NaN is not > 0
			return fmt.Errorf("--cpus %q: expected a positive number of CPUs, like 0.5 or 2", o.CPUs)
		}
		if n > float64(runtime.NumCPU()) {
			return fmt.Errorf("--cpus %s: this machine has %d CPUs", o.CPUs, runtime.NumCPU())
		}
		// CFS bandwidth: the cgroup may run quota µs in every period of 100 ms.
		period, quota := uint64(100000), int64(n*100000)
		if quota < 1000 {
			return fmt.Errorf("--cpus %s: the smallest CPU limit is 0.01", o.CPUs)
		}
		cpu.Period, cpu.Quota = &period, &quota
	}
	if o.CPUShares != 0 {
		if o.CPUShares < 2 || o.CPUShares > 262144 {
			return fmt.Errorf("--cpu-shares %d: expected 2 to 262144 (1024 is the default weight)", o.CPUShares)
		}
		shares := uint64(o.CPUShares)
		cpu.Shares = &shares
	}
	if o.CpusetCpus != "" {
		if err := checkCPUList(o.CpusetCpus); err != nil {
			return fmt.Errorf("--cpuset-cpus %q: %w", o.CpusetCpus, err)
		}
		cpu.Cpus = o.CpusetCpus
	}
	if *cpu != (specs.LinuxCPU{}) {
		r.CPU = cpu
	}
	if o.PidsLimit > 0 { // 0 and -1 mean unlimited, as in Docker
		limit := o.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
	if r.Memory != nil || r.CPU != nil || r.Pids != nil {
		if s.Linux.Resources != nil {
			r.Devices = s.Linux.Resources.Devices
		}
		s.Linux.Resources = r
	}
	if o.CgroupParent != "" {
		if strings.Contains(o.CgroupParent, "..") {
			return fmt.Errorf("--cgroup-parent %q: must not contain ..", o.CgroupParent)
		}
		s.Linux.CgroupsPath = filepath.Join(o.CgroupParent, o.ID)
	}
	return nil
}

// parseSwap reads --memory-swap: memory and swap together, or -1 for
// unlimited swap.
func parseSwap(v string, limit int64) (int64, error) {
	if v == "-1" {
		return -1, nil
	}
	swap, err := ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("--memory-swap %q: %w", v, err)
	}
	if swap < limit {
		return 0, fmt.Errorf("--memory-swap %s is smaller than --memory: it is the limit of memory and swap together", v)
	}
	return swap, nil
}

// ParseSize reads a size the way docker run does: a number with an optional
// binary unit, b k m g t (any case, optionally followed by "b" or "ib"):
// 64m = 64 MiB, 1g = 1 GiB, 512 = 512 bytes.
func ParseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	s = strings.TrimSuffix(s, "b")
	s = strings.TrimSuffix(s, "i")
	mult := int64(1)
	if n := len(s); n > 0 {
		if i := strings.IndexByte("kmgt", s[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			s = s[:n-1]
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n < 0 || s == "" || strings.ContainsAny(s, "+-eEnNxXpP_") {
		return 0, fmt.Errorf("expected a size like 64m, 1g or 512k")
	}
	// float64(math.MaxInt64) rounds up to 2^63, itself too large.
	if bytes := n * float64(mult); bytes < float64(math.MaxInt64) {
		return int64(bytes), nil
	}
	return 0, fmt.Errorf("more than the largest size, 8 EiB")
}

// checkCPUList validates a cpuset list ("0-2,4") against the CPUs this
// machine has online, so a typo fails before anything is created.
func checkCPUList(list string) error {
	online := map[int]bool{}
	if data, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if cpus, err := parseCPUList(strings.TrimSpace(string(data))); err == nil {
			for _, c := range cpus {
				online[c] = true
			}
		}
	}
	cpus, err := parseCPUList(list)
	if err != nil {
		return err
	}
	for _, c := range cpus {
		if len(online) > 0 && !online[c] {
			return fmt.Errorf("CPU %d is not online on this machine", c)
		}
	}
	return nil
}

func parseCPUList(list string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("expected CPU numbers and ranges like 0-2,4")
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
