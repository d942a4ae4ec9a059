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
// resolved host path to mount on.
func MkdirInRoot(root, path string, kind Kind) (string, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open(%s): %w", root, err)
	}
	defer unix.Close(rootFd)

	parts := strings.Split(strings.Trim(filepath.Clean(path), "/"), "/")
	cur := ""
	for i, name := range parts {
		if name == "" {
			continue
		}
		parent := cur
		cur = cur + "/" + name
		fd, err := openInRoot(rootFd, cur)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return "", fmt.Errorf("openat2(%s%s, RESOLVE_IN_ROOT): %w", root, cur, err)
		}
		pfd, err := openInRoot(rootFd, parent)
		if err != nil {
			return "", fmt.Errorf("openat2(%s%s, RESOLVE_IN_ROOT): %w", root, parent, err)
		}
		if i == len(parts)-1 && kind == File {
			var f int
			f, err = unix.Openat(pfd, name, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
			if err == nil {
				unix.Close(f)
			}
		} else {
			err = unix.Mkdirat(pfd, name, 0o755)
		}
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return "", fmt.Errorf("create %s%s: %w", root, cur, err)
		}
	}
	return ResolveInRoot(root, path)
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
	fd, err := openInRoot(rootFd, path)
	if err != nil {
		return "", fmt.Errorf("openat2(%s%s, RESOLVE_IN_ROOT): %w", root, path, err)
	}
	defer unix.Close(fd)
	return os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
}

func openInRoot(rootFd int, path string) (int, error) {
	rel := strings.TrimPrefix(filepath.Clean("/"+path), "/")
	if rel == "" {
		rel = "."
	}
	return unix.Openat2(rootFd, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}
