//go:build !lean

package engine

// docker commit: an image of a container — its image's layers, and on top
// what it changed (its overlay's upper directory, image.Store.Commit), with
// its command, environment and working directory as the new image's. A
// running container is paused for the while (as docker commit --pause
// does), so that its files do not change under the walk.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/glassbox-dev/glassbox/container"
	"github.com/glassbox-dev/glassbox/image"
	"github.com/glassbox-dev/glassbox/spec"
)

// Commit stores an image of c, named ref if ref is not "".
func (e *Engine) Commit(ctx context.Context, c *container.Container, ref, author, message string) (*image.Record, error) {
	if c.Spec == nil || c.Spec.Annotations[spec.ImageAnnotation] == "" || c.OCI {
		return nil, &InvalidError{fmt.Errorf("container %s was not made from an image (--rootfs, a bundle): there is nothing to commit onto", container.ShortID(c.ID))}
	}
	var tags []string
	if ref != "" {
		if err := image.CheckReference(ref); err != nil { // docker's grammar, as tag and pull check it
			return nil, &InvalidError{err}
		}
		t, err := name.NewTag(ref)
		if err != nil {
			return nil, &InvalidError{fmt.Errorf("%q: not an image name: %w", ref, err)}
		}
		tags = []string{t.Name()}
	}
	s, err := image.Open(e.Root)
	if err != nil {
		return nil, err
	}
	base, err := s.Find(c.Spec.Annotations[spec.ImageAnnotation])
	if err != nil {
		return nil, fmt.Errorf("container %s's image: %w", container.ShortID(c.ID), err)
	}
	if c.Status == container.Running && Running(c) && !Paused(c) {
		if err := e.Pause(ctx, c); err != nil {
			return nil, err
		}
		defer e.Unpause(ctx, c)
	}
	p := c.Spec.Process
	rec, err := s.Commit(base, c.Path("upper"), func(cfg *v1.ConfigFile) {
		cfg.Config.Cmd, cfg.Config.Entrypoint, cfg.Config.WorkingDir = slices.Clone(p.Args), nil, p.Cwd
		// Its environment, less what glassbox gave this run alone.
		cfg.Config.Env = slices.DeleteFunc(slices.Clone(p.Env), func(e string) bool {
			return strings.HasPrefix(e, "TRACEPARENT=") || strings.HasPrefix(e, "HOSTNAME=")
		})
		cfg.Author = author
		cfg.Created = v1.Time{Time: time.Now().UTC()}
		cfg.History = append(cfg.History, v1.History{Created: cfg.Created, CreatedBy: "glassbox commit " + container.ShortID(c.ID), Author: author, Comment: message})
	}, tags)
	if err != nil {
		return nil, err
	}
	e.event("image", "commit", rec.ID, "name", ref, "container", c.ID)
	return rec, nil
}
