package mountns

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
)

// Mount is one line of /proc/self/mountinfo (proc(5)):
//
//	id parent major:minor root mountpoint options [optional...] - fstype source superoptions
type Mount struct {
	Root       string // the path inside the filesystem that is mounted here
	Mountpoint string
	FSType     string
	Super      string // the superblock's options (a v1 cgroup tree's controllers)
	// Shared: in a peer group ("shared:N" among the optional fields), whose
	// mounts and unmounts propagate to other namespaces.
	Shared bool
}

// Mounts lists this process's mount namespace, in mount order.
func Mounts() ([]Mount, error) {
	f, err := plainfile.Open("/proc/self/mountinfo", os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 6 || sep+3 >= len(fields) {
			continue
		}
		m := Mount{Root: unescapeMountinfo(fields[3]), Mountpoint: unescapeMountinfo(fields[4]), FSType: fields[sep+1], Super: fields[sep+3]}
		for _, opt := range fields[6:sep] {
			m.Shared = m.Shared || strings.HasPrefix(opt, "shared:")
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// MountOf finds the mount that path is on: the longest mount point above it,
// and of several mounts stacked there the last.
func MountOf(path string) (Mount, error) {
	all, err := Mounts()
	if err != nil {
		return Mount{}, err
	}
	path = filepath.Clean(path)
	var found Mount
	for _, m := range all {
		if within(path, m.Mountpoint) && len(m.Mountpoint) >= len(found.Mountpoint) {
			found = m
		}
	}
	return found, nil
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	return dir == "/" || path == dir || strings.HasPrefix(path, dir+"/")
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
