//go:build !lean

package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Put stores an image from any source (a registry, a docker save archive, an
// OCI layout, a rootfs tarball): its manifest, config and layer blobs, every
// layer unpacked, and its record, under tags. Blobs and layers it already
// has are not fetched again. Layers come side by side, one per CPU: each is
// fetched, decompressed, hashed and unpacked into a temporary directory of
// its own and renamed into place (two layers with one content meet only
// there: the second finds it made), and the record lists them in order.
func (s *Store) Put(img v1.Image, tags []string, platform string, progress Progress) (*Record, error) {
	release, err := s.busy()
	if err != nil {
		return nil, err
	}
	defer release()
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	mt, _ := img.MediaType()
	manifestDigest, configDigest := digestOf(rawManifest), digestOf(rawConfig)
	if d, err := img.Digest(); err == nil && d.String() != manifestDigest {
		return nil, fmt.Errorf("manifest digest %s does not match its content (%s)", d, manifestDigest)
	}
	if err := s.writeBlob(manifestDigest, bytes.NewReader(rawManifest), int64(len(rawManifest)), nil); err != nil {
		return nil, err
	}
	if err := s.writeBlob(configDigest, bytes.NewReader(rawConfig), int64(len(rawConfig)), nil); err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("the manifest lists %d layers, the config %d", len(layers), len(cfg.RootFS.DiffIDs))
	}
	rec := &Record{
		ID: configDigest, Manifest: manifestDigest, MediaType: string(mt),
		Created: cfg.Created.Time, Added: time.Now().UTC(), Platform: platform,
	}
	rec.Layers = make([]Layer, len(layers))
	g, failed := errgroup.WithContext(context.Background())
	g.SetLimit(runtime.NumCPU())
	for i, l := range layers {
		g.Go(func() (err error) {
			if failed.Err() != nil {
				return nil // another layer failed: the pull is over
			}
			rec.Layers[i], err = s.putLayer(l, cfg.RootFS.DiffIDs[i].String(), i, len(layers), progress)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	err = s.locked(func(idx *index) (bool, error) {
		if old, ok := idx.Images[rec.ID]; ok {
			rec.Tags, rec.RepoDigests = old.Tags, old.RepoDigests
		}
		idx.Images[rec.ID] = rec
		for _, t := range tags {
			if r, err := name.ParseReference(t); err == nil {
				if _, isTag := r.(name.Tag); isTag {
					idx.tag(rec, r.Name())
				}
				d := r.Context().Name() + "@" + manifestDigest
				if !contains(rec.RepoDigests, d) {
					rec.RepoDigests = append(rec.RepoDigests, d)
				}
			}
		}
		return true, nil
	})
	return rec, err
}

// putLayer stores a layer's blob and unpacks it, each only if missing.
func (s *Store) putLayer(l v1.Layer, diffID string, i, n int, progress Progress) (Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return Layer{}, err
	}
	size, _ := l.Size()
	mt, _ := l.MediaType()
	lr := Layer{Digest: d.String(), DiffID: diffID, Size: size, MediaType: string(mt)}
	report := func(what string, sofar int64, done bool) {
		if progress != nil {
			progress(i, n, lr.Digest, what, sofar, size, done)
		}
	}
	if !exists(s.blobPath(lr.Digest)) {
		rc, err := l.Compressed()
		if err != nil {
			return lr, fmt.Errorf("layer %s: %w", lr.Digest, err)
		}
		err = s.writeBlob(lr.Digest, rc, size, func(n int64) { report("download", n, false) })
		rc.Close()
		if err != nil {
			return lr, err
		}
	}
	report("download", size, true)
	if exists(s.LayerDir(diffID)) {
		report("unpack", size, true)
		return lr, nil
	}
	if err := s.unpackLayer(lr, func(n int64) { report("unpack", n, false) }); err != nil {
		return lr, err
	}
	report("unpack", size, true)
	return lr, nil
}

// unpackLayer unpacks a stored blob into layers/<diff id>, by way of a
// temporary directory renamed into place once the uncompressed content
// hashed to the diff id.
func (s *Store) unpackLayer(l Layer, counted func(int64)) error {
	f, err := os.Open(s.blobPath(l.Digest))
	if err != nil {
		return err
	}
	defer f.Close()
	tarStream, err := decompress(bufio.NewReaderSize(&countingReader{r: f, counted: counted}, 1<<16))
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer tarStream.Close()
	tmp, err := os.MkdirTemp(s.path("layers"), tmpPrefix())
	if err != nil {
		return err
	}
	defer removeAll(tmp) // gone after the rename, or the failure's leftovers
	h := sha256.New()
	tee := io.TeeReader(tarStream, h)
	if _, err := Unpack(tee, tmp); err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	io.Copy(io.Discard, tee) // the end-of-archive blocks count too
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != l.DiffID {
		return fmt.Errorf("layer %s: uncompressed content hashes to %s, not its diff id %s", l.Digest, got, l.DiffID)
	}
	os.Chmod(tmp, 0o755) // MkdirTemp makes it 0700; it is the root of a container's view
	if err := os.Rename(tmp, s.LayerDir(l.DiffID)); err != nil && !exists(s.LayerDir(l.DiffID)) {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	return nil
}

// writeBlob stores content under its digest if it hashes to it.
func (s *Store) writeBlob(digest string, r io.Reader, size int64, counted func(int64)) error {
	if exists(s.blobPath(digest)) {
		return nil
	}
	tmp, err := os.CreateTemp(s.path("blobs", "sha256"), tmpPrefix())
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if counted != nil {
		r = &countingReader{r: r, counted: counted}
	}
	if _, err := io.Copy(io.MultiWriter(tmp, h), r); err != nil {
		tmp.Close()
		return fmt.Errorf("blob %s: %w", digest, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("blob %s: content hashes to %s: corrupt or tampered with, refused", digest, got)
	}
	return os.Rename(tmp.Name(), s.blobPath(digest))
}

// decompress sniffs gzip and zstd; anything else is taken as a plain tar.
func decompress(r *bufio.Reader) (io.ReadCloser, error) {
	magic, _ := r.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(r)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1)) // layers come side by side already
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// busy holds the store's gc lock shared while blobs and layers are written,
// so that a concurrent Prune does not take a pull's temporary files. It
// first removes what killed pulls left: temporary entries carry their
// writer's pid.
func (s *Store) busy() (func(), error) {
	f, err := os.OpenFile(s.path("gc.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		f.Close()
		return nil, err
	}
	for _, dir := range []string{s.path("blobs", "sha256"), s.path("layers")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			var pid int
			if _, err := fmt.Sscanf(e.Name(), ".tmp-%d-", &pid); err == nil && unix.Kill(pid, 0) == unix.ESRCH {
				removeAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	return func() { f.Close() }, nil
}

// Image gives a stored image back as a v1.Image (for push and save).
func (s *Store) Image(rec *Record) (v1.Image, error) {
	return partial.CompressedToImage(&storedImage{s: s, rec: rec})
}

type storedImage struct {
	s   *Store
	rec *Record
}

func (i *storedImage) RawConfigFile() ([]byte, error) { return os.ReadFile(i.s.blobPath(i.rec.ID)) }
func (i *storedImage) RawManifest() ([]byte, error)   { return os.ReadFile(i.s.blobPath(i.rec.Manifest)) }
func (i *storedImage) MediaType() (types.MediaType, error) {
	return types.MediaType(i.rec.MediaType), nil
}

func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.rec.Layers {
		if l.Digest == h.String() {
			return &storedLayer{s: i.s, l: l}, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not part of image %s", h, i.rec.ID)
}

type storedLayer struct {
	s *Store
	l Layer
}

func (l *storedLayer) Digest() (v1.Hash, error) { return v1.NewHash(l.l.Digest) }
func (l *storedLayer) Size() (int64, error)     { return l.l.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.l.MediaType), nil
}
func (l *storedLayer) Compressed() (io.ReadCloser, error) { return os.Open(l.s.blobPath(l.l.Digest)) }

type countingReader struct {
	r       io.Reader
	n       int64
	counted func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.counted != nil {
		c.counted(c.n)
	}
	return n, err
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
