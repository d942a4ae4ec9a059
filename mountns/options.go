// Package mountns holds the pieces of mount-namespace work that are not a stage
// of their own: turning config.json mount options into mount(2) flags and data,
// and resolving paths inside the container's rootfs without following symlinks
// out of it. The mount stage (stages/mount.go) uses them.
package mountns

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Options is a config.json mount's options split the way mount(2) takes them.
type Options struct {
	Flags       uintptr // MS_* flags for the mount itself ("rw" after "ro" turns MS_RDONLY off)
	Propagation uintptr // MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE (+MS_REC); its own mount(2) call
	Data        string  // filesystem-specific options, passed as mount(2)'s data ("size=64m")
}

// flagOptions map option names to MS_* flags; clear=true means the option turns
// the flag off, as "rw" does for MS_RDONLY.
var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"noatime": {false, unix.MS_NOATIME}, "atime": {true, unix.MS_NOATIME},
	"nodiratime": {false, unix.MS_NODIRATIME}, "diratime": {true, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
}

var propagationOptions = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// OptionNames are the mount options glassbox turns into mount(2) flags and
// propagation, sorted (for the OCI features document).
func OptionNames() []string {
	var names []string
	for n := range flagOptions {
		names = append(names, n)
	}
	for n := range propagationOptions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseOptions splits options into flags, propagation and data; anything that is
// not a known flag is filesystem data ("mode=755", "size=65536k", "newinstance").
func ParseOptions(opts []string) Options {
	var o Options
	var data []string
	for _, opt := range opts {
		if f, ok := flagOptions[opt]; ok {
			if f.clear {
				o.Flags &^= f.flag
			} else {
				o.Flags |= f.flag
			}
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			o.Propagation = p
			continue
		}
		data = append(data, opt)
	}
	o.Data = strings.Join(data, ",")
	return o
}

// Propagation parses a rootfsPropagation value ("" means rprivate).
func Propagation(name string) (uintptr, error) {
	if name == "" {
		return unix.MS_PRIVATE | unix.MS_REC, nil
	}
	if p, ok := propagationOptions[name]; ok {
		return p | unix.MS_REC, nil
	}
	return 0, fmt.Errorf("linux.rootfsPropagation %q: expected private, slave, shared or unbindable (optionally r-prefixed)", name)
}

// FlagNames renders MS_* flags the way a person reads them: "MS_BIND|MS_REC".
func FlagNames(flags uintptr) string {
	names := []struct {
		f uintptr
		n string
	}{
		{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"},
		{unix.MS_NOEXEC, "MS_NOEXEC"}, {unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {unix.MS_REMOUNT, "MS_REMOUNT"},
		{unix.MS_MANDLOCK, "MS_MANDLOCK"}, {unix.MS_DIRSYNC, "MS_DIRSYNC"}, {unix.MS_NOATIME, "MS_NOATIME"},
		{unix.MS_NODIRATIME, "MS_NODIRATIME"}, {unix.MS_BIND, "MS_BIND"}, {unix.MS_MOVE, "MS_MOVE"},
		{unix.MS_REC, "MS_REC"}, {unix.MS_UNBINDABLE, "MS_UNBINDABLE"}, {unix.MS_PRIVATE, "MS_PRIVATE"},
		{unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_SHARED, "MS_SHARED"}, {unix.MS_RELATIME, "MS_RELATIME"},
		{unix.MS_STRICTATIME, "MS_STRICTATIME"},
	}
	var out []string
	for _, n := range names {
		if flags&n.f != 0 {
			out = append(out, n.n)
		}
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, "|")
}
