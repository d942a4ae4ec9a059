package trace

// A state root keeps its traces as files, newest last written: at most
// GLASSBOX_TRACE_KEEP of them (default 1000) and GLASSBOX_TRACE_MAX_MB
// megabytes (default 256) — a laptop's week of workshops. Older ones go down
// to 1/32 below the limits when a trace is written, and at `glassbox gc`,
// which also sweeps the temporary files a crash or a full disk left.
//
// Measuring the store reads its directory and stats every trace: 0.2–0.4 ms
// with 400 of them here, on a run's critical path. So one write in keep/32
// prunes (prunes), chosen by its random trace id: a full store goes about
// 1/32 over its limit before a prune takes it 1/32 below.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/atomicfile"
)

// Retention is how many traces, and how many bytes of them, a root keeps.
type Retention struct {
	Keep     int
	MaxBytes int64
}

// RetentionFromEnv is the default retention, or the variables' numbers; a
// value that is not a positive number is refused, not ignored.
func RetentionFromEnv() (Retention, error) {
	r := Retention{Keep: 1000, MaxBytes: 256 << 20}
	if v := os.Getenv("GLASSBOX_TRACE_KEEP"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return r, fmt.Errorf("GLASSBOX_TRACE_KEEP=%s: expected how many traces to keep, 1 or more (default 1000)", v)
		}
		r.Keep = n
	}
	if v := os.Getenv("GLASSBOX_TRACE_MAX_MB"); v != "" {
		mb, err := strconv.ParseInt(v, 10, 64)
		if err != nil || mb < 1 || mb >= 1<<40 {
			return r, fmt.Errorf("GLASSBOX_TRACE_MAX_MB=%s: expected the traces' size limit in megabytes, 1 or more (default 256)", v)
		}
		r.MaxBytes = mb << 20
	}
	return r, nil
}

// prunes says whether the write of trace id (hex) prunes the store: one in
// r.Keep/32 of them, every one for a store of fewer than 64.
func prunes(id string, r Retention) bool {
	n, err := strconv.ParseUint(id[max(0, len(id)-8):], 16, 32)
	return err != nil || n%uint64(max(1, r.Keep/32)) == 0
}

// Prune removes the oldest traces of dir beyond the retention; thorough also
// removes temporary files older than a minute (a writer's own are younger).
// It returns how many files went.
func Prune(dir string, r Retention, thorough bool) (int, error) {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, err
	}
	type file struct {
		path string
		size int64
		mod  time.Time
	}
	var files []file
	var total int64
	removed := 0
	for _, n := range names {
		p := filepath.Join(dir, n)
		fi, err := os.Stat(p)
		if err != nil {
			continue // removed meanwhile
		}
		if strings.HasSuffix(n, ".json") {
			files = append(files, file{p, fi.Size(), fi.ModTime()})
			total += fi.Size()
		}
	}
	if thorough {
		removed += atomicfile.RemoveStale(dir)
	}
	// Over a limit, the oldest go until 1/32 below it: a full store is then
	// pruned every 32nd write, not at each.
	keep, maxBytes := r.Keep, r.MaxBytes
	if len(files) > keep {
		keep -= keep / 32
	}
	if total > maxBytes {
		maxBytes -= maxBytes / 32
	}
	slices.SortFunc(files, func(a, b file) int { return b.mod.Compare(a.mod) }) // newest first
	var kept int64
	for i, f := range files {
		kept += f.size
		// The newest stays, however large: it is the run just traced.
		if i > 0 && (i >= keep || kept > maxBytes) {
			if os.Remove(f.path) == nil {
				removed++
			}
		}
	}
	return removed, nil
}
