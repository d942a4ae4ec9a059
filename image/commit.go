//go:build !lean

package image

// A container's changes as a layer (docker commit): its overlay's upper
// directory, walked and written as a tar with the OCI's names for what
// overlayfs writes differently — the reverse of Unpack:
//
//	in the upper directory (overlayfs)        in the layer tar (OCI / Docker)
//	name: a character device 0:0 (a whiteout) dir/.wh.name
//	dir with xattr trusted.overlay.opaque=y   dir/.wh..wh..opq

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// Commit stores a new image: base's layers and, on top, a layer of the
// upper directory, with base's config as edit changes it; tags name it.
func (s *Store) Commit(base *Record, upper string, edit func(*v1.ConfigFile), tags []string) (*Record, error) {
	img, err := s.Image(base)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(s.path(), tmpPrefix()+"commit-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	err = writeUpper(tmp, upper)
	if err = errors.Join(err, tmp.Close()); err != nil {
		return nil, fmt.Errorf("the container's changes as a layer: %w", err)
	}
	layer, err := tarball.LayerFromFile(tmp.Name())
	if err != nil {
		return nil, err
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	edit(cfg)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}
	return s.Put(img, tags, "", nil)
}

func writeUpper(w io.Writer, upper string) error {
	tw := tar.NewWriter(w)
	if _, err := os.Stat(upper); errors.Is(err, fs.ErrNotExist) {
		return tw.Close() // it never ran: it changed nothing
	}
	links := map[uint64]string{}
	err := filepath.WalkDir(upper, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == upper {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, upper+"/"))
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		mtime := time.Unix(st.Mtim.Unix())
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			// A whiteout: the name is deleted from the layers below.
			dir, base := filepath.Split(rel)
			return tw.WriteHeader(&tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mtime})
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil // a socket: nothing a layer holds
		}
		hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = rel, int(st.Uid), int(st.Gid), "", ""
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if first, ok := links[st.Ino]; ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return tw.WriteHeader(hdr)
		}
		if st.Nlink > 1 && fi.Mode().IsRegular() {
			links[st.Ino] = rel
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			if opaque(path) { // nothing below shows through it
				return tw.WriteHeader(&tar.Header{Name: rel + "/" + opaqueMarker, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: mtime})
			}
			return nil
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, hdr.Size)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// opaque says whether overlayfs marked a directory opaque.
func opaque(dir string) bool {
	v := make([]byte, 1)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", v)
	return err == nil && n == 1 && v[0] == 'y'
}
