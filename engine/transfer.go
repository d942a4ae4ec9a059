//go:build !lean

package engine

import (
	"context"
	"io"

	"github.com/glassbox-dev/glassbox/image"
)

// The image operations that move images in and out of the store: pull, push,
// save, load. The lean glassbox, which only runs containers, has none of them
// (it hands a pull to glassbox-full), nor the registry client and the
// decompressors they link (cmd/glassbox/lean.go).

// Pull fetches an image from its registry into the store (o: insecure
// registries, the platform, progress).
func (e *Engine) Pull(ctx context.Context, ref string, o image.Registry) (*image.Record, error) {
	s, err := image.Open(e.Root)
	if err != nil {
		return nil, err
	}
	rec, err := s.Pull(ctx, ref, o)
	if err == nil {
		e.event("image", "pull", ref, "name", image.Familiar(ref))
	}
	return rec, err
}

// Push sends an image to the registry its name names, and gives its record.
func (e *Engine) Push(ctx context.Context, ref string, o image.Registry) (*image.Record, error) {
	s, err := image.Open(e.Root)
	if err != nil {
		return nil, err
	}
	rec, err := s.Push(ctx, ref, o)
	if err == nil {
		e.event("image", "push", ref, "name", image.Familiar(ref))
	}
	return rec, err
}

// SaveImages writes images as one OCI image layout tar (docker save).
func (e *Engine) SaveImages(refs []string, w io.Writer) error {
	s, err := image.Open(e.Root)
	if err != nil {
		return err
	}
	return s.Save(refs, w)
}

// LoadImages adds the images of an archive — docker save's, an OCI layout
// tar, or a root filesystem tarball — to the store (docker load).
func (e *Engine) LoadImages(r io.Reader) ([]*image.Record, error) {
	s, err := image.Open(e.Root)
	if err != nil {
		return nil, err
	}
	recs, err := s.ImportFrom(r)
	for _, rec := range recs {
		e.event("image", "load", rec.ID)
	}
	return recs, err
}
