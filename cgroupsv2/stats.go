package cgroupsv2

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
)

// Stats are a running container's figures at one moment (glassbox stats),
// from the same control files `docker stats` reads.
type Stats struct {
	CPU         time.Duration // CPU time so far: cpu.stat usage_usec (v2), cpuacct.usage (v1)
	Memory      uint64        // bytes in use, less the page cache the kernel can drop at once (inactive files)
	MemoryLimit uint64        // memory.max (v2), memory.limit_in_bytes (v1); 0: no limit
	Pids        uint64        // pids.current: processes and threads
	ReadBytes   uint64        // io.stat rbytes (v2), blkio.throttle.io_service_bytes Read (v1)
	WriteBytes  uint64        // io.stat wbytes (v2), blkio.throttle.io_service_bytes Write (v1)
}

// noLimit is what v1 reports for an unlimited memory.limit_in_bytes: the
// largest page-aligned int64.
const noLimit = 1<<63 - 4096

// Stats reads the container's figures now. A file this kernel or hierarchy
// lacks leaves its figure at zero.
func (c *Cgroup) Stats() Stats {
	var s Stats
	for _, dir := range c.Dirs {
		if v, ok := fileUint(dir, "cpuacct.usage"); ok {
			s.CPU = time.Duration(v)
		} else if v, ok := fileKey(dir, "cpu.stat", "usage_usec"); ok {
			s.CPU = time.Duration(v) * time.Microsecond
		}
		if v, ok := fileUint(dir, "memory.current"); ok { // v2
			inactive, _ := fileKey(dir, "memory.stat", "inactive_file")
			s.Memory = v - min(v, inactive)
			s.MemoryLimit, _ = fileUint(dir, "memory.max") // "max" does not parse: 0
		}
		if v, ok := fileUint(dir, "memory.usage_in_bytes"); ok { // v1
			inactive, _ := fileKey(dir, "memory.stat", "total_inactive_file")
			s.Memory = v - min(v, inactive)
			if limit, _ := fileUint(dir, "memory.limit_in_bytes"); limit < noLimit {
				s.MemoryLimit = limit
			}
		}
		if v, ok := fileUint(dir, "pids.current"); ok {
			s.Pids = v
		}
		if r, w, ok := ioV2(dir); ok {
			s.ReadBytes, s.WriteBytes = r, w
		} else if r, w, ok := ioV1(dir); ok {
			s.ReadBytes, s.WriteBytes = r, w
		}
	}
	return s
}

// ioV2 sums io.stat's per-device "MAJ:MIN rbytes=… wbytes=… …" lines.
func ioV2(dir string) (read, write uint64, ok bool) {
	data, err := plainfile.ReadFile(filepath.Join(dir, "io.stat"))
	if err != nil {
		return 0, 0, false
	}
	for _, field := range strings.Fields(string(data)) {
		k, v, _ := strings.Cut(field, "=")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "rbytes":
			read += n
		case "wbytes":
			write += n
		}
	}
	return read, write, true
}

// ioV1 sums blkio.throttle.io_service_bytes' "MAJ:MIN Read N" lines.
func ioV1(dir string) (read, write uint64, ok bool) {
	data, err := plainfile.ReadFile(filepath.Join(dir, "blkio.throttle.io_service_bytes"))
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write, true
}

// Procs lists the host pids of every process in the container's cgroup
// (cgroup.procs: one per line, thread group leaders only).
func (c *Cgroup) Procs() ([]int, error) {
	var err error
	for _, dir := range c.Dirs {
		var data []byte
		if data, err = plainfile.ReadFile(filepath.Join(dir, "cgroup.procs")); err != nil {
			continue
		}
		var pids []int
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return pids, nil
	}
	return nil, err
}
