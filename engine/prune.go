package engine

// docker container prune, image prune, network prune: what nothing runs or
// uses goes.

import (
	"context"
	"errors"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/netns"
)

// PruneContainers removes every container that does not run (exited, or
// created and never started), and gives their ids.
func (e *Engine) PruneContainers(ctx context.Context) ([]string, error) {
	all, err := e.Containers(true)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range all {
		if c.Status != container.Exited && c.Status != container.Created || Running(c) {
			continue
		}
		if err := e.Remove(ctx, c.ID, false); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.ID)
	}
	return removed, errors.Join(errs...)
}

// PruneImages removes the images no container was made from — only those
// without a name unless all — and then the layers no image refers to.
func (e *Engine) PruneImages(all bool) ([]image.Removal, error) {
	s, err := image.Open(e.Root)
	if err != nil {
		return nil, err
	}
	recs, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []image.Removal
	for _, rec := range recs {
		if len(rec.Tags) > 0 && !all || e.imageInUse(rec.ID) {
			continue
		}
		out, err := e.RemoveImage(rec.ID, true)
		if err != nil {
			return removed, err
		}
		removed = append(removed, out...)
	}
	_, err = s.Prune()
	return removed, err
}

// PruneNetworks removes the networks no container is on (the default bridge
// stays), and gives their names.
func (e *Engine) PruneNetworks() ([]string, error) {
	var removed []string
	err := withNetworks(func(s *netns.Store) error {
		all, err := s.List()
		if err != nil {
			return err
		}
		var errs []error
		for _, n := range all {
			if n.Name == netns.DefaultNetwork {
				continue
			}
			if err := s.Remove(n.Name); err != nil {
				if !errors.Is(err, netns.ErrNetworkInUse) {
					errs = append(errs, err)
				}
				continue
			}
			e.event("network", "destroy", NetworkID(n), "name", n.Name, "type", "bridge")
			removed = append(removed, n.Name)
		}
		return errors.Join(errs...)
	})
	return removed, err
}
