package cgroupsv2

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSettings(t *testing.T) {
	limit, swap, quota, period, shares, pids := int64(64<<20), int64(96<<20), int64(50000), uint64(100000), uint64(512), int64(20)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares, Cpus: "0-1", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: &pids},
	}
	show := func(ss []Setting) string {
		var out []string
		for _, s := range ss {
			out = append(out, fmt.Sprintf("%s/%s=%s", s.Controller, s.File, s.Value))
		}
		return strings.Join(out, " ")
	}
	v2, err := Settings(r, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "memory/memory.max=67108864 memory/memory.swap.max=33554432 cpu/cpu.weight=20 cpu/cpu.max=50000 100000 cpuset/cpuset.cpus=0-1 cpuset/cpuset.mems=0 pids/pids.max=20"
	if got := show(v2); got != want {
		t.Errorf("v2:\n got %s\nwant %s", got, want)
	}
	v1, _ := Settings(r, true)
	want = "memory/memory.limit_in_bytes=67108864 memory/memory.memsw.limit_in_bytes=100663296 cpu/cpu.shares=512 cpu/cpu.cfs_period_us=100000 cpu/cpu.cfs_quota_us=50000 cpuset/cpuset.cpus=0-1 cpuset/cpuset.mems=0 pids/pids.max=20"
	if got := show(v1); got != want {
		t.Errorf("v1:\n got %s\nwant %s", got, want)
	}
	// Unlimited swap, unlimited pids.
	unlimited, none := int64(-1), int64(-1)
	v2, _ = Settings(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &unlimited}, Pids: &specs.LinuxPids{Limit: &none}}, false)
	if got := show(v2); got != "memory/memory.max=67108864 memory/memory.swap.max=max pids/pids.max=max" {
		t.Errorf("unlimited: %s", got)
	}
	weight := uint16(500)
	io := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: &weight,
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 100}},
	}}
	v2, _ = Settings(io, false)
	if got := show(v2); got != "io/io.weight=default 4950 io/io.max=8:0 rbps=1048576 io/io.max=8:16 wiops=100" {
		t.Errorf("blockIO v2: %s", got)
	}
	v1, _ = Settings(io, true)
	if got := show(v1); got != "blkio/blkio.weight=500 blkio/blkio.throttle.read_bps_device=8:0 1048576 blkio/blkio.throttle.write_iops_device=8:16 100" {
		t.Errorf("blockIO v1: %s", got)
	}
	if _, err := Settings(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1m"}}, true); err == nil {
		t.Error("unified on v1 must be refused")
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000, 1: 1, 1 << 20: 10000} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

// Freeze stops a process in the kernel, Kill ends it, with or without
// cgroup.kill (the freeze-then-SIGKILL fallback is what v1 and kernels before
// 5.14 get). Needs root and cgroupfs.
func TestFreezeAndKill(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	mode, err := Detect()
	if err != nil {
		t.Skip("no cgroupfs:", err)
	}
	for _, viaCgroupKill := range []bool{true, false} {
		cg, err := Plan(mode, "", fmt.Sprintf("test-freeze-%d-%v", os.Getpid(), viaCgroupKill))
		if err != nil {
			t.Fatal(err)
		}
		if err := cg.Create(); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := cg.Attach(cmd.Process.Pid, nil); err != nil {
			t.Fatal(err)
		}
		if err := cg.Freeze(); err != nil {
			t.Fatal(err)
		}
		// A frozen busy loop gets no CPU time.
		before := cpuTicks(t, cmd.Process.Pid)
		time.Sleep(100 * time.Millisecond)
		if after := cpuTicks(t, cmd.Process.Pid); after != before {
			t.Errorf("a frozen busy loop ran: utime %d -> %d ticks", before, after)
		}
		if err := cg.Thaw(); err != nil {
			t.Fatal(err)
		}
		if viaCgroupKill {
			err = cg.Kill()
		} else {
			err = cg.freezeAndKill()
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("the loop ended with %v, want killed", err)
		}
		if err := cg.Destroy(); err != nil {
			t.Fatal(err)
		}
	}
}

// cpuTicks is a process's user CPU time (/proc/pid/stat field 14).
func cpuTicks(t *testing.T, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(data), ") ") // the command name may hold spaces
	f := strings.Fields(rest)
	n, _ := strconv.Atoi(f[11])
	return n
}
