// Package image is glassbox's image store: content-addressed blobs, layers
// unpacked once and shared by every image that has them, and image records
// by name:tag and id. The rootfs stage stacks an image's layer directories
// as overlayfs lower layers under each container's writable layer.
//
//	<root>/images/
//	  lock                        flock(2): one writer of index.json at a time
//	  index.json                  image records, and tags → image id
//	  blobs/sha256/<hex>          manifests, configs, compressed layers, as pulled
//	  layers/<diffid hex>/        unpacked layers: overlay lower directories
//
// A blob or a layer appears under its digest only by rename(2), after its
// content was hashed and matched the digest: a pull killed half-way leaves a
// .tmp-* entry that nothing trusts and the next pull or `glassbox rmi`
// removes. Two pulls of one layer race harmlessly: both verify, one rename
// wins.
package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/glassbox-dev/glassbox/internal/plainfile"
)

// Record is one image.
type Record struct {
	ID          string    `json:"id"`       // the config's digest, as Docker shows it
	Manifest    string    `json:"manifest"` // the manifest's digest: what a registry calls the image
	MediaType   string    `json:"mediaType"`
	Tags        []string  `json:"tags,omitempty"`        // index.docker.io/library/busybox:latest
	RepoDigests []string  `json:"repoDigests,omitempty"` // name@sha256:…
	Layers      []Layer   `json:"layers"`                // bottom first
	Created     time.Time `json:"created,omitzero"`      // from the config
	Added       time.Time `json:"added"`
	Platform    string    `json:"platform,omitempty"`
}

// Layer is one layer: its blob (compressed, as stored and pushed) and its
// diff id (the digest of the uncompressed tar, which names the directory).
type Layer struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diffID"`
	Size      int64  `json:"size"` // of the blob
	MediaType string `json:"mediaType"`
}

// Size is the sum of the image's blob sizes.
func (r *Record) Size() int64 {
	var n int64
	for _, l := range r.Layers {
		n += l.Size
	}
	return n
}

// Store is the image store of one state root.
type Store struct {
	dir string
}

type index struct {
	Images map[string]*Record `json:"images"` // by id
	Tags   map[string]string  `json:"tags"`   // full reference → id
}

// Open returns the store under root, making its directories.
func Open(root string) (*Store, error) {
	s := &Store{dir: filepath.Join(root, "images")}
	if err := os.MkdirAll(root, 0o711); err != nil { // searchable: see container.Create
		return nil, fmt.Errorf("image store: %w", err)
	}
	for _, d := range []string{s.dir, s.path("blobs", "sha256"), s.path("layers")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	return s, nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// blobPath is where a blob with digest "sha256:<hex>" lives.
func (s *Store) blobPath(digest string) string {
	return s.path("blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// LayerDir is the unpacked directory of a layer, by diff id.
func (s *Store) LayerDir(diffID string) string {
	return s.path("layers", strings.TrimPrefix(diffID, "sha256:"))
}

// locked runs f with the index loaded under the store's lock, and saves the
// index (atomically) if f says it changed it.
func (s *Store) locked(f func(*index) (bool, error)) error {
	lock, err := os.OpenFile(s.path("lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("flock %s: %w", lock.Name(), err)
	}
	idx, err := s.load()
	if err != nil {
		return err
	}
	changed, err := f(idx)
	if err != nil || !changed {
		return err
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path(tmpPrefix() + "index.json")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	return os.Rename(tmp, s.path("index.json"))
}

func (s *Store) load() (*index, error) {
	idx := &index{Images: map[string]*Record{}, Tags: map[string]string{}}
	data, err := os.ReadFile(s.path("index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := json.Unmarshal(data, idx); err != nil {
		return nil, fmt.Errorf("image store: %s: %w", s.path("index.json"), err)
	}
	return idx, nil
}

// List returns every image, newest first.
func (s *Store) List() ([]*Record, error) {
	idx, err := s.load()
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, r := range idx.Images {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Added.After(out[j].Added) })
	return out, nil
}

// ErrNotFound: no image by that name or id.
var ErrNotFound = errors.New("no such image")

// ErrInUse: a container was made from the image.
var ErrInUse = errors.New("is used by a container")

// Find looks an image up by reference (busybox, busybox:1.36,
// name@sha256:…), by id or id prefix (at least 4 hex digits).
func (s *Store) Find(ref string) (*Record, error) {
	idx, err := s.load()
	if err != nil {
		return nil, err
	}
	return idx.find(ref)
}

func (idx *index) find(ref string) (*Record, error) {
	if name, digest, ok := canonical(ref); ok {
		if id, ok := idx.Tags[name]; ok {
			return idx.Images[id], nil
		}
		if digest != "" {
			for _, rec := range idx.Images {
				if rec.Manifest == digest || rec.ID == digest {
					return rec, nil
				}
			}
		}
	}
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) >= 4 && strings.Trim(hex, "0123456789abcdef") == "" {
		var found *Record
		for id, rec := range idx.Images {
			if strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), hex) {
				if found != nil {
					return nil, fmt.Errorf("image id prefix %q is ambiguous", ref)
				}
				found = rec
			}
		}
		if found != nil {
			return found, nil
		}
	}
	if err := CheckReference(ref); err != nil {
		return nil, err // not a name: say so rather than "not found" (and do not pull it)
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

// Tag points a reference at an image.
func (s *Store) Tag(source, target string) error {
	if err := CheckReference(target); err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	name, digest, ok := canonical(target)
	if !ok || digest != "" {
		return fmt.Errorf("tag %q: expected name[:tag]", target)
	}
	return s.locked(func(idx *index) (bool, error) {
		rec, err := idx.find(source)
		if err != nil {
			return false, err
		}
		idx.tag(rec, name)
		return true, nil
	})
}

// tag moves a reference to rec, taking it from the image that had it.
func (idx *index) tag(rec *Record, ref string) {
	if old, ok := idx.Tags[ref]; ok && old != rec.ID {
		if o := idx.Images[old]; o != nil {
			o.Tags = without(o.Tags, ref)
		}
	}
	idx.Tags[ref] = rec.ID
	if !contains(rec.Tags, ref) {
		rec.Tags = append(rec.Tags, ref)
	}
}

// Remove untags ref, or removes the image ref names: with its last tag, or
// by id, the record goes, and then every blob and layer no other image uses.
// inUse says whether a container uses an image (by id); force removes it
// anyway. It returns what it removed, for the user.
func (s *Store) Remove(ref string, force bool, inUse func(id string) bool) ([]Removal, error) {
	var out []Removal
	err := s.locked(func(idx *index) (bool, error) {
		rec, err := idx.find(ref)
		if err != nil {
			return false, err
		}
		full := ""
		if name, _, ok := canonical(ref); ok && idx.Tags[name] == rec.ID {
			full = name
		}
		if full != "" && len(rec.Tags) > 1 {
			delete(idx.Tags, full)
			rec.Tags = without(rec.Tags, full)
			out = append(out, Removal{Untagged: Familiar(full)})
			return true, nil
		}
		if inUse(rec.ID) && !force {
			return false, fmt.Errorf("image %s %w (glassbox rm it first, or rmi -f)", Familiar(ref), ErrInUse)
		}
		for _, t := range rec.Tags {
			delete(idx.Tags, t)
			out = append(out, Removal{Untagged: Familiar(t)})
		}
		delete(idx.Images, rec.ID)
		out = append(out, Removal{Deleted: rec.ID})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	freed, err := s.Prune()
	for _, layer := range freed {
		out = append(out, Removal{Deleted: layer, Layer: true})
	}
	return out, err
}

// Removal is one thing an image's removal did: a name untagged, or an image
// or a layer deleted.
type Removal struct {
	Untagged string // a name, as a user writes it
	Deleted  string // an image id, or a layer's diff id
	Layer    bool
}

func (r Removal) String() string {
	switch {
	case r.Untagged != "":
		return "untagged " + r.Untagged
	case r.Layer:
		return "deleted layer " + r.Deleted
	}
	return "deleted " + r.Deleted
}

// Prune deletes the blobs and layers no image refers to, and whatever an
// interrupted pull or import left (.tmp-*). It waits for pulls in progress
// (they hold the gc lock shared). It returns the diff ids of the layers it
// deleted.
func (s *Store) Prune() ([]string, error) {
	gc, err := os.OpenFile(s.path("gc.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer gc.Close()
	if err := unix.Flock(int(gc.Fd()), unix.LOCK_EX); err != nil {
		return nil, err
	}
	var out []string
	err = s.locked(func(idx *index) (bool, error) {
		keep := map[string]bool{}
		for _, rec := range idx.Images {
			keep[strings.TrimPrefix(rec.ID, "sha256:")] = true
			keep[strings.TrimPrefix(rec.Manifest, "sha256:")] = true
			for _, l := range rec.Layers {
				keep[strings.TrimPrefix(l.Digest, "sha256:")] = true
				keep[strings.TrimPrefix(l.DiffID, "sha256:")] = true
			}
		}
		var errs []error
		for _, dir := range []string{s.path("blobs", "sha256"), s.path("layers")} {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if keep[e.Name()] {
					continue
				}
				if err := removeAll(filepath.Join(dir, e.Name())); err != nil {
					errs = append(errs, err)
					continue
				}
				if !strings.HasPrefix(e.Name(), ".tmp-") && filepath.Base(dir) == "layers" {
					out = append(out, "sha256:"+e.Name())
				}
			}
		}
		return false, errors.Join(errs...)
	})
	return out, err
}

// removeAll removes a layer directory; an opaque directory's xattr or a
// whiteout device do not stop it, but a read-only mode could: make it
// writable first.
func removeAll(p string) error {
	filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// Familiar writes a reference the way Docker shows it: busybox:latest rather
// than index.docker.io/library/busybox:latest.
func Familiar(ref string) string {
	for _, p := range []string{"index.docker.io/library/", "docker.io/library/", "index.docker.io/", "docker.io/"} {
		if s, ok := strings.CutPrefix(ref, p); ok {
			return s
		}
	}
	return ref
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// Registry options: registries reached over plain HTTP besides the ones
// go-containerregistry already treats so (localhost, 127.0.0.0/8, *.local,
// private addresses — as Docker does for localhost), the platform to pick
// from a multi-platform index, and progress. Here, not in transfer.go: run's
// flags fill them in the lean build too, which hands the pull over.
type Registry struct {
	Insecure []string // --insecure-registry host:port
	Platform string   // os/arch[/variant]; default linux/<this machine>
	Progress Progress
}

// Progress hears how a layer is coming along: its index, the number of
// layers, its digest, bytes so far and its size (what = "download" or
// "unpack"; done when finished). Layers come side by side: it is called from
// several goroutines at once.
type Progress func(i, n int, digest, what string, sofar, size int64, done bool)

// tmpPrefix names a temporary entry after this process.
func tmpPrefix() string { return fmt.Sprintf(".tmp-%d-", os.Getpid()) }

// Config reads an image's config: its command, environment and user, what a
// run needs of it.
func (s *Store) Config(rec *Record) (*v1.ConfigFile, error) {
	f, err := plainfile.Open(s.blobPath(rec.ID), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return v1.ParseConfigFile(f)
}
