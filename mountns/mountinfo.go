package mountns

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MountOf finds the mount that path is on, in this process's mount namespace
// (/proc/self/mountinfo, see proc(5)): its mount point, and whether it is
// shared, i.e. in a peer group whose mounts and unmounts propagate to other
// namespaces ("shared:N" among the optional fields).
func MountOf(path string) (mountpoint string, shared bool, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	path = filepath.Clean(path)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		mnt := unescapeMountinfo(fields[4])
		if !within(path, mnt) || len(mnt) < len(mountpoint) {
			continue
		}
		// Later lines are mounted later: for a stacked mount point, the last wins.
		mountpoint, shared = mnt, false
		for _, opt := range fields[6:] {
			if opt == "-" {
				break
			}
			shared = shared || strings.HasPrefix(opt, "shared:")
		}
	}
	return mountpoint, shared, sc.Err()
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
