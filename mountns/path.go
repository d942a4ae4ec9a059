package mountns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A container image is untrusted input: its /dev could be a symlink to the host's
// /etc. Mount destinations are therefore resolved with openat2(2) and
// RESOLVE_IN_ROOT, which makes the kernel treat the rootfs as "/" for every
// symlink and ".." on the way, so a destination can never land outside it.

// Kind is what to create at a mount destination that does not exist yet.
type Kind int

const (
	Dir  Kind = iota // mount points for filesystems and directory binds
	File             // mount points for binds of a single file (/dev/null over a masked file)
)

// MkdirInRoot makes sure path (absolute, inside root) exists, creating missing
// parents as directories and the last element as kind, and returns the
// resolved host path to mount on. A dangling symlink on the way (an image's
// /var/run -> /run, say, before /run exists) is followed: its target is
// created, inside the root. The path returned begins with root as given, so
// that what follows is the path inside the root.
func MkdirInRoot(root, path string, kind Kind) (string, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open(%s): %w", root, err)
	}
	defer unix.Close(rootFd)
	if err := mkdirInRoot(rootFd, root, path, kind, 0); err != nil {
		return "", err
	}
	return resolve(rootFd, root, path)
}

// maxSymlinks is the kernel's own limit for one path walk (ELOOP after it).
const maxSymlinks = 40

func mkdirInRoot(rootFd int, root, path string, kind Kind, links int) error {
	parts := strings.Split(strings.Trim(filepath.Clean("/"+path), "/"), "/")
	cur := ""
	for i, name := range parts {
		if name == "" {
			continue
		}
		parent := cur
		cur = cur + "/" + name
		last := i == len(parts)-1
		fd, err := OpenInRoot(rootFd, cur)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("openat2(%s%s, RESOLVE_IN_ROOT): %w", root, cur, err)
		}
		pfd, err := OpenInRoot(rootFd, parent)
		if err != nil {
			return fmt.Errorf("openat2(%s%s, RESOLVE_IN_ROOT): %w", root, parent, err)
		}
		err = create(pfd, name, last && kind == File)
		if errors.Is(err, unix.EEXIST) {
			// The name exists but does not resolve: a dangling symlink.
			var target string
			if target, err = Readlinkat(pfd, name); err == nil {
				if links >= maxSymlinks {
					err = unix.ELOOP
				} else {
					if !filepath.IsAbs(target) {
						target = filepath.Join(parent, target)
					}
					k := Dir
					if last {
						k = kind
					}
					err = mkdirInRoot(rootFd, root, target, k, links+1)
				}
			}
		}
		unix.Close(pfd)
		if err != nil {
			return fmt.Errorf("create %s%s: %w", root, cur, err)
		}
	}
	return nil
}

func create(dirFd int, name string, file bool) error {
	if !file {
		return unix.Mkdirat(dirFd, name, 0o755)
	}
	fd, err := unix.Openat(dirFd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// ResolveInRoot returns the host path that path names inside root, with every
// symlink resolved as if root were "/". The kernel tells the answer: the
// /proc/self/fd link of the descriptor that openat2 returned.
func ResolveInRoot(root, path string) (string, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open(%s): %w", root, err)
	}
	defer unix.Close(rootFd)
	return resolve(rootFd, root, path)
}

// resolve returns root joined with where path leads inside it, every
// symlink followed: the kernel's own answer, read back from the descriptors.
func resolve(rootFd int, root, path string) (string, error) {
	fd, err := OpenInRoot(rootFd, path)
	if err != nil {
		return "", fmt.Errorf("openat2(%s%s, RESOLVE_IN_ROOT): %w", root, path, err)
	}
	defer unix.Close(fd)
	resolved, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", err
	}
	rootPath, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", rootFd))
	if err != nil {
		return "", err
	}
	if rootPath == "/" {
		return filepath.Join(root, resolved), nil
	}
	inside, ok := strings.CutPrefix(resolved, rootPath)
	if !ok || inside != "" && inside[0] != '/' {
		return "", fmt.Errorf("%s%s resolves to %s, outside the root", root, path, resolved)
	}
	return root + inside, nil
}

// OpenDirInRoot returns an O_PATH descriptor of directory path inside the
// root rootFd is open on, creating missing directories on the way (0755),
// with every symlink and ".." resolved inside the root. Image layers are
// unpacked through it, so an entry can never be written outside its layer.
func OpenDirInRoot(rootFd int, path string) (int, error) {
	fd, err := OpenInRoot(rootFd, path)
	if errors.Is(err, unix.ENOENT) {
		if err = mkdirInRoot(rootFd, "", path, Dir, 0); err == nil {
			fd, err = OpenInRoot(rootFd, path)
		}
	}
	return fd, err
}

// OpenInRoot returns an O_PATH descriptor of path inside the root rootFd is
// open on, every symlink and ".." resolved inside it (openat2
// RESOLVE_IN_ROOT); magic links (/proc/self/...) are refused.
func OpenInRoot(rootFd int, path string) (int, error) {
	rel := strings.TrimPrefix(filepath.Clean("/"+path), "/")
	if rel == "" {
		rel = "."
	}
	return unix.Openat2(rootFd, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// Readlinkat reads the symlink name in directory dirFd.
func Readlinkat(dirFd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirFd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
