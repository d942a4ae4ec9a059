package engine

// Named volumes (volume/): -v NAME:/path makes one the first time; docker
// volume create, ls, inspect, rm and prune.

import (
	"errors"
	"slices"
	"strings"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/spec"
	"github.com/glassbox-dev/glassbox/volume"
)

// ResolveVolumes turns each -v NAME:/path of o into the volume's directory,
// and gives what makes the volumes that do not exist yet — to call once the
// options have proved valid, so that a refused run leaves no volume behind.
func (e *Engine) ResolveVolumes(o *spec.RunOptions) (makeThem func() error, err error) {
	o.Volumes = slices.Clone(o.Volumes) // the caller's stay as given
	var names []string
	for i, v := range o.Volumes {
		source, rest, _ := strings.Cut(v, ":")
		name, ok := volume.NameOf(source)
		if !ok || rest == "" {
			continue // a host path, or no destination: FromRunOptions says what is wrong
		}
		path, err := volume.PathOf(e.Root, name)
		if err != nil {
			return nil, &InvalidError{err}
		}
		o.Volumes[i] = path + ":" + rest
		names = append(names, name)
	}
	return func() error {
		for _, name := range names {
			vol, made, err := volume.Ensure(e.Root, name, nil)
			if err != nil {
				return err
			}
			if made {
				e.event("volume", "create", vol.Name, "name", vol.Name)
			}
		}
		return nil
	}, nil
}

// Volumes lists the root's volumes.
func (e *Engine) Volumes() ([]*volume.Volume, error) { return volume.List(e.Root) }

// Volume is one volume (volume.ErrNotFound if there is none).
func (e *Engine) Volume(name string) (*volume.Volume, error) { return volume.Get(e.Root, name) }

// CreateVolume makes a volume ("": one named by a random id); one that
// exists is given as it is, as docker volume create does.
func (e *Engine) CreateVolume(name string, labels map[string]string) (*volume.Volume, error) {
	v, made, err := volume.Ensure(e.Root, name, labels)
	if err != nil {
		return nil, &InvalidError{err}
	}
	if made {
		e.event("volume", "create", v.Name, "name", v.Name)
	}
	return v, nil
}

// RemoveVolume removes a volume no container has (running or not).
func (e *Engine) RemoveVolume(name string) error {
	if err := volume.Remove(e.Root, name, e.volumeUsers); err != nil {
		return err
	}
	e.event("volume", "destroy", name, "name", name)
	return nil
}

// PruneVolumes removes every volume no container has.
func (e *Engine) PruneVolumes() ([]string, error) {
	all, err := e.Volumes()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, v := range all {
		if err := e.RemoveVolume(v.Name); err != nil {
			if !errors.Is(err, volume.ErrInUse) {
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, v.Name)
	}
	return removed, errors.Join(errs...)
}

// volumeUsers are the containers (short ids) whose Spec mounts path.
func (e *Engine) volumeUsers(path string) []string {
	all, _ := container.List(e.Root)
	var who []string
	for _, c := range all {
		if c.Spec == nil {
			continue
		}
		for _, m := range c.Spec.Mounts {
			if m.Source == path {
				who = append(who, container.ShortID(c.ID))
				break
			}
		}
	}
	return who
}
