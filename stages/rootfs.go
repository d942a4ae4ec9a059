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
// An image is several lower layers, one directory per layer, stacked in one
// mount: lowerdir=<top>:<…>:<bottom>, the leftmost on top (root.path is the
// top layer; the org.glassbox.rootfs.lowerdirs annotation lists the others).
// The source directories are therefore never modified, and many containers
// share them. The overlay is mounted on the host (where `ls <state>/rootfs` shows
// it, as Docker's graph driver does); the mount stage later makes it the
// container's "/" with pivot_root. Undo: umount2(MNT_DETACH), rmdir. A --rm
// container's overlay is volatile: its unmount syncs nothing to disk.
//
// Under OCI create (glassbox-runc) there is no overlay: root.path is used in
// place, as runc does, since the caller (podman, containerd) already made it
// the container's own writable layer.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
)

var Rootfs = &Stage{
	Name:    "rootfs",
	Purpose: "stack the rootfs read-only under a writable layer with overlayfs",
	Kernel:  "mount(2) type overlay (lowerdir, upperdir, workdir)",
	Host:    mountOverlay,
	Undo:    unmountOverlay,
}

func mountOverlay(r *Run) error {
	if r.Opts.OCI.RootfsInPlace {
		start := time.Now()
		fi, err := os.Stat(r.Spec.Root.Path)
		if err == nil && !fi.IsDir() {
			err = unix.ENOTDIR
		}
		r.steps.record("stat "+r.Spec.Root.Path+": root.path, used in place (OCI)", start, err, "glassbox.path", r.Spec.Root.Path)
		if err != nil {
			return callError("stat("+r.Spec.Root.Path+")", err, "root.path in config.json must name the container's root directory")
		}
		return nil
	}
	layers := []string{r.Spec.Root.Path}
	if more := r.Spec.Annotations[spec.LowerDirsAnnotation]; more != "" {
		layers = append(layers, strings.Split(more, ":")...)
	}
	for i, dir := range layers {
		start := time.Now()
		fi, err := os.Stat(dir)
		if err == nil && !fi.IsDir() {
			err = unix.ENOTDIR
		}
		if r.Spec.Annotations[spec.ImageAnnotation] != "" {
			r.steps.record(fmt.Sprintf("layer %d/%d %s", len(layers)-i, len(layers), layerName(dir)), start, err, "glassbox.path", dir)
		}
		if err != nil {
			return callError("stat("+dir+")", err, "root.path / --rootfs must name a directory holding the container's files (make rootfs builds a busybox one); for an image, glassbox rmi and pull it again")
		}
		if strings.ContainsAny(dir, ",:") {
			return &Error{Call: "mount(overlay)", Msg: fmt.Sprintf("rootfs path %q contains ',' or ':', which overlayfs options cannot carry", dir)}
		}
	}
	lower := strings.Join(layers, ":")
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
	if r.Opts.Remove {
		// Nothing of a --rm container's upper directory outlives it, so
		// nothing of it need reach the disk: volatile (Linux 5.10) skips the
		// syncfs(2) of the upper filesystem that the unmount otherwise does
		// — of the whole filesystem the state root is on: a journal commit,
		// and the others' dirty pages, when other writes wait.
		opts += ",volatile"
	}
	start := time.Now()
	err := unix.Mount("overlay", merged, "overlay", 0, opts)
	if errors.Is(err, unix.EINVAL) && r.Opts.Remove {
		// A kernel before 5.10 knows no volatile: the mount as it was.
		r.steps.record("mount overlay", start, err, "glassbox.mount.target", merged, "glassbox.mount.data", opts)
		opts = strings.TrimSuffix(opts, ",volatile")
		start = time.Now()
		err = unix.Mount("overlay", merged, "overlay", 0, opts)
	}
	r.steps.record("mount overlay", start, err, "glassbox.mount.target", merged, "glassbox.mount.data", opts)
	if err != nil {
		return callError(fmt.Sprintf("mount(overlay, %s, %s)", merged, opts), err, overlayHint(err))
	}
	return nil
}

// layerName shortens a layer directory, named by its diff id, for a step.
func layerName(dir string) string {
	base := filepath.Base(dir)
	if len(base) == 64 {
		return "sha256:" + base[:12]
	}
	return dir
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

// rootfsDir is the container's root directory on the host until pivot_root.
func (r *Run) rootfsDir() string {
	if r.Opts.OCI.RootfsInPlace {
		return r.Spec.Root.Path
	}
	return r.Path("rootfs")
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

// MountRootfs mounts the overlay of a container that does not run — to copy
// files into a created one (docker create, docker cp, docker start) or out of
// an exited one — as this stage would, and returns its directory and the
// undo. The caller holds the container's lock. An OCI container's root.path
// is its filesystem already.
func MountRootfs(c *container.Container) (dir string, unmount func() error, err error) {
	opts := Options{OCI: OCI{RootfsInPlace: c.OCI}}
	r := &Run{Container: c, Opts: opts, steps: stepsFor(opts)} // untraced: no steps
	if err := mountOverlay(r); err != nil {
		return "", nil, err
	}
	if c.OCI {
		return c.Spec.Root.Path, func() error { return nil }, nil
	}
	return r.rootfsDir(), func() error { return unmountOverlay(r) }, nil
}
