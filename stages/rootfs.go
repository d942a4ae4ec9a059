package stages

// Stage rootfs — the container's filesystem, as an overlay.
//
// overlayfs merges directories into one view: a read-only "lower" directory (the
// image) and a writable "upper" directory (this container's changes). Reads fall
// through to the lower layer; the first write to a lower file copies it up
// first; a deletion leaves a "whiteout" (a 0:0 character device) in the upper
// layer. The kernel also needs an empty "work" directory on the same filesystem
// as upper for its atomic copy-ups. One mount(2) call builds it all:
//
//	mount("overlay", "<state>/rootfs", "overlay", 0,
//	      "lowerdir=<image>,upperdir=<state>/upper,workdir=<state>/work")
//
// The source directory is therefore never modified, and many containers can
// share it. The overlay is mounted on the host (where `ls <state>/rootfs` shows
// it, as Docker's graph driver does); the mount stage later makes it the
// container's "/" with pivot_root. Undo: umount2(MNT_DETACH), rmdir.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

var Rootfs = &Stage{
	Name:    "rootfs",
	Purpose: "stack the rootfs read-only under a writable layer with overlayfs",
	Kernel:  "mount(2) type overlay (lowerdir, upperdir, workdir)",
	Host:    mountOverlay,
	Undo:    unmountOverlay,
}

func mountOverlay(r *Run) error {
	lower := r.Spec.Root.Path
	fi, err := os.Stat(lower)
	if err != nil {
		return callError("stat("+lower+")", err, "root.path / --rootfs must name a directory holding the container's files (make rootfs builds a busybox one)")
	}
	if !fi.IsDir() {
		return callError("stat("+lower+")", unix.ENOTDIR, "root.path / --rootfs must be a directory")
	}
	if strings.ContainsAny(lower, ",:") {
		return &Error{Call: "mount(overlay)", Msg: fmt.Sprintf("rootfs path %q contains ',' or ':', which overlayfs options cannot carry", lower)}
	}
	upper, work, merged := r.Path("upper"), r.Path("work"), r.Path("rootfs")
	for _, d := range []string{upper, work, merged} {
		start := time.Now()
		err := os.Mkdir(d, 0o755)
		if errors.Is(err, os.ErrExist) {
			err = nil
		}
		r.steps.record("mkdir "+filepath.Base(d), start, err, "glassbox.path", d)
		if err != nil {
			return callError("mkdir("+d+")", err, "")
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	start := time.Now()
	err = unix.Mount("overlay", merged, "overlay", 0, opts)
	r.steps.record("mount overlay", start, err, "glassbox.mount.target", merged, "glassbox.mount.data", opts)
	if err != nil {
		return callError(fmt.Sprintf("mount(overlay, %s, %s)", merged, opts), err, overlayHint(err))
	}
	return nil
}

func overlayHint(err error) string {
	switch {
	case errors.Is(err, unix.ENODEV):
		return "the kernel has no overlayfs: modprobe overlay"
	case errors.Is(err, unix.EINVAL):
		return "upperdir and workdir must be on one filesystem that supports overlay upper layers (not overlayfs itself); try another --root"
	}
	return ""
}

func unmountOverlay(r *Run) error {
	merged := r.Path("rootfs")
	start := time.Now()
	err := unix.Unmount(merged, unix.MNT_DETACH)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil // not mounted (any more)
	}
	r.steps.record("umount2 overlay", start, err, "glassbox.mount.target", merged)
	if err != nil {
		return callError("umount2("+merged+", MNT_DETACH)", err, "")
	}
	if err := os.Remove(merged); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
