package image

// A layer is a tar archive of the changes one build step made. Unpacked into a
// directory of its own, it becomes one overlayfs lower layer, and the formats
// line up:
//
//	in the tar (OCI / Docker)        in the layer directory (overlayfs)
//	dir/.wh.name     deleted file    dir/name: a character device 0:0 (a whiteout)
//	dir/.wh..wh..opq opaque dir      dir with xattr trusted.overlay.opaque="y":
//	                                 nothing of lower layers shows through it
//
// A layer is untrusted input. Every entry is created through a directory
// descriptor opened with openat2(RESOLVE_IN_ROOT) on the layer directory, so
// neither "../" in a name nor a symlink planted by an earlier entry can make
// a write land outside it; names that climb above the layer's root are
// refused outright. Symlinks themselves may point anywhere: they are resolved
// later, inside the container.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/mountns"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// Unpack extracts an uncompressed layer tar into dir (which exists and is
// empty) and returns the number of bytes of file content written.
func Unpack(r io.Reader, dir string) (int64, error) {
	rootFd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open(%s): %w", dir, err)
	}
	defer unix.Close(rootFd)
	return (&unpacker{root: rootFd, dirFd: -1, layer: true}).unpack(r)
}

// ExtractOptions say how a copy's tar is written.
type ExtractOptions struct {
	KeepOwners bool // else every entry is root's (docker cp without -a)
	// FromContainer: the tar is a container's files on their way to the
	// host, which a container must not plant device nodes or set-id
	// programs on: devices are left out, set-uid and set-gid bits cleared.
	FromContainer bool
}

// Extract extracts a tar (docker cp's) into the directory dirFd is open on,
// as Unpack does a layer, but with no whiteouts — a name is a name.
func Extract(r io.Reader, dirFd int, o ExtractOptions) (int64, error) {
	return (&unpacker{root: dirFd, dirFd: -1, ExtractOptions: o}).unpack(r)
}

func (u *unpacker) unpack(r io.Reader) (int64, error) {
	defer u.closeDir()
	rootFd := u.root
	tr := tar.NewReader(r)
	var written int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return written, fmt.Errorf("tar: %w", err)
		}
		n, err := u.entry(hdr, tr)
		written += n
		if err != nil {
			return written, fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	}
	// Directory times last: creating their entries changed them.
	for i := len(u.dirTimes) - 1; i >= 0; i-- {
		d := u.dirTimes[i]
		if fd, err := mountns.OpenDirInRoot(rootFd, d.path); err == nil {
			unix.UtimesNano(procPath(fd, ""), d.times)
			unix.Close(fd)
		}
	}
	return written, nil
}

type unpacker struct {
	layer bool // an image layer: whiteouts become overlayfs's
	ExtractOptions
	root     int
	dirFd    int    // the parent directory of recent entries, kept open
	dirPath  string // its path inside the layer
	dirTimes []dirTime
}

type dirTime struct {
	path  string
	times []unix.Timespec
}

// ErrEscape is a tar entry whose name climbs out of where it is unpacked.
var ErrEscape = errors.New("the name leads outside the directory it is unpacked into (path traversal): refused")

func (u *unpacker) entry(hdr *tar.Header, content io.Reader) (int64, error) {
	name := path.Clean(strings.TrimPrefix(hdr.Name, "/"))
	if name == ".." || strings.HasPrefix(name, "../") {
		return 0, ErrEscape
	}
	if name == "." {
		return 0, nil // the layer's root itself
	}
	parent, base := path.Split(name)
	dirFd, err := u.parent(parent)
	if err != nil {
		return 0, err
	}
	switch {
	case !u.layer:
	case base == opaqueMarker:
		return 0, unix.Setxattr(procPath(dirFd, ""), "trusted.overlay.opaque", []byte("y"), 0)
	case strings.HasPrefix(base, whiteoutPrefix):
		return 0, unix.Mknodat(dirFd, strings.TrimPrefix(base, whiteoutPrefix), unix.S_IFCHR, 0)
	}
	mode := uint32(hdr.Mode & 0o7777)
	if u.FromContainer {
		if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
			return 0, nil
		}
		mode &^= unix.S_ISUID | unix.S_ISGID
	}
	var written int64
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = unix.Mkdirat(dirFd, base, 0o700)
		if errors.Is(err, unix.EEXIST) {
			err = nil // made earlier as a parent, or given twice
		}
		u.dirTimes = append(u.dirTimes, dirTime{name, timespecs(hdr)})
	case tar.TypeReg:
		u.remove(dirFd, base)
		var fd int
		fd, err = unix.Openat(dirFd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == nil {
			f := os.NewFile(uintptr(fd), base)
			written, err = io.Copy(f, content)
			err = errors.Join(err, f.Close())
		}
	case tar.TypeSymlink:
		u.remove(dirFd, base)
		err = unix.Symlinkat(hdr.Linkname, dirFd, base)
	case tar.TypeLink:
		// The target must be inside the layer: resolve it there.
		target := path.Clean(strings.TrimPrefix(hdr.Linkname, "/"))
		if target == ".." || strings.HasPrefix(target, "../") {
			return 0, ErrEscape
		}
		tdir, tbase := path.Split(target)
		var tfd int
		if tfd, err = mountns.OpenDirInRoot(u.root, tdir); err == nil {
			u.remove(dirFd, base)
			err = unix.Linkat(tfd, tbase, dirFd, base, 0)
			unix.Close(tfd)
		}
		return 0, err // a hard link shares its target's inode: no owner or mode of its own
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		u.remove(dirFd, base)
		err = unix.Mknodat(dirFd, base, kind|0o600, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	default:
		return 0, nil // pax/gnu metadata entries are consumed by archive/tar; others carry nothing to create
	}
	if err != nil {
		return written, err
	}
	return written, u.attributes(dirFd, base, hdr, mode)
}

// attributes sets owner, mode, extended attributes and times. chown comes
// first: it clears the set-uid and set-gid bits.
func (u *unpacker) attributes(dirFd int, base string, hdr *tar.Header, mode uint32) error {
	uid, gid := hdr.Uid, hdr.Gid
	if !u.layer && !u.KeepOwners {
		uid, gid = 0, 0
	}
	if err := unix.Fchownat(dirFd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Fchmodat(dirFd, base, mode, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	for key, value := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(key, "SCHILY.xattr."); ok {
			err := unix.Lsetxattr(procPath(dirFd, base), attr, []byte(value), 0)
			// A filesystem may not hold every namespace (tmpfs before 6.6
			// has no user.*): skipped, as Docker does.
			if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
				return fmt.Errorf("setxattr %s: %w", attr, err)
			}
		}
	}
	if hdr.Typeflag != tar.TypeDir {
		unix.UtimesNanoAt(dirFd, base, timespecs(hdr), unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// parent opens (creating if needed) the directory of an entry, reusing the
// last one: a tar lists a directory's entries together.
func (u *unpacker) parent(dir string) (int, error) {
	dir = strings.TrimSuffix(dir, "/")
	if u.dirFd >= 0 && dir == u.dirPath {
		return u.dirFd, nil
	}
	u.closeDir()
	fd, err := mountns.OpenDirInRoot(u.root, dir)
	if err != nil {
		return -1, fmt.Errorf("parent directory %q: %w", dir, err)
	}
	u.dirFd, u.dirPath = fd, dir
	return fd, nil
}

func (u *unpacker) closeDir() {
	if u.dirFd >= 0 {
		unix.Close(u.dirFd)
		u.dirFd = -1
	}
}

// remove clears the way for an entry that replaces an earlier one of the
// same layer (a directory stays: its entries merge).
func (u *unpacker) remove(dirFd int, base string) {
	unix.Unlinkat(dirFd, base, 0)
}

// procPath names base in the directory dirFd through /proc/self/fd: the
// l*xattr calls take paths, not descriptors, and do not follow base itself.
func procPath(dirFd int, base string) string {
	p := fmt.Sprintf("/proc/self/fd/%d", dirFd)
	if base != "" {
		p += "/" + base
	}
	return p
}

func timespecs(hdr *tar.Header) []unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
}
