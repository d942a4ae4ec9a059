package lab

// Lab 20: chroot is not a container. lab start 20 unpacks the busybox image
// into the lab's directory and gives a chroot "runtime" of three lines:
// a mount namespace, /proc, chroot. From inside, /proc/PID/root of any host
// process (the shell that started it: $PPID) is the host's whole tree. glassbox's pid namespace, its own
// /proc and pivot_root (with the old root unmounted) leave nothing up there.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
)

const lab20Dir = "20-chroot"

// The lab's chroot runtime, as the attendee gets it.
const chrootRuntime = `#!/bin/sh
# Lab 20: a "container runtime" made of chroot. A mount namespace of its own
# (so that the /proc mounted for it goes when it ends), the host's /proc,
# and chroot into the rootfs beside this script. No pid namespace, no
# pivot_root: everything above rootfs/ is still there, one path away.
cd "$(dirname "$0")"
exec unshare --mount --propagation private sh -c 'mount -t proc proc rootfs/proc && exec chroot rootfs /bin/sh "$@"' sh "$@"
`

func startChroot(e *Env) (string, error) {
	dir := filepath.Join(e.Home, lab20Dir)
	rootfs := filepath.Join(dir, "rootfs")
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%s must be a directory, not a link", dir)
	}
	if _, err := os.Lstat(rootfs); err != nil {
		store, rec, err := busybox(e.Root)
		if err != nil {
			return "", err
		}
		img, err := store.Image(rec)
		if err != nil {
			return "", err
		}
		// Unpacked beside, then renamed: a rootfs/ is whole or absent.
		tmp, err := os.MkdirTemp(dir, ".rootfs-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)     // gone once renamed
		flat := mutate.Extract(img) // the layers, squashed: one tree
		defer flat.Close()
		if _, err := image.Unpack(flat, tmp); err != nil {
			return "", fmt.Errorf("unpack busybox into %s: %w", rootfs, err)
		}
		os.MkdirAll(filepath.Join(tmp, "proc"), 0o555)
		if err := os.Chmod(tmp, 0o755); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, rootfs); err != nil {
			return "", err
		}
	}
	script := filepath.Join(dir, "chroot-run")
	return "the chroot runtime: " + script, writeIn(dir, "chroot-run", []byte(chrootRuntime), 0o755)
}

func checkChroot(e *Env) []string {
	dir := filepath.Join(e.Home, lab20Dir)
	host, _ := os.ReadFile("/etc/hostname")
	var missing []string
	if escaped, err := os.ReadFile(filepath.Join(dir, "rootfs", "escaped")); err != nil || len(host) == 0 || strings.TrimSpace(string(escaped)) != strings.TrimSpace(string(host)) {
		missing = append(missing, "no rootfs/escaped holding the host's /etc/hostname, read from inside chroot-run")
	}
	c := e.container("lab20")
	if c == nil || c.Status != container.Exited || c.ExitCode != 0 {
		return append(missing, "no container named lab20 that read every /proc/PID/root/etc/hostname it sees and exited 0 (no --rm)")
	}
	if out, _ := e.glassbox("logs", "lab20"); strings.TrimSpace(out) != c.Spec.Hostname {
		missing = append(missing, fmt.Sprintf("lab20 printed %q, not only its own hostname (%s)", strings.TrimSpace(out), c.Spec.Hostname))
	}
	return missing
}
