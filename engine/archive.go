package engine

// A container's files as tar streams: docker cp (a path out, a tar in) and
// docker export (all of it). The container's filesystem is the container's
// to shape — symlinks to /etc/shadow, FIFOs where a file was, a directory
// swapped while it is read — so every path is resolved inside its root
// (openat2 RESOLVE_IN_ROOT), every file is opened relative to its directory's
// descriptor with O_NOFOLLOW, only regular files are read (opened O_NONBLOCK
// and checked again: a FIFO swapped in cannot block the reader), and a walk
// stays on the mount it starts on (as tar --one-file-system): /proc, /sys
// and the volumes of a running container are not walked into.

import (
	"archive/tar"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/mountns"
	"github.com/glassbox-dev/glassbox/stages"
)

// Files opens a container's root directory for a copy, and gives the undo: a
// running container's root as its init sees it (/proc/<pid>/root, with its
// volumes); a created or exited one's overlay, mounted for the while under
// the container's lock, so that it does not start meanwhile.
func (e *Engine) Files(c *container.Container) (rootFd int, release func(), err error) {
	if Running(c) {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/root", c.Pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, nil, fmt.Errorf("container %s: its root: %w", container.ShortID(c.ID), err)
		}
		return fd, func() { unix.Close(fd) }, nil
	}
	if err := c.Lock(); err != nil {
		return -1, nil, fmt.Errorf("container %s: %w", container.ShortID(c.ID), err)
	}
	dir, unmount, err := stages.MountRootfs(c)
	if err != nil {
		c.Unlock()
		return -1, nil, err
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unmount()
		c.Unlock()
		return -1, nil, err
	}
	return fd, func() {
		unix.Close(fd)
		unmount()
		c.Unlock()
	}, nil
}

// PathStat is what docker cp learns of a path before copying.
type PathStat struct {
	Name       string
	Size       int64
	Mode       os.FileMode
	Mtime      time.Time
	LinkTarget string // a symlink's target
}

// ErrPathNotFound: no such path in the container.
var ErrPathNotFound = errors.New("no such file or directory in the container")

// Stat describes path inside the root (its last element not followed).
func Stat(rootFd int, p string) (PathStat, error) {
	dirFd, base, err := openParent(rootFd, p)
	if err != nil {
		return PathStat{}, err
	}
	defer unix.Close(dirFd)
	var st unix.Statx_t
	if err := unix.Statx(dirFd, base, unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, &st); err != nil {
		return PathStat{}, pathError(p, err)
	}
	out := PathStat{Name: path.Base(path.Clean("/" + p)), Size: int64(st.Size), Mode: fileMode(uint32(st.Mode)), Mtime: time.Unix(st.Mtime.Sec, int64(st.Mtime.Nsec))}
	if out.Mode&os.ModeSymlink != 0 {
		out.LinkTarget, _ = mountns.Readlinkat(dirFd, base)
	}
	return out, nil
}

// openParent opens the directory of path inside the root; base is its last
// element ("" for the root itself).
func openParent(rootFd int, p string) (dirFd int, base string, err error) {
	clean := path.Clean("/" + p)
	dir, base := path.Split(clean)
	dirFd, err = mountns.OpenInRoot(rootFd, dir)
	if err != nil {
		return -1, "", pathError(dir, err)
	}
	return dirFd, base, nil
}

func pathError(p string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("%s: %w", p, ErrPathNotFound)
	}
	return fmt.Errorf("%s: %w", p, err)
}

// Archive writes a tar of path inside the root to w: the file, or the
// directory and everything below it on the same mount, named as (its base
// name when as is ""; docker cp); the root itself ("/") with names relative
// to it (docker export).
func Archive(w io.Writer, rootFd int, p, as string) error {
	dirFd, base, err := openParent(rootFd, p)
	if err != nil {
		return err
	}
	defer unix.Close(dirFd)
	a := &archiver{tw: tar.NewWriter(w), links: map[[2]uint64]string{}}
	name := cmp.Or(as, base)
	if base == "" {
		base, name = ".", "" // the root: its entries at the top
	}
	if err := a.add(dirFd, base, name, 0); err != nil {
		return err
	}
	return a.tw.Close()
}

type archiver struct {
	tw    *tar.Writer
	mount uint64               // the mount the walk started on
	links map[[2]uint64]string // files of several links, by device and inode: their first name
}

// add writes the entry base of directory dirFd as name, and, for a
// directory, its entries.
func (a *archiver) add(dirFd int, base, name string, depth int) error {
	var st unix.Statx_t
	err := unix.Statx(dirFd, base, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, &st)
	if errors.Is(err, unix.ENOENT) && depth > 0 {
		return nil // removed while the walk went by
	}
	if err != nil {
		return pathError(name, err)
	}
	if depth == 0 {
		a.mount = st.Mnt_id
	}
	hdr := &tar.Header{Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtime.Sec, int64(st.Mtime.Nsec)), Format: tar.FormatPAX}
	dev := [2]uint64{uint64(unix.Mkdev(st.Dev_major, st.Dev_minor)), st.Ino}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return a.dir(dirFd, base, name, hdr, st.Mnt_id == a.mount, depth)
	case unix.S_IFREG:
		if first, ok := a.links[dev]; ok && st.Nlink > 1 {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return a.tw.WriteHeader(hdr)
		}
		if st.Nlink > 1 {
			a.links[dev] = name
		}
		return a.file(dirFd, base, hdr)
	case unix.S_IFLNK:
		target, err := mountns.Readlinkat(dirFd, base)
		if err != nil {
			return pathError(name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		hdr.Typeflag = map[uint32]byte{unix.S_IFCHR: tar.TypeChar, unix.S_IFBLK: tar.TypeBlock, unix.S_IFIFO: tar.TypeFifo}[uint32(st.Mode)&unix.S_IFMT]
		hdr.Devmajor, hdr.Devminor = int64(st.Rdev_major), int64(st.Rdev_minor)
	default:
		return nil // a socket: nothing a tar can hold
	}
	return a.tw.WriteHeader(hdr)
}

// dir writes a directory, and its entries (sorted) if it is on the walk's
// mount: a mount point below is written empty.
func (a *archiver) dir(parentFd int, base, name string, hdr *tar.Header, sameMount bool, depth int) error {
	if name != "" {
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		if err := a.tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	if !sameMount {
		return nil
	}
	fd, err := unix.Openat(parentFd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathError(name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return pathError(name, err)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := a.add(fd, n, path.Join(name, n), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// file writes a regular file: opened without following a link and without
// blocking, and checked to be the regular file that was stat'ed.
func (a *archiver) file(dirFd int, base string, hdr *tar.Header) error {
	fd, err := unix.Openat(dirFd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathError(hdr.Name, err)
	}
	f := os.NewFile(uintptr(fd), hdr.Name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s: changed while it was read", hdr.Name)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(a.tw, f, st.Size); err != nil {
		return fmt.Errorf("%s: %w (it changed while it was read?)", hdr.Name, err)
	}
	return nil
}

// Extract unpacks a tar into directory dir inside the root (docker cp into a
// container), every entry resolved inside dir; owned by root unless
// keepOwners (docker cp -a).
func Extract(r io.Reader, rootFd int, dir string, keepOwners bool) error {
	fd, err := mountns.OpenInRoot(rootFd, dir)
	if err != nil {
		return pathError(dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &InvalidError{fmt.Errorf("%s: not a directory (the copy goes into one)", dir)}
	}
	_, err = image.Extract(r, fd, image.ExtractOptions{KeepOwners: keepOwners})
	return err
}

// fileMode is a stat mode as Go's os.FileMode (which docker cp's stat header carries).
func fileMode(mode uint32) os.FileMode {
	m := os.FileMode(mode & 0o777)
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= os.ModeDir
	case unix.S_IFLNK:
		m |= os.ModeSymlink
	case unix.S_IFCHR:
		m |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		m |= os.ModeDevice
	case unix.S_IFIFO:
		m |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= os.ModeSocket
	}
	if mode&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}
