package spec

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// An image-based run keeps the OCI contract: root.path is the image's top
// layer directory, and LowerDirsAnnotation lists the layers below it, top
// first, for the rootfs stage to stack with overlayfs. ImageAnnotation is the
// image's id (`glassbox rmi` refuses to remove an image a container uses).
const (
	LowerDirsAnnotation = "org.glassbox.rootfs.lowerdirs"
	ImageAnnotation     = "org.glassbox.image"
	ImageNameAnnotation = "org.glassbox.image.name" // as the user named it, for ps
)

// Image is what a run takes from an image: its layers and its config.
type Image struct {
	ID, Name     string
	Layers       []string // unpacked layer directories, bottom first
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	ExposedPorts []string     // "80/tcp"
	Healthcheck  *Healthcheck // HEALTHCHECK
}

// applyImage stacks the image's layers and applies its config with Docker's
// precedence: --entrypoint replaces the image's Entrypoint and drops its Cmd;
// arguments after the image replace its Cmd; -e, -w and -u win over the
// image's Env, WorkingDir and User.
func applyImage(s *specs.Spec, o *RunOptions) error {
	img := o.Image
	if len(img.Layers) == 0 {
		return fmt.Errorf("image %s has no layers", img.Name)
	}
	top := len(img.Layers) - 1
	s.Root.Path = img.Layers[top]
	var lowers []string
	for i := top - 1; i >= 0; i-- {
		lowers = append(lowers, img.Layers[i])
	}
	if len(lowers) > 0 {
		setAnnotation(s, LowerDirsAnnotation, strings.Join(lowers, ":"))
	}
	setAnnotation(s, ImageAnnotation, img.ID)
	setAnnotation(s, ImageNameAnnotation, img.Name)
	entrypoint, cmd := img.Entrypoint, o.Args
	if o.Entrypoint != nil {
		entrypoint = nil
		if *o.Entrypoint != "" {
			entrypoint = []string{*o.Entrypoint}
		}
	} else if len(cmd) == 0 {
		cmd = img.Cmd
	}
	o.Args = append(append([]string(nil), entrypoint...), cmd...)
	if len(o.Args) == 0 {
		return fmt.Errorf("image %s has no Entrypoint or Cmd: give a command after the image name", img.Name)
	}
	if o.Workdir == "" {
		o.Workdir = img.WorkingDir
	}
	if o.User == "" {
		o.User = img.User
	}
	for _, p := range img.ExposedPorts {
		if o.PublishAll {
			o.Publish = append(o.Publish, p) // an ephemeral host port each
		}
	}
	return nil
}
