package engine

import (
	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/spec"
)

// Images lists the state root's images.
func (e *Engine) Images() ([]*image.Record, error) {
	s, err := image.Open(e.Root)
	if err != nil {
		return nil, err
	}
	return s.List()
}

// RemoveImage removes a name of an image, or the image when it was its last
// name (and the layers no other image shares); an image a container was made
// from stays unless force.
func (e *Engine) RemoveImage(ref string, force bool) ([]image.Removal, error) {
	s, err := image.Open(e.Root)
	if err != nil {
		return nil, err
	}
	removed, err := s.Remove(ref, force, e.imageInUse)
	for _, rm := range removed {
		if rm.Untagged != "" {
			e.event("image", "untag", rm.Untagged, "name", rm.Untagged)
		}
		if rm.Deleted != "" {
			e.event("image", "delete", rm.Deleted, "name", ref)
		}
	}
	return removed, err
}

// imageInUse says whether a container was made from image id.
func (e *Engine) imageInUse(id string) bool {
	all, _ := container.List(e.Root)
	for _, c := range all {
		if c.Spec != nil && c.Spec.Annotations[spec.ImageAnnotation] == id {
			return true
		}
	}
	return false
}

// TagImage gives an image another name.
func (e *Engine) TagImage(source, target string) error {
	s, err := image.Open(e.Root)
	if err != nil {
		return err
	}
	if err := s.Tag(source, target); err != nil {
		return err
	}
	e.event("image", "tag", source, "name", image.Familiar(target))
	return nil
}
